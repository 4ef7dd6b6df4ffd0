import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { httpStatusFor } from '../../src/common/errors/error-codes';
import { DatabaseBusyError, DatabasePools, DatabasePoolsOptions } from '../../src/database/pg/database-pools';
import { createPool } from '../../src/database/pg/pool';
import { createDatabase, dropDatabase, withCredentials, withDatabase } from '../../src/database/provisioning';
import { APP_ROLE } from '../../src/database/schema/roles';
import { Rng, seedFromEnv } from '../helpers/prng';
import { TEST_ROLE_PASSWORDS } from '../helpers/test-env';
import { until } from '../helpers/until';

/** Dedicated databases on the test server: more than the budget lets the manager keep open at once. */
const DATABASES = Array.from({ length: 12 }, (_, i) => `db${String(i + 1).padStart(2, '0')}`);
const SHARED_MAX = 2;
const PER_DATABASE_MAX = 2;

/**
 * DatabasePools on a real PostgreSQL server, as the app's role: many databases
 * through few pools, with the budget checked both in the manager's books and in
 * pg_stat_activity (the connections the server really holds, by application_name).
 */
describe('DatabasePools on PostgreSQL', () => {
  const superuserUrl = process.env.TEST_PG_SUPERUSER_URL!;
  const run = randomBytes(3).toString('hex');
  /** Our name -> the database on the server. */
  const physical = new Map<string, string>();
  let admin: pg.Client;
  let shared: pg.Pool;
  const managers: DatabasePools[] = [];

  const appUrl = (database: string) => withCredentials(withDatabase(superuserUrl, database), APP_ROLE, TEST_ROLE_PASSWORDS.app);

  /** A manager whose connections carry application_name `pools-<run>-<tag>:<database>`, and what it asked openPool for. */
  function manager(tag: string, options: Partial<DatabasePoolsOptions> = {}) {
    const prefix = `pools-${run}-${tag}`;
    const openCalls: string[] = [];
    const pools = new DatabasePools(
      shared,
      (name, max) => {
        openCalls.push(name);
        const database = physical.get(name);
        if (!database) throw new Error(`no database named "${name}"`);
        return createPool({ url: appUrl(database), max, statementTimeoutMs: 10_000, applicationName: `${prefix}:${name}` });
      },
      { budget: SHARED_MAX + 3 * PER_DATABASE_MAX, perDatabaseMax: PER_DATABASE_MAX, idleCloseMs: 60_000, waitTimeoutMs: 30_000, ...options },
    );
    managers.push(pools);
    /** Connections the server holds for this manager's dedicated pools (`database`: one of them). */
    const serverConnections = async (database = '%') =>
      (await admin.query<{ n: number }>('select count(*)::int as n from pg_stat_activity where application_name like $1', [`${prefix}:${database}`])).rows[0].n;
    const query = (name: string) =>
      pools.use(name, async (pool) => (await pool.query<{ db: string }>('select current_database() as db')).rows[0].db);
    return { pools, openCalls, serverConnections, query };
  }

  beforeAll(async () => {
    const runId = process.env.TEST_RUN_ID;
    if (!runId) throw new Error('Run tests through jest (npm test): global setup provisions PostgreSQL');
    admin = new pg.Client({ connectionString: superuserUrl });
    await admin.connect();
    for (const name of ['shared', ...DATABASES]) {
      // tt_<run id>_...: global setup drops what a crashed run left behind.
      const database = `tt_${runId}_pools_${run}_${name}`;
      await createDatabase(superuserUrl, database);
      physical.set(name, database);
    }
    // The shared pool is the caller's: its connections count in the budget but are not the manager's to end.
    shared = createPool({ url: appUrl(physical.get('shared')!), max: SHARED_MAX, statementTimeoutMs: 10_000, applicationName: `pools-${run}-shared` });
    physical.delete('shared');
  });

  afterAll(async () => {
    await Promise.all(managers.map((pools) => pools.close()));
    await shared?.end();
    await admin?.end();
    for (const database of [...physical.values(), `tt_${process.env.TEST_RUN_ID}_pools_${run}_shared`]) await dropDatabase(superuserUrl, database);
  });

  it('serves concurrent queries on 12 databases through at most 3 dedicated pools, within the budget on the server too', async () => {
    const { pools, serverConnections } = manager('load');
    const budget = SHARED_MAX + 3 * PER_DATABASE_MAX;
    const rng = new Rng(seedFromEnv());
    /** Waves of queries, every database in each: each wave opens pools the last one closed. */
    const waves = Array.from({ length: 4 }, () => {
      const wave = [...DATABASES, ...DATABASES, ...DATABASES, 'shared', 'shared'];
      for (let i = wave.length - 1; i > 0; i--) {
        const j = rng.int(0, i);
        [wave[i], wave[j]] = [wave[j], wave[i]];
      }
      return wave;
    });

    let running = true;
    let maxReserved = 0;
    let maxPoolConnections = 0;
    const sample = () => {
      const snapshot = pools.snapshot();
      maxReserved = Math.max(maxReserved, snapshot.reserved);
      maxPoolConnections = Math.max(maxPoolConnections, snapshot.pools.reduce((sum, pool) => sum + pool.total, 0));
    };
    const sampler = setInterval(sample, 1);
    const serverSamples: number[] = [];
    const serverSampler = (async () => {
      while (running) {
        // The shared pool's connections too: `pools-<run>-shared` shares the prefix.
        const { rows } = await admin.query<{ n: number }>('select count(*)::int as n from pg_stat_activity where application_name like $1', [`pools-${run}-%`]);
        serverSamples.push(rows[0].n);
      }
    })();

    const results: Array<{ name: string; db: string }> = [];
    try {
      for (const wave of waves) {
        const answers = await Promise.all(
          wave.map((name) =>
            pools.use(name, async (pool) => {
              const { rows } = await pool.query<{ db: string }>('select current_database() as db, pg_sleep(0.01)');
              sample();
              return { name, db: rows[0].db };
            }),
          ),
        );
        results.push(...answers);
      }
    } finally {
      running = false;
      clearInterval(sampler);
      await serverSampler;
    }

    // Every query answered, each by its own database.
    expect(results.length).toBe(waves.flat().length);
    for (const { name, db } of results) expect(db).toBe(name === 'shared' ? `tt_${process.env.TEST_RUN_ID}_pools_${run}_shared` : physical.get(name));

    const snapshot = pools.snapshot();
    expect(snapshot.opened).toBeGreaterThanOrEqual(waves.length * (DATABASES.length - 3));
    expect(snapshot.evicted).toBeGreaterThan(0);
    expect(snapshot.pools.length).toBeLessThanOrEqual(4);

    // The books: reserved never above the budget, nor the connections the pools held.
    expect(maxReserved).toBe(budget); // positive control: the budget was filled
    expect(maxPoolConnections).toBeLessThanOrEqual(budget);
    // The server: the sampler saw several pools' connections at once, and never more than the budget.
    expect(serverSamples.length).toBeGreaterThan(0);
    expect(Math.max(...serverSamples)).toBeGreaterThan(SHARED_MAX + PER_DATABASE_MAX);
    expect(Math.max(...serverSamples)).toBeLessThanOrEqual(budget);

    await pools.close();
    expect(await serverConnections('db%')).toBe(0);
  });

  it('closes a pool left idle, never one in use (positive control: connections held until then)', async () => {
    const { pools, serverConnections, query } = manager('idle', { idleCloseMs: 300 });
    const open = () => pools.snapshot().pools.map((pool) => pool.database);

    expect(await query('db01')).toBe(physical.get('db01'));
    expect(open()).toContain('db01');
    expect(await serverConnections('db01')).toBe(1);
    await until(async () => pools.snapshot(), (s) => !s.pools.some((pool) => pool.database === 'db01') && s.closing === 0, 'db01 closed when idle');
    expect(pools.snapshot().closedIdle).toBe(1);
    expect(await serverConnections('db01')).toBe(0);

    // In use for several idle periods: kept, with its connection.
    const kept = await pools.use('db02', async (pool) => {
      await pool.query('select 1');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      return { open: open(), connections: await serverConnections('db02') };
    });
    expect(kept).toEqual({ open: ['shared', 'db02'], connections: 1 });
    await until(async () => pools.snapshot(), (s) => s.pools.length === 1 && s.closing === 0, 'db02 closed once given back');
    expect(pools.snapshot()).toMatchObject({ closedIdle: 2, evicted: 0 });
    expect(await serverConnections()).toBe(0);
  });

  it('opens one pool for concurrent first uses of a database (positive control: another database, another pool)', async () => {
    const { pools, openCalls, serverConnections, query } = manager('flight');
    const answers = await Promise.all(Array.from({ length: 20 }, () => query('db03')));
    expect(new Set(answers)).toEqual(new Set([physical.get('db03')]));
    expect(openCalls).toEqual(['db03']);
    expect(pools.snapshot().opened).toBe(1);
    expect(await serverConnections('db03')).toBeLessThanOrEqual(PER_DATABASE_MAX);

    await Promise.all([query('db04'), query('db04')]);
    expect(openCalls).toEqual(['db03', 'db04']);
    expect(pools.snapshot().opened).toBe(2);
  });

  it('refuses an unknown database with openPool\'s error, reserving and evicting nothing (positive control: a known one)', async () => {
    // Room for one dedicated pool, taken by db05 and idle: a known name would evict it.
    const { pools, query } = manager('unknown', { budget: SHARED_MAX + PER_DATABASE_MAX });
    expect(await query('db05')).toBe(physical.get('db05'));
    const before = pools.snapshot();

    await expect(query('no-such-database')).rejects.toThrow('no database named "no-such-database"');
    expect(pools.snapshot()).toMatchObject({ reserved: before.reserved, opened: 1, evicted: 0, waitingForRoom: 0 });
    expect(pools.snapshot().pools.map((pool) => pool.database)).toEqual(['shared', 'db05']);

    expect(await query('db06')).toBe(physical.get('db06'));
    expect(pools.snapshot()).toMatchObject({ opened: 2, evicted: 1 });
  });

  describe('every dedicated pool in use', () => {
    /** Room for one dedicated pool, held by a use of db07 until `release` is called. */
    async function holding(tag: string, waitTimeoutMs: number) {
      const m = manager(tag, { budget: SHARED_MAX + PER_DATABASE_MAX, waitTimeoutMs });
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let connected!: () => void;
      const holdsConnection = new Promise<void>((resolve) => (connected = resolve));
      const held = m.pools.use('db07', async (pool) => {
        await pool.query('select 1');
        connected();
        await released;
      });
      await holdsConnection;
      return { ...m, held, release };
    }

    it('answers DatabaseBusyError (503, Retry-After) past waitTimeoutMs, evicting nothing', async () => {
      const { pools, query, held, release, serverConnections } = await holding('busy', 300);
      const error = await query('db08').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DatabaseBusyError);
      expect(httpStatusFor((error as DatabaseBusyError).code)).toBe(503);
      expect((error as DatabaseBusyError).headers).toEqual({ 'retry-after': '1' });
      expect(pools.snapshot()).toMatchObject({ evicted: 0, waitingForRoom: 0, opened: 1 });
      expect(await serverConnections('db08')).toBe(0);
      release();
      await held;
    });

    it('positive control: with a longer wait, the same caller gets its pool once the holder is done', async () => {
      const { pools, query, held, release } = await holding('room', 30_000);
      const waiting = query('db08');
      await until(async () => pools.snapshot(), (s) => s.waitingForRoom === 1, 'db08 waiting for room');
      expect(pools.snapshot().pools.map((pool) => pool.database)).toEqual(['shared', 'db07']);
      release();
      await held;
      expect(await waiting).toBe(physical.get('db08'));
      expect(pools.snapshot()).toMatchObject({ evicted: 1, opened: 2, waitingForRoom: 0 });
    });
  });
});
