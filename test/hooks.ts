import { dropTestDatabases } from './databases.js';

/** Mocha root hooks: tidy up the PostgreSQL databases the integration suites created. */
export const mochaHooks = {
  async afterAll(this: unknown) {
    await dropTestDatabases();
  },
};
