import { expect } from 'chai';
import type { Principal } from '../../../server/auth/authenticate.js';
import { assertAdministers, assertOwns, owns, ownTenant, scopeTenant } from '../../../server/auth/policy.js';
import { AppError } from '../../../server/errors.js';

const operator: Principal = { kind: 'operator', name: 'admin' };
const apiKey: Principal = { kind: 'tenant', tenantId: 'tn_a', apiKeyId: 'key_1' };
const admin: Principal = { kind: 'tenant', tenantId: 'tn_a', userId: 'usr_1', admin: true };
const member: Principal = { kind: 'tenant', tenantId: 'tn_a', userId: 'usr_2', admin: false };
const agent: Principal = { kind: 'agent', clusterId: 'cl_1' };
const anonymous: Principal = { kind: 'public' };

/** The kind of AppError `run` throws, else the tenant id it answers, or 'ok' for none. */
function outcome(run: () => unknown): string {
  try {
    const value = run();
    return typeof value === 'string' ? value : 'ok';
  } catch (err) {
    if (err instanceof AppError) return err.kind;
    throw err;
  }
}

describe('policy: a tenant sees only its own', () => {
  const table: ReadonlyArray<{
    who: string;
    p: Principal;
    own: string | undefined;
    ownsA: boolean;
    ownsB: boolean;
    scopeNone: string;
    scopeB: string;
    administersA: string;
  }> = [
    { who: 'the operator', p: operator, own: undefined, ownsA: true, ownsB: true, scopeNone: 'ok', scopeB: 'tn_b', administersA: 'ok' },
    { who: 'a tenant API key', p: apiKey, own: 'tn_a', ownsA: true, ownsB: false, scopeNone: 'tn_a', scopeB: 'tn_a', administersA: 'forbidden' },
    { who: 'a tenant admin user', p: admin, own: 'tn_a', ownsA: true, ownsB: false, scopeNone: 'tn_a', scopeB: 'tn_a', administersA: 'ok' },
    { who: 'a tenant member user', p: member, own: 'tn_a', ownsA: true, ownsB: false, scopeNone: 'tn_a', scopeB: 'tn_a', administersA: 'forbidden' },
    { who: 'an agent', p: agent, own: undefined, ownsA: false, ownsB: false, scopeNone: 'forbidden', scopeB: 'forbidden', administersA: 'forbidden' },
    {
      who: 'an anonymous caller',
      p: anonymous,
      own: undefined,
      ownsA: false,
      ownsB: false,
      scopeNone: 'forbidden',
      scopeB: 'forbidden',
      administersA: 'forbidden',
    },
  ];
  for (const row of table) {
    it(row.who, () => {
      expect(ownTenant(row.p)).to.equal(row.own);
      expect([owns(row.p, 'tn_a'), owns(row.p, 'tn_b')]).to.deep.equal([row.ownsA, row.ownsB]);
      expect(outcome(() => assertOwns(row.p, 'tn_a', 'No tenant has this id.'))).to.equal(row.ownsA ? 'ok' : 'not_found');
      // Another tenant's is not found, never forbidden: its existence is not revealed.
      expect(outcome(() => assertOwns(row.p, 'tn_b', 'No tenant has this id.'))).to.equal(row.ownsB ? 'ok' : 'not_found');
      expect(outcome(() => scopeTenant(row.p, undefined))).to.equal(row.scopeNone);
      expect(outcome(() => scopeTenant(row.p, 'tn_b'))).to.equal(row.scopeB);
      expect(outcome(() => assertAdministers(row.p, 'tn_a', 'no'))).to.equal(row.administersA);
      expect(outcome(() => assertAdministers(row.p, 'tn_b', 'no'))).to.equal(row.p === operator ? 'ok' : 'forbidden');
    });
  }

  it('says what it was told to when it hides something', () => {
    expect(() => assertOwns(apiKey, 'tn_b', 'No workload has this id.')).to.throw(AppError, 'No workload has this id.');
  });
});
