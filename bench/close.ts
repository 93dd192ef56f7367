/**
 * The month close on PostgreSQL, both ways: 10,000 tenants, 200 providers, 1,000,000 usage events,
 * closed through the HTTP API of the compiled server (POST /api/v1/billing/close). The data is
 * written straight into the tables; the close is what is timed.
 *
 * - Tenants: half government, postpaid, on a monthly package (periodic plan, subscriptions starting
 *   on different days); half enterprise on a per-token plan (unit), of which half prepaid — each
 *   topped up through the ledger (a `top_up` payment and its entry: cash / prepaid), some by more than
 *   the month costs, some by less — and half postpaid.
 * - Providers: 200, owning 1–3 clusters each (400 in all), each with a rate card valid over the
 *   month, the three kinds in turn: flat, per device class or vendor, revenue share.
 * - Events: 1,000,000 in the month, attributed as the gateway attributes them (migration 0022):
 *   a shared workload per model, served by a placement on one of the clusters (`placement_id`); one
 *   in ten without a placement, as agents report (the close then finds the workload's latest
 *   placement on the cluster); one in a hundred the platform's own traffic (`tn_shared`: paid to the
 *   provider, invoiced to nobody). `seq` is drawn as ingestion draws it (migration 0028): one value
 *   per inserting statement, here one per 1,000 events.
 *
 * Printed (one JSON line): `seconds`, the close's wall time as the API client sees it; `invoices`,
 * `statements`, `journalEntries`, `postings`, what that close made (rows counted in the database
 * before and after it), and `entriesByKind` (all entries but the seeded top-ups: `invoice` per
 * non-zero invoice, `prepaid_draw` per prepaid invoice its balance paid, `statement` per
 * statement); `trialBalance`, the sum of every posting (must be "0.00") and
 * `unbalancedEntries`; `statementsNotSummingToLines`, statements whose total is not the sum of
 * their lines' amounts (must be 0); `repeatSeconds`, a second close of the same period (issues
 * nothing: idempotent); `seedSeconds`, writing the data.
 */
import pg from 'pg';
import { ADMIN, api, scratchOrSkip, startServer } from './lib.js';
import { Calendar, previousPeriod } from '../server/billing/periods.js';
import { usageStdSql } from '../scheduler/capacity.js';

const TENANTS = Number(process.env.BENCH_TENANTS ?? 10_000);
const PROVIDERS = Number(process.env.BENCH_PROVIDERS ?? 200);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const TZ = 'Asia/Shanghai';
/** Events per seq value: as an ingestion statement draws one for its batch. */
const BATCH = 1000;

