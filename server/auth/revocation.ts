/**
 * Revocation that holds on every process: a credential that stopped working (an API key revoked,
 * an agent token replaced or its cluster removed) leaves this process's credential cache at once,
 * and is published on the credentials channel so that every other replica's cache drops it too.
 * Sessions need none of this: they are read from the database on every request.
 */
import type { DomainEvents, EventBus } from '../events.js';
import type { Logger } from '../log.js';
import type { CredentialNotifier } from '../scheduling/notifier.js';
import type { Authenticator, Principal } from './authenticate.js';

type Revoked = DomainEvents['credential.revoked'];

function matches(c: Revoked): (p: Principal) => boolean {
  return c.kind === 'agent' ? (p) => p.kind === 'agent' && p.clusterId === c.clusterId : (p) => p.kind === 'tenant' && p.apiKeyId === c.apiKeyId;
}

/** The credential a payload names, or undefined for one this version cannot read. */
export function parseRevoked(payload: string): Revoked | undefined {
  try {
    const v = JSON.parse(payload) as { kind?: unknown; apiKeyId?: unknown; clusterId?: unknown };
    if (v.kind === 'api_key' && typeof v.apiKeyId === 'string') return { kind: 'api_key', apiKeyId: v.apiKeyId };
    if (v.kind === 'agent' && typeof v.clusterId === 'string') return { kind: 'agent', clusterId: v.clusterId };
  } catch {
    // Not JSON: handled below as a credential this version cannot read.
  }
  return undefined;
}

/**
 * Wires revocation: local `credential.revoked` events forget at once and are published; what any
 * replica publishes is forgotten here. Without a notifier (PGlite, one process) only the first.
 * When listening (re)starts, or a payload cannot be read, the whole cache is dropped: something
 * may have been revoked that this process did not hear about, and a cache miss costs one read.
 * `alsoRevoked` hears every revocation, local or published (what outlives a request, such as an
 * agent's tunnel, ends with its credential).
 */
export function shareRevocations(
  events: EventBus,
  auth: Authenticator,
  notifier: CredentialNotifier | undefined,
  log: Logger,
  alsoRevoked?: (c: Revoked) => void,
): void {
  events.on('credential.revoked', (c) => {
    auth.forget(matches(c));
    alsoRevoked?.(c);
    notifier?.revoked(JSON.stringify(c)).catch((err: unknown) => log.warn('could not tell other replicas of a revoked credential', { error: String(err) }));
  });
  notifier?.onRevoked((payload) => {
    const c = parseRevoked(payload);
    auth.forget(c ? matches(c) : () => true);
    if (c) alsoRevoked?.(c);
  });
  notifier?.onListening(() => auth.forget(() => true));
}
