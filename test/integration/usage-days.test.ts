/**
 * A usage report's days are computed in SQL (usage.repository.ts `localDaySql`), the billing
 * periods by the Calendar (server/billing/periods.ts). On seeded random instants and at every
 * month's bounds, in zones with and without daylight saving time (one that skipped local midnight,
 * one with a 30-minute shift), both databases give each instant the day the Calendar gives it.
 */
import { expect } from 'chai';
import { sql } from 'kysely';
import type { Database } from '../../db/connect.js';
import { Calendar, nextPeriod } from '../../server/billing/periods.js';
import { localDaySql } from '../../server/repositories/usage.repository.js';
import { DATABASE_KINDS, freshDatabase } from '../databases.js';
import { seededRandom } from '../unit/scheduler/builders.js';

const ZONES = ['Asia/Shanghai', 'UTC', 'America/New_York', 'Europe/London', 'America/Sao_Paulo', 'Australia/Lord_Howe', 'Asia/Kathmandu'];
const RANDOM_CASES = 2000;
const FROM = Date.UTC(1980, 0, 1);
const TO = Date.UTC(2037, 0, 1);

/** Random instants, and each month's bounds in the zone (and a millisecond either side) from 2015 to 2020. */
function instants(calendar: Calendar, random: () => number): Date[] {
  const out = Array.from({ length: RANDOM_CASES }, () => new Date(FROM + Math.floor(random() * (TO - FROM))));
  for (let period = '2015-01'; period !== '2021-01'; period = nextPeriod(period)) {
    const { start } = calendar.monthBounds(period);
    for (const d of [-1, 0, 1]) out.push(new Date(start.getTime() + d));
  }
  // São Paulo skipped midnight on 2018-11-04: the day began at 01:00 local, 03:00 UTC.
  for (const iso of ['2018-11-04T02:59:59.999Z', '2018-11-04T03:00:00Z', '2018-11-04T03:00:00.001Z']) out.push(new Date(iso));
  return out;
}

for (const kind of DATABASE_KINDS) {
  describe(`a usage report's days are the Calendar's [${kind}]`, function () {
    this.timeout(60_000);
    let database: Database | undefined;
    before(async () => {
      database = await freshDatabase(kind);
    });
    after(async () => {
      await database?.close();
    });

    for (const zone of ZONES) {
      it(`${zone}: the day of each instant`, async () => {
        const calendar = new Calendar(zone);
        const at = instants(calendar, seededRandom(20261020));
        const r = await sql<{ day: string }>`
          SELECT ${localDaySql(sql.ref<Date>('u.t'), zone)} AS day
            FROM unnest(${at.map((t) => t.toISOString())}::timestamptz[]) WITH ORDINALITY AS u(t, n)
           ORDER BY u.n`.execute(database!.db);
        expect(r.rows).to.have.length(at.length);
        at.forEach((t, i) => expect(r.rows[i]!.day, t.toISOString()).to.equal(calendar.dayOf(t)));
      });
    }
  });
}
