import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.js';

/** A tenant's invoicing details as stored (`""` where none was given). */
export interface BuyerRow {
  readonly tenant_id: string;
  readonly name: string;
  readonly uscc: string | null;
  readonly address: string;
  readonly phone: string;
  readonly bank: string;
  readonly bank_account: string;
}

/** Tenants' invoicing details (the buyer of an e-fapiao). */
export class InvoicingRepository {
  constructor(private readonly db: Kysely<DB>) {}

  /** The tenant's name and invoicing details; undefined for an unknown tenant. */
  async buyer(tenantId: string): Promise<BuyerRow | undefined> {
    const row = await this.db
      .selectFrom('tenants as t')
      .leftJoin('tenant_invoicing as i', 'i.tenant_id', 't.id')
      .select(['t.id as tenant_id', 't.name', 't.uscc', 'i.address', 'i.phone', 'i.bank', 'i.bank_account'])
      .where('t.id', '=', tenantId)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      tenant_id: row.tenant_id,
      name: row.name,
      uscc: row.uscc,
      address: row.address ?? '',
      phone: row.phone ?? '',
      bank: row.bank ?? '',
      bank_account: row.bank_account ?? '',
    };
  }

  async putBuyer(tenantId: string, d: { address: string; phone: string; bank: string; bankAccount: string }, now: Date): Promise<void> {
    const values = { address: d.address, phone: d.phone, bank: d.bank, bank_account: d.bankAccount, updated_at: now };
    await this.db
      .insertInto('tenant_invoicing')
      .values({ tenant_id: tenantId, ...values })
      .onConflict((oc) => oc.column('tenant_id').doUpdateSet(values))
      .execute();
  }
}
