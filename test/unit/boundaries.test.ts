/**
 * The import boundaries of .dependency-cruiser.cjs (run by `npm run lint`) catch what they name:
 * in a scratch tree laid out like the house, each probe file crosses one boundary (or none) and
 * dependency-cruiser must report exactly the rules it breaks.
 */
import { expect } from 'chai';
import { cruise, type ICruiseResult } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');

/** Files the probes import; their content does not matter. */
const TARGETS = [
  'server/clock.ts',
  'server/errors.ts',
  'server/billing/rating.ts',
  'server/services/probe.service.ts',
  'server/repositories/probe.repository.ts',
  'db/connect.ts',
  'db/schema.ts',
  'adapters/platform-client.ts',
  'scheduler/capacity.ts',
];

const PROBES: readonly { file: string; source: string; breaks: string[] }[] = [
  { file: 'scheduler/kysely.ts', source: "import 'kysely';", breaks: ['pure-core-no-io'] },
  { file: 'scheduler/fs.ts', source: "import { readFileSync } from 'node:fs';", breaks: ['pure-core-no-io'] },
  { file: 'scheduler/pglite.ts', source: "import type { PGlite } from '@electric-sql/pglite';", breaks: ['pure-core-no-io'] },
  { file: 'scheduler/clock.ts', source: "import { systemClock } from '../server/clock.js';", breaks: ['pure-core-no-clock', 'scheduler-stands-alone'] },
  { file: 'scheduler/errors.ts', source: "import { AppError } from '../server/errors.js';", breaks: ['scheduler-stands-alone'] },
  { file: 'scheduler/db.ts', source: "import type { DB } from '../db/schema.js';", breaks: ['pure-core-no-edge', 'scheduler-stands-alone'] },
  { file: 'server/billing/pg.ts', source: "import pg from 'pg';", breaks: ['pure-core-no-io'] },
  { file: 'server/billing/express.ts', source: "import express from 'express';", breaks: ['pure-core-no-io'] },
  { file: 'server/billing/k8s.ts', source: "import { KubeConfig } from '@kubernetes/client-node';", breaks: ['pure-core-no-io'] },
  { file: 'server/billing/http.ts', source: "import { request } from 'node:http';", breaks: ['pure-core-no-io'] },
  { file: 'server/billing/clock.ts', source: "import type { Clock } from '../clock.js';", breaks: ['pure-core-no-clock'] },
  { file: 'server/billing/repository.ts', source: "import '../repositories/probe.repository.js';", breaks: ['pure-core-no-edge'] },
  { file: 'server/billing/decimal.ts', source: "import Decimal from 'decimal.js';", breaks: [] },
  { file: 'server/http/probe.routes.ts', source: "import type { Row } from '../repositories/probe.repository.js';", breaks: ['routes-no-repositories'] },
  { file: 'server/http/service.routes.ts', source: "import '../services/probe.service.js';", breaks: [] },
  { file: 'server/services/probe-user.service.ts', source: "import '../repositories/probe.repository.js';", breaks: [] },
  { file: 'server/demo.ts', source: "import '../adapters/platform-client.js';", breaks: ['server-no-adapters'] },
  { file: 'server/scheduling/core.ts', source: "import '../../scheduler/capacity.js';", breaks: [] },
  { file: 'adapters/agent.ts', source: "import '../server/errors.js';", breaks: ['adapters-speak-http'] },
  { file: 'db/migrations/0099_probe.ts', source: "import type { DB } from '../schema.js';", breaks: ['migrations-frozen'] },
  { file: 'bin/program.ts', source: "import '../server/errors.js';\nimport '../adapters/platform-client.js';", breaks: [] },
];

describe('import boundaries (.dependency-cruiser.cjs)', function () {
  this.timeout(60_000);
  let dir: string;
  let result: ICruiseResult;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tokenpool-boundaries-'));
    const write = (file: string, text: string) => {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      writeFileSync(join(dir, file), text);
    };
    for (const file of TARGETS) write(file, 'export {};\n');
    for (const p of PROBES) write(p.file, `${p.source}\n`);
    write('tsconfig.json', JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true } }));
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    const options = await extractDepcruiseOptions(join(ROOT, '.dependency-cruiser.cjs'));
    const out = await cruise(['bin', 'server', 'scheduler', 'adapters', 'db'], {
      ...options,
      baseDir: dir,
      tsConfig: { fileName: join(dir, 'tsconfig.json') },
    });
    result = out.output as ICruiseResult;
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const p of PROBES) {
    it(`${p.file}: ${p.source.replaceAll('\n', ' ')} → ${p.breaks.length ? p.breaks.join(', ') : 'allowed'}`, () => {
      const broken = result.summary.violations.filter((v) => v.from === p.file).map((v) => v.rule.name);
      expect(broken.sort()).to.deep.equal([...p.breaks].sort());
    });
  }

  it('cruised every probe (a probe that did not resolve would pass unseen)', () => {
    const cruised = new Set(result.modules.filter((m) => m.dependencies.every((d) => !d.couldNotResolve)).map((m) => m.source));
    for (const p of PROBES) expect(cruised, p.file).to.include(p.file);
  });
});