export async function benchClose(): Promise<void> {
  const scratch = await scratchOrSkip('close', 'tp_bench_close');
  if (!scratch) return;
  const server = await startServer(scratch.url, { TOKENPOOL_TIMEZONE: TZ });
  const db = new pg.Client({ connectionString: scratch.url });
  await db.connect();
  const count = async (table: string): Promise<number> => Number((await db.query(`SELECT count(*)::int8 AS n FROM ${table}`)).rows[0].n);
  try {
    const calendar = new Calendar(TZ);
    const period = previousPeriod(calendar.periodOf(new Date()));
    const { start, end } = calendar.monthBounds(period);
    const gov = await api(server.base, ADMIN, 'POST', '/api/v1/plans', {
      name: 'gov-standard',
      type: 'periodic',
      period: 'month',
      fee: '10000.00',
      includedStd: 1_000_000_000,
      overagePricePerMillionStd: '8.00',
    });
    const unit = await api(server.base, ADMIN, 'POST', '/api/v1/plans', { name: 'enterprise-tokens', type: 'unit', pricePerMillionStd: '12.00' });
    const seedStarted = performance.now();
    const at = start.toISOString();

    // Tenants: g even government (periodic plan), g odd enterprise (unit plan); g % 4 = 1 prepaid.
    await db.query(
      `INSERT INTO tenants (id, name, kind, billing_mode, created_at)
       SELECT 'tn_b_' || g, 'tenant ' || g, CASE WHEN g % 2 = 0 THEN 'government' ELSE 'enterprise' END,
              CASE WHEN g % 4 = 1 THEN 'prepaid' ELSE 'postpaid' END, now()
         FROM generate_series(1, $1::int) g`,
      [TENANTS],
    );
    await db.query(
      `INSERT INTO tenants (id, name, kind, created_at) VALUES ('tn_shared', 'Tokenpool shared services', 'government', now()) ON CONFLICT (id) DO NOTHING`,
    );
    await db.query(
      `INSERT INTO subscriptions (id, tenant_id, plan_id, starts_at, created_at)
       SELECT 'sub_b_' || g, 'tn_b_' || g, CASE WHEN g % 2 = 0 THEN $2 ELSE $3 END,
              $4::timestamptz + CASE WHEN g % 2 = 0 THEN (g % 20) * interval '1 day' ELSE interval '0' END, now()
         FROM generate_series(1, $1::int) g`,
      [TENANTS, gov.id, unit.id, at],
    );
    // Top-ups of the prepaid tenants through the ledger: a payment and its balanced entry each, in
    // one transaction (the database checks each entry's balance at commit).
    await db.query('BEGIN');
    await db.query(
      `INSERT INTO payments (id, kind, account, tenant_id, amount, received_at, reference, source, created_at)
       SELECT 'pay_b_' || g, 'top_up', 'prepaid', 'tn_b_' || g, 2 + (g % 7) * 3, $2::timestamptz, 'topup-b-' || g, 'api', now()
         FROM generate_series(1, $1::int) g WHERE g % 4 = 1`,
      [TENANTS, at],
    );
    await db.query(`INSERT INTO ledger_accounts (id, kind, tenant_id, created_at) SELECT 'prepaid:' || tenant_id, 'prepaid', tenant_id, now() FROM payments`);
    await db.query(
      `INSERT INTO journal_entries (id, kind, tenant_id, payment_id, description, booked_at, created_at)
       SELECT id || '_0', 'top_up', tenant_id, id, 'top-up ' || reference, received_at, now() FROM payments ORDER BY id`,
    );
    await db.query(
      `INSERT INTO postings (entry_id, account_id, amount)
       SELECT p.id || '_0', v.account, v.amount FROM payments p,
              LATERAL (VALUES ('cash', p.amount, 1), ('prepaid:' || p.tenant_id, -p.amount, 2)) AS v(account, amount, n)
        ORDER BY p.id, v.n`,
    );
    await db.query('COMMIT');

    // Providers, 1–3 clusters each, one rate card each (flat, device class, revenue share in turn).
    const profiles = (await db.query(`SELECT id, name, vendor FROM device_profiles ORDER BY seq`)).rows as { id: string; name: string; vendor: string }[];
    await db.query(
      `INSERT INTO providers (id, name, uscc, bank_name, bank_account, contact_name, contact_phone, contact_email, created_at, updated_at)
       SELECT 'pv_b_' || g, 'provider ' || g, 'USCC-B-' || g, 'Bank', '6222' || g, 'Contact', '010-0000', 'p' || g || '@example.cn', now(), now()
         FROM generate_series(1, $1::int) g`,
      [PROVIDERS],
    );
    await db.query(
      `INSERT INTO clusters (id, name, region, agent_token_hash, provider_id, created_at)
       SELECT 'cl_b_' || g || '_' || k, 'cluster ' || g || '-' || k, 'region-' || (g % 5), 'hash-b-' || g || '-' || k, 'pv_b_' || g, now()
         FROM generate_series(1, $1::int) g, generate_series(1, 3) k WHERE k <= 1 + g % 3`,
      [PROVIDERS],
    );
    const deviceClass = {
      prices: [
        { match: profiles[0]!.name, pricePerMillionStd: '4.20' },
        { match: profiles[profiles.length - 1]!.vendor, pricePerMillionStd: '3.10' },
      ],
      defaultPricePerMillionStd: '2.50',
    };
    await db.query(
      `INSERT INTO provider_rate_cards (id, provider_id, kind, terms, valid_from, created_at, vat_rate, tax_code)
       SELECT 'rc_b_' || g, 'pv_b_' || g, (ARRAY['flat', 'device_class', 'revenue_share'])[1 + (g / 3) % 3],
              (ARRAY[$2::jsonb, $3::jsonb, $4::jsonb])[1 + (g / 3) % 3], $5::timestamptz - interval '1 year', now(),
              0.06, '3040203000000000000'
         FROM generate_series(1, $1::int) g`,
      [
        PROVIDERS,
        JSON.stringify({ pricePerMillionStd: '3.00' }),
        JSON.stringify(deviceClass),
        JSON.stringify({ sharePercent: '70', unpaidPricePerMillionStd: '2.00' }),
        at,
      ],
    );

    // A shared workload per model, placed (in the past) on every cluster, on a profile per cluster.
    await db.query(
      `INSERT INTO workloads (id, tenant_id, name, kind, model_id, tokens_per_min, priority, ha, state, created_at, updated_at, deleted_at, access, shared)
       SELECT 'wl_b_' || m.seq, 'tn_shared', 'shared ' || m.name, 'service', m.id, 100000, 'normal', false, 'deleted', now(), now(), now(), 'gateway', true
         FROM models m`,
    );
    await db.query(
      `INSERT INTO placements (id, workload_id, cluster_id, device_model, profile_id, profile_name, resource_name, replicas, devices_per_replica, tokens_per_min, state, created_at, ended_at)
       SELECT 'pl_b_' || c.seq || '_' || m.seq, 'wl_b_' || m.seq, c.id, p.name, p.id, p.name, p.resource_name, 1, 1, 100000, 'released', $1::timestamptz, $2::timestamptz
         FROM clusters c CROSS JOIN models m
         JOIN LATERAL (SELECT * FROM device_profiles d ORDER BY d.seq OFFSET (c.seq % (SELECT count(*) FROM device_profiles)) LIMIT 1) p ON true`,
      [at, end.toISOString()],
    );

    // The events: tenant, model and cluster in turn; seq one value per BATCH events.
    const span = end.getTime() - start.getTime();
    const base = Number((await db.query(`SELECT nextval('usage_event_seq') AS s`)).rows[0].s);
    await db.query(
      `WITH c AS (SELECT id, seq, row_number() OVER (ORDER BY seq) - 1 AS n FROM clusters WHERE id LIKE 'cl_b_%'),
            m AS (SELECT id, seq, cost_factor, input_factor, row_number() OVER (ORDER BY seq) - 1 AS n FROM models),
            nc AS (SELECT count(*) AS n FROM c), nm AS (SELECT count(*) AS n FROM m)
       INSERT INTO usage_events (id, tenant_id, workload_id, cluster_id, model_id, input_tokens, output_tokens, std_tokens, occurred_at, received_at, placement_id, seq)
       SELECT 'e_' || g, CASE WHEN g % 100 = 0 THEN 'tn_shared' ELSE 'tn_b_' || (1 + g % $1::int) END, 'wl_b_' || m.seq, c.id, m.id,
              e.input_tokens, e.output_tokens,
              ${usageStdSql({ inputTokens: 'e.input_tokens', outputTokens: 'e.output_tokens', costFactor: 'm.cost_factor', inputFactor: 'm.input_factor' })},
              $3::timestamptz + ((g::bigint * 7919) % $4::bigint) * interval '1 millisecond',
              $3::timestamptz + ((g::bigint * 7919) % $4::bigint) * interval '1 millisecond',
              CASE WHEN g % 10 = 0 THEN NULL ELSE 'pl_b_' || c.seq || '_' || m.seq END,
              $5::bigint + g / ${BATCH}
         FROM generate_series(1, $2::int) g
         CROSS JOIN nc CROSS JOIN nm
         JOIN c ON c.n = g % nc.n
         JOIN m ON m.n = (g / 7) % nm.n,
              LATERAL (SELECT 4000 + g % 1000 AS input_tokens, 1000 + g % 300 AS output_tokens) e`,
      [TENANTS, EVENTS, at, span, base],
    );
    await db.query(`SELECT setval('usage_event_seq', $1::bigint)`, [base + Math.floor(EVENTS / BATCH) + 1]);
    await db.query('ANALYZE');
    const seedSeconds = (performance.now() - seedStarted) / 1000;

    const tables = ['invoices', 'provider_statements', 'journal_entries', 'postings'];
    const before: number[] = [];
    for (const t of tables) before.push(await count(t));
    const started = performance.now();
    await api(server.base, ADMIN, 'POST', '/api/v1/billing/close', { period });
    const seconds = (performance.now() - started) / 1000;
    const after: number[] = [];
    for (const t of tables) after.push(await count(t));
    const made = (i: number) => after[i]! - before[i]!;

    const byKind = Object.fromEntries(
      (await db.query(`SELECT kind, count(*)::int AS n FROM journal_entries WHERE kind <> 'top_up' GROUP BY kind ORDER BY kind`)).rows.map(
        (r: { kind: string; n: number }) => [r.kind, r.n],
      ),
    );

    const again = performance.now();
    const repeat = await api(server.base, ADMIN, 'POST', '/api/v1/billing/close', { period });
    const repeatSeconds = (performance.now() - again) / 1000;

    const trial = (
      await db.query(
        `SELECT coalesce((SELECT sum(amount) FROM postings), 0)::numeric(20, 2)::text AS total,
                (SELECT count(*) FROM (SELECT entry_id FROM postings GROUP BY entry_id HAVING sum(amount) <> 0) u)::int AS unbalanced`,
      )
    ).rows[0] as { total: string; unbalanced: number };
    const mismatched = (
      await db.query(
        `SELECT count(*)::int AS n FROM provider_statements s
          WHERE s.period = $1 AND s.total <> (SELECT coalesce(sum((l->>'amount')::numeric), 0) FROM jsonb_array_elements(s.lines) l)`,
        [period],
      )
    ).rows[0].n as number;
    console.log(
      JSON.stringify({
        bench: 'close',
        database: 'postgres',
        period,
        tenants: TENANTS,
        providers: PROVIDERS,
        events: EVENTS,
        seconds: +seconds.toFixed(2),
        invoices: made(0),
        statements: made(1),
        journalEntries: made(2),
        postings: made(3),
        entriesByKind: byKind,
        trialBalance: trial.total,
        unbalancedEntries: trial.unbalanced,
        statementsNotSummingToLines: mismatched,
        repeatSeconds: +repeatSeconds.toFixed(2),
        repeatInvoices: repeat.items.length,
        seedSeconds: +seedSeconds.toFixed(1),
      }),
    );
  } finally {
    await db.end();
    await server.stop();
    await scratch.drop();
  }
}
