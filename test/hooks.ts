import { dropTestDatabases } from './databases.js';

/** Mocha root hooks: tidy up the PostgreSQL databases the integration suites created. */
export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    // Each drop checkpoints: a hundred of them on a busy machine take longer than a test may.
    this.timeout(180_000);
    await dropTestDatabases();
  },
};
