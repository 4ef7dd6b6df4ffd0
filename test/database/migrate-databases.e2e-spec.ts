import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { ErrorCode } from '../../src/common/errors/error-codes';
import { errorResponse } from '../../src/common/http/error-envelope';
import { assertSchemaCurrent, DatabaseBehindError } from '../../src/database/database-probe';
import { databaseVersions, MigrationProgress, MigrationTarget, migrateDatabases } from '../../src/database/migrate-databases';
import { createPool } from '../../src/database/pg/pool';
import { applyMigrations, MIGRATION_LOCK, MIGRATIONS_FOLDER, migrationRecord, runMigrations, withCredentials } from '../../src/database/provisioning';
import { OWNER_ROLE } from '../../src/database/schema/roles';
import { closedPort } from '../helpers/closed-port';
import { createEmptyTestDatabase, createTestDatabase, TestDatabase } from '../helpers/test-database';
import { TEST_ROLE_PASSWORDS } from '../helpers/test-env';

/**
 * migrateDatabases, databaseVersions and assertSchemaCurrent on real databases of the test
 * PostgreSQL: empty ones (as `cli setup` leaves a new database) migrated from scratch, several at
 * once. A database is made to fail part-way by creating, beforehand, a table that a later migration
 * creates (0010_usage_ledger's usage_events): 0000-0009 apply, 0010 fails on its third statement.
 * Orderings are forced with PostgreSQL's own locks (a test holds a database's migration lock), never
 * with timing.
 */
