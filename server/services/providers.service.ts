/**
 * Providers — the operators of member clusters (a university, a telecom, a data-center company) —
 * their clusters, and their rate cards: what the city pays per million standard tokens served.
 */
import type { IdGenerator } from '../auth/tokens.js';
import type { RateCardTerms } from '../billing/settlement.js';
import { DEFAULT_TAX_CODE, DEFAULT_VAT_RATE, vatRateText } from '../billing/vat.js';
import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';
import { toPage, type Page, type PageRequest } from '../repositories/paging.js';
import type { ProviderFields, ProviderRow, ProvidersRepository, RateCardRow } from '../repositories/providers.repository.js';

export interface Provider extends ProviderFields {
  readonly id: string;
  /** The clusters it owns, oldest first. */
  readonly clusterIds: readonly string[];
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface RateCard {
  readonly id: string;
  readonly providerId: string;
  readonly terms: RateCardTerms;
  readonly validFrom: string;
  /** Exclusive; null: open-ended. */
  readonly validTo: string | null;
  readonly createdAt: string;
  /** Issue 15: whether SLA credits lower the provider's statement (README "SLA credits"). */
  readonly slaCreditsLowerStatement: boolean;
  /** VAT rate of the statement lines it prices (decimal text); its prices are exclusive of VAT. */
  readonly vatRate: string;
  /** Tax classification code of those lines, 19 digits. */
  readonly taxCode: string;
}

function toProvider(r: ProviderRow, clusterIds: readonly string[]): Provider {
  return {
    id: r.id,
    name: r.name,
    uscc: r.uscc,
    bankName: r.bank_name,
    bankAccount: r.bank_account,
    contactName: r.contact_name,
    contactPhone: r.contact_phone,
    contactEmail: r.contact_email,
    clusterIds,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

export function toRateCard(r: RateCardRow): RateCard {
  return {
    id: r.id,
    providerId: r.provider_id,
    terms: { kind: r.kind, ...(r.terms as object) } as RateCardTerms,
    validFrom: r.valid_from.toISOString(),
    validTo: r.valid_to?.toISOString() ?? null,
    createdAt: r.created_at.toISOString(),
    slaCreditsLowerStatement: r.sla_credits,
    vatRate: vatRateText(r.vat_rate),
    taxCode: r.tax_code,
  };
}

/** The stored terms of a card: its kind is a column, the rest JSON. */
function storedTerms(terms: RateCardTerms): object {
  const { kind: _kind, ...rest } = terms;
  return rest;
}

function duplicate(column: 'name' | 'uscc'): AppError {
  return new AppError('conflict', column === 'name' ? 'A provider has this name already.' : 'A provider has this unified social credit code already.');
}

export class ProvidersService {
  constructor(
    private readonly repo: ProvidersRepository,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    /** The VAT rate of rate cards created without one (TOKENPOOL_VAT_RATE). */
    private readonly defaultVatRate = DEFAULT_VAT_RATE,
  ) {}

  async create(f: ProviderFields): Promise<Provider> {
    const row = await this.repo.insert(this.ids.next('pv'), f, this.clock.now());
    if ('duplicate' in row) throw duplicate(row.duplicate);
    return toProvider(row, []);
  }

  async update(id: string, f: Partial<ProviderFields>): Promise<Provider> {
    const row = await this.repo.update(id, f, this.clock.now());
    if (!row) throw notFound();
    if ('duplicate' in row) throw duplicate(row.duplicate);
    return toProvider(row, (await this.repo.clustersOf([id])).get(id) ?? []);
  }

  async get(id: string): Promise<Provider> {
    const row = await this.repo.get(id);
    if (!row) throw notFound();
    return toProvider(row, (await this.repo.clustersOf([id])).get(id) ?? []);
  }

  async list(page: PageRequest): Promise<Page<Provider>> {
    const rows = await this.repo.list(page);
    const clusters = await this.repo.clustersOf(rows.map((r) => r.id));
    return toPage(rows, page.limit, (r) => toProvider(r, clusters.get(r.id) ?? []));
  }

  /** Deletes a provider that owns no cluster and has no statement (409 otherwise). */
  async remove(id: string): Promise<void> {
    const result = await this.repo.remove(id);
    if (result === 'missing') throw notFound();
    if (result === 'in_use')
      throw new AppError('conflict', 'The provider owns clusters or has statements: release its clusters first; a provider with statements stays.');
  }

  /** Sets the provider that owns a cluster (`null`: none). 404 unknown cluster; 422 unknown provider. */
  async setClusterProvider(clusterId: string, providerId: string | null): Promise<{ clusterId: string; providerId: string | null }> {
    if (providerId !== null && !(await this.repo.get(providerId))) {
      throw new AppError('unprocessable', 'No provider has this id.', [{ path: 'providerId', message: 'unknown provider' }]);
    }
    if (!(await this.repo.setClusterProvider(clusterId, providerId))) throw new AppError('not_found', 'No cluster has this id.');
    return { clusterId, providerId };
  }

  /** Adds a rate card; 409 when its validity overlaps another card of the provider's. */
  async addRateCard(
    providerId: string,
    card: {
      terms: RateCardTerms;
      validFrom?: Date | undefined;
      validTo?: Date | null | undefined;
      slaCreditsLowerStatement?: boolean | undefined;
      /** Absent: TOKENPOOL_VAT_RATE and the default tax code, as for plans. */
      vatRate?: string | undefined;
      taxCode?: string | undefined;
    },
  ): Promise<RateCard> {
    const validFrom = card.validFrom ?? this.clock.now();
    const validTo = card.validTo ?? null;
    if (validTo !== null && validTo.getTime() <= validFrom.getTime()) {
      throw new AppError('invalid', 'A rate card must end after it begins.', [{ path: 'validTo', message: 'must be later than validFrom' }]);
    }
    if (card.terms.kind === 'device_class') {
      const seen = new Set<string>();
      card.terms.prices.forEach((p, i) => {
        if (seen.has(p.match)) throw new AppError('invalid', 'A device class is priced twice.', [{ path: `terms.prices.${i}.match`, message: 'priced twice' }]);
        seen.add(p.match);
      });
    }
    const row = await this.repo.insertRateCard({
      id: this.ids.next('rc'),
      providerId,
      kind: card.terms.kind,
      terms: storedTerms(card.terms),
      validFrom,
      validTo,
      now: this.clock.now(),
      slaCredits: card.slaCreditsLowerStatement,
      vatRate: card.vatRate ?? this.defaultVatRate,
      taxCode: card.taxCode ?? DEFAULT_TAX_CODE,
    });
    if (row === 'missing') throw notFound();
    if ('overlaps' in row) {
      throw new AppError('conflict', `The rate card's validity overlaps rate card ${row.overlaps.id} (from ${row.overlaps.valid_from.toISOString()}).`);
    }
    return toRateCard(row);
  }

  async rateCards(providerId: string): Promise<RateCard[]> {
    if (!(await this.repo.get(providerId))) throw notFound();
    return (await this.repo.rateCards(providerId)).map(toRateCard);
  }

  /** Deletes a rate card no statement has paid by (409 otherwise). */
  async removeRateCard(providerId: string, id: string): Promise<void> {
    const result = await this.repo.removeRateCard(providerId, id);
    if (result === 'missing') throw new AppError('not_found', 'The provider has no rate card with this id.');
    if (result === 'in_use') throw new AppError('conflict', 'A statement pays by this rate card; add a new card from a later date instead.');
  }
}

function notFound(): AppError {
  return new AppError('not_found', 'No provider has this id.');
}
