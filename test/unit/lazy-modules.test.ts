import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Libraries a process may never need (README "Memory"): loaded on first use, never at start, so
 * that each of a deployment's processes does not carry them. Checked in a fresh process, since
 * this one's other tests load them.
 */
const ON_FIRST_USE = ['exceljs', 'pdfkit', 'ioredis', 'undici'];

describe('libraries loaded on first use', () => {
  it('importing the server loads none of exceljs, pdfkit, ioredis or undici', function () {
    this.timeout(60_000);
    const script = `
      const { createRequire } = await import('node:module');
      await import('./server/main.ts');
      const loaded = Object.keys(createRequire(import.meta.url).cache);
      console.log(JSON.stringify(loaded));`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    const loaded: string[] = JSON.parse(out.trim().split('\n').at(-1)!);
    expect(
      loaded.some((p) => p.includes('/node_modules/pg/')),
      'the check sees what is loaded',
    ).to.equal(true);
    for (const lib of ON_FIRST_USE)
      expect(
        loaded.filter((p) => p.includes(`/node_modules/${lib}/`)),
        lib,
      ).to.deep.equal([]);
  });
});
