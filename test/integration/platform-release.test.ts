/**
 * A stopped platform holds nothing: once closed and dropped, its app and database can be collected.
 * Every suite starts platforms of its own, so whatever a stopped one keeps (a process-wide observer
 * holding its metrics, a timer, a listener) is kept once per suite, and the test run grows by a
 * PGlite heap (about 230 MiB) each time.
 */
import { expect } from 'chai';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startPlatform } from './harness.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

describe('a stopped platform', () => {
  it('can be collected, its database with it', async function () {
    this.timeout(60_000);
    const refs = await (async () => {
      const p = await startPlatform('pglite');
      expect((await p.request('GET', '/api/v1/pool')).status).to.equal(200);
      await p.close();
      // The query builder every part of the app holds, and through it the PGlite instance.
      return { app: new WeakRef(p.app), database: new WeakRef(p.database.db) };
    })();
    for (let i = 0; i < 10 && (refs.app.deref() || refs.database.deref()); i++) {
      await new Promise((r) => setTimeout(r, 50));
      gc();
    }
    expect(refs.app.deref(), 'the app is still held').to.equal(undefined);
    expect(refs.database.deref(), 'the database is still held').to.equal(undefined);
  });
});
