// @vitest-environment node
// Both languages have every key, every key used in the sources exists, and every value the API's
// enums can take (cluster, workload and placement states, priorities, tenant kinds, pending
// reasons) has a translation.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { en } from '../src/i18n/en';
import { zhCN } from '../src/i18n/zh-CN';

const src = fileURLToPath(new URL('../src', import.meta.url));

function keys(o: object, prefix = ''): string[] {
  return Object.entries(o).flatMap(([k, v]) => (typeof v === 'string' ? [`${prefix}${k}`] : keys(v as object, `${prefix}${k}.`)));
}
function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : /\.(ts|vue)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : [],
  );
}

describe('messages', () => {
  const enKeys = keys(en).sort();
  const zhKeys = keys(zhCN).sort();

  it('zh-CN and en have the same keys', () => {
    expect(
      zhKeys.filter((k) => !enKeys.includes(k)),
      'only in zh-CN',
    ).toEqual([]);
    expect(
      enKeys.filter((k) => !zhKeys.includes(k)),
      'only in en',
    ).toEqual([]);
  });

  it('no message is empty', () => {
    const get = (o: object, k: string) => k.split('.').reduce<unknown>((x, p) => (x as Record<string, unknown>)[p], o);
    for (const k of enKeys) {
      expect(String(get(en, k)).trim(), `en ${k}`).not.toBe('');
      expect(String(get(zhCN, k)).trim(), `zh-CN ${k}`).not.toBe('');
    }
  });

  it('every literal key the sources use exists', () => {
    const used = new Set<string>();
    // t('a.b'), t("a.b"), $t('a.b'), title: 'menu.x' in route meta
    const patterns = [/\bt\(\s*['"]([A-Za-z0-9_.]+)['"]/g, /title:\s*'([a-z]+\.[A-Za-z0-9_.]+)'/g];
    for (const f of files(src)) {
      const text = readFileSync(f, 'utf8');
      for (const re of patterns) for (const m of text.matchAll(re)) used.add(m[1]!);
    }
    expect(used.size).toBeGreaterThan(50);
    expect([...used].filter((k) => !enKeys.includes(k))).toEqual([]);
  });

  it('every value of the API enums the UI shows is translated', () => {
    const doc = fileURLToPath(new URL('../../dist/openapi.json', import.meta.url));
    if (!existsSync(doc)) throw new Error('dist/openapi.json is missing: run node ui/build.mjs --types');
    const paths = JSON.parse(readFileSync(doc, 'utf8')).paths;
    const schema = (p: string) => paths[p].get.responses['200'].content['application/json'].schema;
    const item = (p: string) => schema(p).properties.items.items;
    const cluster = item('/api/v1/clusters').properties;
    const workload = item('/api/v1/workloads').properties;
    const tenant = item('/api/v1/tenants').properties;
    const groups: [string, string[]][] = [
      ['state.cluster', cluster.state.enum],
      ['state.workload', workload.state.enum],
      ['state.placement', workload.placements.items.properties.state.enum],
      ['priority', workload.priority.enum],
      ['kind', tenant.kind.enum],
      ['billingMode', tenant.billingMode.enum],
      ['placementReason', workload.placements.items.properties.reason.anyOf[0].enum],
    ];
    for (const [group, values] of groups) {
      expect(values.length, group).toBeGreaterThan(0);
      for (const v of values) expect(enKeys, `${group}.${v}`).toContain(`${group}.${v}`);
    }
    // Pending reasons: API.md names them; the schema types reason as a string.
    for (const r of ['capacity', 'quota', 'plan_exhausted', 'no_compatible_device']) expect(enKeys).toContain(`reason.${r}`);
  });
});