const TAGS = (JSON.parse(readFileSync(path.join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8')) as { entries: Array<{ tag: string }> }).entries.map((e) => e.tag);
const FAILING = '0010_usage_ledger';
const BEFORE_FAILING = TAGS.slice(0, TAGS.indexOf(FAILING));
const FROM_FAILING = TAGS.slice(TAGS.indexOf(FAILING));

const created: TestDatabase[] = [];
afterAll(async () => {
  await Promise.all(created.map((db) => db.drop()));
});

async function emptyDatabases(count: number): Promise<TestDatabase[]> {
  const dbs = await Promise.all(Array.from({ length: count }, () => createEmptyTestDatabase('mig')));
  created.push(...dbs);
  return dbs;
}

/** Names d0, d1, ... in order. */
const targetsOf = (dbs: TestDatabase[]): MigrationTarget[] => dbs.map((db, index) => ({ name: `d${index}`, migrationUrl: db.ownerUrl }));

async function query<T extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** The obstacle: 0010 creates this table, so it fails there after 0000-0009 applied. */
const block = (db: TestDatabase) => query(db.ownerUrl, 'create table public.usage_events (obstacle int)');
const unblock = (db: TestDatabase) => query(db.ownerUrl, 'drop table public.usage_events');
const exists = async (db: TestDatabase, table: string) => (await query<{ found: boolean }>(db.ownerUrl, 'select to_regclass($1) is not null as found', [table]))[0].found;

/** Started/finished events, and the most databases in flight at once. */
function recorder() {
  const events: MigrationProgress[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const listeners: Array<() => void> = [];
  return {
    events,
    get maxInFlight() {
      return maxInFlight;
    },
    started: () => events.flatMap((e) => (e.kind === 'started' ? [e.database] : [])),
    onProgress: (event: MigrationProgress) => {
      events.push(event);
      inFlight += event.kind === 'started' ? 1 : -1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      for (const listener of listeners.splice(0)) listener();
    },
    /** Resolves once `condition` holds for the events seen so far. */
    until(condition: () => boolean): Promise<void> {
      return new Promise((resolve) => {
        const check = () => (condition() ? resolve() : listeners.push(check));
        check();
      });
    },
  };
}

/** Holds each database's migration lock (what applyMigrations waits for) until released. */
async function holdMigrationLocks(dbs: TestDatabase[]) {
  const clients = new Map<TestDatabase, pg.Client>();
  for (const db of dbs) {
    const client = new pg.Client({ connectionString: db.superuserUrl });
    await client.connect();
    await client.query(`select pg_advisory_lock(${MIGRATION_LOCK})`);
    clients.set(db, client);
  }
  return {
    release: async (...which: TestDatabase[]) => {
      for (const db of which) {
        await clients.get(db)?.end();
        clients.delete(db);
      }
    },
    releaseAll: async () => Promise.all([...clients.values()].map((client) => client.end())),
  };
}

/** Polls PostgreSQL (no time limit but jest's) until `count` sessions of `dbs` wait for an advisory lock. */
async function untilWaitingForLock(dbs: TestDatabase[], count: number): Promise<void> {
  const superuser = process.env.TEST_PG_SUPERUSER_URL!;
  for (;;) {
    const [{ waiting }] = await query<{ waiting: number }>(
      superuser,
      `select count(*)::integer as waiting from pg_stat_activity where datname = any($1) and wait_event_type = 'Lock' and wait_event = 'advisory'`,
      [dbs.map((db) => db.name)],
    );
    if (waiting >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A copy of drizzle/ whose journal lists only the first `count` migrations, or one more than drizzle/ (a later release's). */
function migrationsFolder(change: { first: number } | { laterRelease: true }): string {
  const folder = path.join(mkdtempSync(path.join(os.tmpdir(), 'drizzle-')), 'drizzle');
  cpSync(MIGRATIONS_FOLDER, folder, { recursive: true });
  const journalFile = path.join(folder, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: Array<{ idx: number; when: number; tag: string }> };
  if ('first' in change) journal.entries = journal.entries.slice(0, change.first);
  else {
    const last = journal.entries[journal.entries.length - 1];
    const tag = `${String(last.idx + 1).padStart(4, '0')}_later_release`;
    journal.entries.push({ ...last, idx: last.idx + 1, when: last.when + 1000, tag });
    writeFileSync(path.join(folder, `${tag}.sql`), 'CREATE TABLE "later_release" ("id" integer);');
  }
  writeFileSync(journalFile, JSON.stringify(journal));
  return folder;
}
const folders: string[] = [];
afterAll(() => folders.forEach((folder) => rmSync(path.dirname(folder), { recursive: true, force: true })));
const folderWith = (change: Parameters<typeof migrationsFolder>[0]) => {
  const folder = migrationsFolder(change);
  folders.push(folder);
  return folder;
};

describe('migrateDatabases', () => {
  it('brings five empty databases to current one at a time (concurrency 1); a second run finds nothing to do', async () => {
    const dbs = await emptyDatabases(5);
    const progress = recorder();
    const results = await migrateDatabases(targetsOf(dbs), { concurrency: 1, onFailure: 'stop', onProgress: progress.onProgress });

    expect(results.map(({ database, outcome, applied }) => ({ database, outcome, applied }))).toEqual(
      ['d0', 'd1', 'd2', 'd3', 'd4'].map((database) => ({ database, outcome: 'migrated', applied: TAGS })),
    );
    expect(results.every((result) => result.error === undefined && result.ms >= 0)).toBe(true);
    expect(progress.maxInFlight).toBe(1);
    expect(progress.started()).toEqual(['d0', 'd1', 'd2', 'd3', 'd4']);

    const again = await migrateDatabases(targetsOf(dbs), { concurrency: 3, onFailure: 'stop' });
    expect(again.map(({ outcome, applied }) => ({ outcome, applied }))).toEqual(dbs.map(() => ({ outcome: 'up-to-date', applied: [] })));
    expect(await databaseVersions(targetsOf(dbs))).toEqual(
      ['d0', 'd1', 'd2', 'd3', 'd4'].map((database) => ({ database, state: 'current', applied: TAGS.length, latest: TAGS[TAGS.length - 1], pending: 0 })),
    );
  });

  it('runs three at once at concurrency 3: three databases wait at their migration lock and no fourth starts until one finishes', async () => {
    const dbs = await emptyDatabases(5);
    const locks = await holdMigrationLocks(dbs);
    const progress = recorder();
    const run = migrateDatabases(targetsOf(dbs), { concurrency: 3, onFailure: 'stop', onProgress: progress.onProgress });
    try {
      await untilWaitingForLock(dbs, 3);
      // None can finish while its lock is held, so a fourth could only have started past the bound.
      expect(progress.started()).toEqual(['d0', 'd1', 'd2']);
    } finally {
      await locks.releaseAll();
    }
    const results = await run;
    expect(results.map((result) => result.outcome)).toEqual(['migrated', 'migrated', 'migrated', 'migrated', 'migrated']);
    expect(progress.maxInFlight).toBe(3);
    expect((await databaseVersions(targetsOf(dbs))).map((version) => version.state)).toEqual(['current', 'current', 'current', 'current', 'current']);
  });

  it("stop: a failure part-way leaves its earlier migrations applied, the later databases not started; a re-run resumes where each stands", async () => {
    const dbs = await emptyDatabases(5);
    await block(dbs[1]);
    const first = await migrateDatabases(targetsOf(dbs), { concurrency: 1, onFailure: 'stop' });

    expect(first.map(({ database, outcome, applied }) => ({ database, outcome, applied }))).toEqual([
      { database: 'd0', outcome: 'migrated', applied: TAGS },
      { database: 'd1', outcome: 'failed', applied: BEFORE_FAILING },
      { database: 'd2', outcome: 'not-started', applied: [] },
      { database: 'd3', outcome: 'not-started', applied: [] },
      { database: 'd4', outcome: 'not-started', applied: [] },
    ]);
    expect(first[1].error).toBe(`migration ${FAILING} failed: relation "usage_events" already exists`);
    expect(first.slice(2).map((result) => result.ms)).toEqual([0, 0, 0]);
    expect(await databaseVersions(targetsOf(dbs))).toEqual([
      { database: 'd0', state: 'current', applied: TAGS.length, latest: TAGS[TAGS.length - 1], pending: 0 },
      { database: 'd1', state: 'behind', applied: BEFORE_FAILING.length, latest: BEFORE_FAILING[BEFORE_FAILING.length - 1], pending: FROM_FAILING.length },
      ...['d2', 'd3', 'd4'].map((database) => ({ database, state: 'behind', applied: 0, latest: null, pending: TAGS.length })),
    ]);

    await unblock(dbs[1]);
    const resumed = await migrateDatabases(targetsOf(dbs), { concurrency: 1, onFailure: 'stop' });
    expect(resumed.map(({ database, outcome, applied }) => ({ database, outcome, applied }))).toEqual([
      { database: 'd0', outcome: 'up-to-date', applied: [] },
      { database: 'd1', outcome: 'migrated', applied: FROM_FAILING },
      ...['d2', 'd3', 'd4'].map((database) => ({ database, outcome: 'migrated', applied: TAGS })),
    ]);
    expect((await databaseVersions(targetsOf(dbs))).map((version) => version.state)).toEqual(['current', 'current', 'current', 'current', 'current']);
  });

  it('stop with several running: those running when the failure is known finish, and none starts after it', async () => {
    const dbs = await emptyDatabases(5);
    await block(dbs[0]);
    const locks = await holdMigrationLocks(dbs);
    const progress = recorder();
    const run = migrateDatabases(targetsOf(dbs), { concurrency: 3, onFailure: 'stop', onProgress: progress.onProgress });
    try {
      await untilWaitingForLock(dbs, 3);
      await locks.release(dbs[0]);
      await progress.until(() => progress.events.some((e) => e.kind === 'finished' && e.result.database === 'd0'));
    } finally {
      await locks.releaseAll();
    }
    const results = await run;
    expect(results.map((result) => result.outcome)).toEqual(['failed', 'migrated', 'migrated', 'not-started', 'not-started']);
    expect(progress.started()).toEqual(['d0', 'd1', 'd2']);
  });

  it('continue (concurrency 3): every other database is migrated and the failures reported, without passwords; the re-run applies only the rest', async () => {
    const dbs = await emptyDatabases(5);
    await block(dbs[1]);
    const port = await closedPort();
    const unreachable: MigrationTarget = { name: 'gone', migrationUrl: `postgres://${OWNER_ROLE}:${TEST_ROLE_PASSWORDS.owner}@127.0.0.1:${port}/app` };
    const targets = [...targetsOf(dbs), unreachable];

    const first = await migrateDatabases(targets, { concurrency: 3, onFailure: 'continue' });
    expect(first.map(({ database, outcome, applied }) => ({ database, outcome, applied }))).toEqual([
      { database: 'd0', outcome: 'migrated', applied: TAGS },
      { database: 'd1', outcome: 'failed', applied: BEFORE_FAILING },
      ...['d2', 'd3', 'd4'].map((database) => ({ database, outcome: 'migrated', applied: TAGS })),
      { database: 'gone', outcome: 'failed', applied: [] },
    ]);
    expect(first[1].error).toMatch(/relation "usage_events" already exists/);
    expect(first[5].error).toContain(`connect ECONNREFUSED 127.0.0.1:${port}`);
    expect(JSON.stringify(first)).not.toContain(TEST_ROLE_PASSWORDS.owner);

    await unblock(dbs[1]);
    const resumed = await migrateDatabases(targetsOf(dbs), { concurrency: 3, onFailure: 'continue' });
    expect(resumed.map((result) => [result.outcome, result.applied])).toEqual([
      ['up-to-date', []],
      ['migrated', FROM_FAILING],
      ['up-to-date', []],
      ['up-to-date', []],
      ['up-to-date', []],
    ]);
  });

  it('refuses a concurrency below 1 or not whole before touching any database (positive control: 1 runs)', async () => {
    const port = await closedPort();
    const targets = [{ name: 'gone', migrationUrl: `postgres://${OWNER_ROLE}:x@127.0.0.1:${port}/app` }];
    for (const concurrency of [0, -1, 1.5, Number.NaN]) {
      await expect(migrateDatabases(targets, { concurrency, onFailure: 'stop' })).rejects.toThrow(RangeError);
    }
    expect((await migrateDatabases(targets, { concurrency: 1, onFailure: 'stop' }))[0].outcome).toBe('failed');
  });
});

describe('a migration failing part-way', () => {
  it('applyMigrations (one transaction per migration): the ones before it stay applied, the failing one is rolled back whole', async () => {
    const [db] = await emptyDatabases(1);
    await block(db);
    await expect(applyMigrations(db.ownerUrl)).rejects.toThrow(`migration ${FAILING} failed`);
    const record = await migrationRecord(db.ownerUrl);
    expect(record.recorded).toBe(BEFORE_FAILING.length);
    expect(record.migrations.filter((m) => m.applied).map((m) => m.tag)).toEqual(BEFORE_FAILING);
    expect(await exists(db, 'public.plans')).toBe(true); // 0009, before it: kept
    // 0010's first statement (create table usage_counters) ran before its third failed: rolled back with it.
    expect(await exists(db, 'public.usage_counters')).toBe(false);
  });

  it("drizzle's own migrator (embedded mode, MIGRATE_ON_BOOT) runs all pending ones in one transaction: the whole run is rolled back", async () => {
    const [db] = await emptyDatabases(1);
    await block(db);
    await expect(runMigrations(db.ownerUrl)).rejects.toThrow();
    expect((await migrationRecord(db.ownerUrl)).recorded).toBe(0);
    expect(await exists(db, 'public.tenants')).toBe(false); // 0000 was rolled back too
    expect(await exists(db, 'public.usage_counters')).toBe(false);

    await unblock(db); // positive control: the same migrator on the same database, the obstacle gone
    await runMigrations(db.ownerUrl);
    expect((await migrationRecord(db.ownerUrl)).recorded).toBe(TAGS.length);
  });
});

describe('databaseVersions', () => {
  it('reads each database as current, behind, ahead or unreachable (no password in the error), in the order given', async () => {
    const clone = await createTestDatabase();
    created.push(clone);
    const [empty, partial, ahead] = await emptyDatabases(3);
    await applyMigrations(partial.ownerUrl, undefined, folderWith({ first: 5 }));
    await applyMigrations(ahead.ownerUrl, undefined, folderWith({ laterRelease: true }));
    const port = await closedPort();

    const versions = await databaseVersions(
      [
        { name: 'current', migrationUrl: clone.ownerUrl },
        { name: 'empty', migrationUrl: empty.ownerUrl },
        { name: 'partial', migrationUrl: partial.ownerUrl },
        { name: 'ahead', migrationUrl: ahead.ownerUrl },
        { name: 'gone', migrationUrl: withCredentials(`postgres://127.0.0.1:${port}/app`, OWNER_ROLE, TEST_ROLE_PASSWORDS.owner) },
      ],
      { concurrency: 2 },
    );
    expect(versions).toEqual([
      { database: 'current', state: 'current', applied: TAGS.length, latest: TAGS[TAGS.length - 1], pending: 0 },
      { database: 'empty', state: 'behind', applied: 0, latest: null, pending: TAGS.length },
      { database: 'partial', state: 'behind', applied: 5, latest: TAGS[4], pending: TAGS.length - 5 },
      // Its newest migration is one this build does not ship: no tag to name.
      { database: 'ahead', state: 'ahead', applied: TAGS.length + 1, latest: null, pending: 0 },
      { database: 'gone', state: 'unreachable', applied: null, latest: null, pending: null, error: expect.stringContaining(`ECONNREFUSED 127.0.0.1:${port}`) },
    ]);
    expect(JSON.stringify(versions)).not.toContain(TEST_ROLE_PASSWORDS.owner);
  });
});

describe('assertSchemaCurrent (as the runtime role, on the pool the data layer opens)', () => {
  const pools: pg.Pool[] = [];
  afterAll(() => Promise.all(pools.map((pool) => pool.end())));
  const poolOf = (url: string) => {
    const pool = createPool({ url, max: 1, statementTimeoutMs: 5_000, applicationName: 'schema-current-test' });
    pools.push(pool);
    return pool;
  };
  const refusal = (promise: Promise<void>) => promise.then(() => undefined, (error: unknown) => error);

  it('refuses a database behind with DATABASE_BEHIND, with or without app_migrations_status() (0008)', async () => {
    const [before0008, after0008, empty] = await emptyDatabases(3);
    await applyMigrations(before0008.ownerUrl, undefined, folderWith({ first: 5 }));
    await applyMigrations(after0008.ownerUrl, undefined, folderWith({ first: TAGS.length - 1 }));
    for (const db of [before0008, after0008, empty]) {
      const error = await refusal(assertSchemaCurrent(poolOf(db.appUrl), 'eu-big-1'));
      expect(error).toBeInstanceOf(DatabaseBehindError);
      expect(error).toMatchObject({ code: ErrorCode.DatabaseBehind, database: 'eu-big-1' });
    }
  });

  it('passes a current database and one ahead (positive controls), and rethrows an unreachable one as it is, not as DATABASE_BEHIND', async () => {
    const clone = await createTestDatabase();
    created.push(clone);
    const [ahead] = await emptyDatabases(1);
    await applyMigrations(ahead.ownerUrl, undefined, folderWith({ laterRelease: true }));
    await expect(assertSchemaCurrent(poolOf(clone.appUrl), 'eu-big-1')).resolves.toBeUndefined();
    await expect(assertSchemaCurrent(poolOf(ahead.appUrl), 'eu-big-1')).resolves.toBeUndefined();

    const port = await closedPort();
    const error = await refusal(assertSchemaCurrent(poolOf(`postgres://app_user:x@127.0.0.1:${port}/app`), 'eu-big-1'));
    expect(error).toBeDefined();
    expect(error).not.toBeInstanceOf(DatabaseBehindError);
  });

  it('answers 503 DATABASE_BEHIND with Retry-After and a stable body that names neither the database nor where it is', () => {
    const { statusCode, headers, body } = errorResponse(new DatabaseBehindError('eu-big-1'), 'req-1', '/documents?limit=5');
    expect(statusCode).toBe(503);
    expect(headers['retry-after']).toBe('30');
    const parsed = JSON.parse(body);
    expect(parsed).toEqual({
      error: { code: 'DATABASE_BEHIND', message: "The tenant's data is being upgraded, retry shortly" },
      statusCode: 503,
      requestId: 'req-1',
      timestamp: expect.any(String),
      path: '/documents',
    });
    expect(body).not.toContain('eu-big-1');
  });
});
