/**
 * The month close on PostgreSQL: 10,000 tenants (half on a monthly package, half paying per
 * token) with 1,000,000 usage events in the month, closed through the HTTP API of the compiled
 * server. The data is written straight into the tables; the close is what is timed.
 */
import pg from 'pg';
import { ADMIN, api, scratchOrSkip, startServer } from './lib.js';
import { Calendar, previousPeriod } from '../server/billing/periods.js';
import { usageStdSql } from '../scheduler/capacity.js';

const TENANTS = Number(process.env.BENCH_TENANTS ?? 10_000);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const TZ = 'Asia/Shanghai';

export async function benchClose(): Promise<void> {
  const scratch = await scratchOrSkip('close', 'tp_bench_close');
  if (!scratch) return;
  const server = await startServer(scratch.url, { TOKENPOOL_TIMEZONE: TZ });
  const db = new pg.Client({ connectionString: scratch.url });
  await db.connect();
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
    const seedStarted = performance.now();
    await db.query(
      `INSERT INTO tenants (id, name, kind, created_at) SELECT 'tn_b_' || g, 'tenant ' || g, CASE WHEN g % 2 = 0 THEN 'government' ELSE 'enterprise' END, now() FROM generate_series(1, $1::int) g`,
      [TENANTS],
    );
    await db.query(
      `INSERT INTO subscriptions (id, tenant_id, plan_id, starts_at, created_at) SELECT 'sub_b_' || g, 'tn_b_' || g, $2, $3::timestamptz + (g % 20) * interval '1 day', now() FROM generate_series(2, $1::int, 2) g`,
      [TENANTS, gov.id, start.toISOString()],
    );
    const span = end.getTime() - start.getTime();
    await db.query(
      `INSERT INTO usage_events (id, tenant_id, workload_id, cluster_id, model_id, input_tokens, output_tokens, std_tokens, occurred_at, received_at)
       SELECT 'e_' || g, 'tn_b_' || (1 + g % $1::int), 'wl_b', 'cl_b', 'mdl_b', e.input_tokens, e.output_tokens,
              ${usageStdSql({ inputTokens: 'e.input_tokens', outputTokens: 'e.output_tokens', costFactor: 'e.cost_factor', inputFactor: 'e.input_factor' })},
              $3::timestamptz + ((g::bigint * 7919) % $4::bigint) * interval '1 millisecond',
              $3::timestamptz + ((g::bigint * 7919) % $4::bigint) * interval '1 millisecond'
         FROM generate_series(1, $2::int) g,
              LATERAL (SELECT 4000 + g % 1000 AS input_tokens, 1000 + g % 300 AS output_tokens, 10::numeric AS cost_factor, 0.25::numeric AS input_factor) e`,
      [TENANTS, EVENTS, start.toISOString(), span],
    );
    await db.query('ANALYZE');
    const seedSeconds = (performance.now() - seedStarted) / 1000;

    const started = performance.now();
    const res = await api(server.base, ADMIN, 'POST', '/api/v1/billing/close', { period });
    const seconds = (performance.now() - started) / 1000;
    const again = performance.now();
    const repeat = await api(server.base, ADMIN, 'POST', '/api/v1/billing/close', { period });
    const repeatSeconds = (performance.now() - again) / 1000;
    console.log(
      JSON.stringify({
        bench: 'close',
        database: 'postgres',
        period,
        tenants: TENANTS,
        events: EVENTS,
        invoices: res.items.length,
        seconds: +seconds.toFixed(2),
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
