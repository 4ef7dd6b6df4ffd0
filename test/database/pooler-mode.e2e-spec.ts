import { Logger } from '@nestjs/common';
import { eq, sql } from 'drizzle-orm';
import pg from 'pg';
import { mapDatabaseError } from '../../src/common/errors/database-errors';
import { createPool, inTransaction, poolingOf, PoolOptions, withClient } from '../../src/database/pg/pool';
import { queryForTenant, StatementConfig } from '../../src/database/pg/tenant-batch-query';
import { documents, tenants } from '../../src/database/schema';
import { SystemDb } from '../../src/database/system-db';
import { createTenantDb, Placeholders } from '../../src/database/tenant-db';
import { AccessClaim, Tenant, TenantContext } from '../../src/tenancy/tenant-context';
import { createTestDatabase, TestDatabase } from '../helpers/test-database';

/**
 * DB_POOLER=transaction, proven on a direct connection (the PgBouncer suites run
 * the same code through a real pooler): no session state is left on the server
 * connection, neither startup parameters nor named statements, and each
 * transaction carries its own timeouts. Direct mode (DB_POOLER=none) is the
 * positive control of each: it does keep named statements and startup timeouts.
 */
describe('pooler mode (DB_POOLER=transaction)', () => {
  let db: TestDatabase;
  let superuser: pg.Client;
  let a: Tenant;
  let b: Tenant;
  let claim: () => AccessClaim;
  const pools: pg.Pool[] = [];

  /** One connection, so whatever a statement leaves on the session, the next one sees. */
  const onePool = (pooler: PoolOptions['pooler'], statementTimeoutMs = 5000): pg.Pool => {
    const pool = createPool({ url: db.appUrl, max: 1, statementTimeoutMs, applicationName: `pooler-${pooler}`, pooler });
    pools.push(pool);
    return pool;
  };
  const preparedNames = async (pool: pg.Pool): Promise<string[]> =>
    (await pool.query<{ name: string }>('select name from pg_prepared_statements order by name')).rows.map((r) => r.name);
  /** Where the session's statement_timeout came from: 'client' when it was a startup parameter. */
  const sessionTimeout = async (pool: pg.Pool) =>
    (await pool.query<{ setting: string; source: string }>("select setting, source from pg_settings where name = 'statement_timeout'")).rows[0];
  const settingsIn = (pool: pg.Pool, tenantId: string, withClaim?: AccessClaim) =>
    withClient(pool, async (client) => {
      const statement: StatementConfig = {
        text: "select current_setting('app.tenant_id') as tenant, current_setting('statement_timeout') as timeout, (select count(*) from documents)::int as visible",
      };
      return (await queryForTenant(client, tenantId, statement, { claim: withClaim, pooling: poolingOf(pool) })).rows[0];
    });
  const as = <T>(tenant: Tenant, fn: () => PromiseLike<T>, withClaim?: AccessClaim): Promise<T> =>
    TenantContext.run({ tenant, claim: withClaim }, async () => await fn());

  beforeAll(async () => {
    Logger.overrideLogger(false); // SystemDb's audit lines
    db = await createTestDatabase();
    superuser = new pg.Client({ connectionString: db.superuserUrl });
    await superuser.connect();
    const { rows } = await superuser.query(`insert into tenants (slug, name) values ('pool-a', 'A'), ('pool-b', 'B') returning id, slug, name, status, plan`);
    [a, b] = rows;
    for (const tenant of [a, b]) {
      await superuser.query(`insert into documents (tenant_id, title, body, tags) values ($1, 'doc 1', '', '{}'), ($1, 'doc 2', '', '{}')`, [tenant.id]);
    }
    const user = await superuser.query(`insert into users (email, name) values ('pooler@example.test', 'P') returning id`);
    await superuser.query(`insert into memberships (tenant_id, user_id, role) values ($1, $2, 'member')`, [a.id, user.rows[0].id]);
    claim = () => ({ kind: 'user', id: user.rows[0].id, role: 'member', confirmed: false });
  });

  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.end()));
    await superuser?.end();
    await db?.drop();
  });

  it('sends no timeout as a startup parameter (application_name only); direct mode does', async () => {
    const direct = await sessionTimeout(onePool('none'));
    expect(direct).toEqual({ setting: '5000', source: 'client' }); // positive control: what PgBouncer refuses
    const pooled = onePool('transaction');
    expect((await sessionTimeout(pooled)).source).not.toBe('client');
    const { rows } = await pooled.query<{ name: string }>(
      "select name from pg_settings where source = 'client' and name not in ('client_encoding', 'DateStyle') order by name",
    );
    expect(rows.map((r) => r.name)).toEqual(['application_name']);
  });

  it('leaves no named statement on the connection, through every path; direct mode keeps its own', async () => {
    const run = async (pool: pg.Pool) => {
      const tenantDb = createTenantDb(pool);
      const systemDb = new SystemDb(pool);
      const byTitle = tenantDb.prepared((q, p: Placeholders<{ title: string }>) => q.select().from(documents).where(eq(documents.title, p.title)));
      await as(a, () => tenantDb.select().from(documents));
      await as(a, () => tenantDb.select().from(documents), claim());
      await as(a, () => byTitle.execute({ title: 'doc 1' }));
      await as(a, () => tenantDb.transaction((tx) => tx.select().from(documents)), claim());
      await systemDb.run('test.tenants', (d) => d.select().from(tenants));
      await systemDb.transaction('test.tx', (tx) => systemDb.run('test.tenants', (d) => d.select().from(tenants), tx));
      await systemDb.asUser('test.user', a.id, (d) => d.select().from(tenants));
      return preparedNames(pool);
    };
    // Positive control: the same calls on a direct connection leave the batch's named statements.
    expect(await run(onePool('none'))).toEqual(expect.arrayContaining(['tenancy_enter_claim', 'tenancy_set_tenant', expect.stringMatching(/^tenancy_[0-9a-f]{20}$/)]));
    expect(await run(onePool('transaction'))).toEqual([]);
  });

  it('sets the tenant and the statement timeout inside each batch, and nothing survives its Sync', async () => {
    const pool = onePool('transaction', 4000);
    const before = await sessionTimeout(pool);
    expect(await settingsIn(pool, a.id)).toEqual({ tenant: a.id, timeout: '4s', visible: 2 });
    expect(await settingsIn(pool, b.id, undefined)).toEqual({ tenant: b.id, timeout: '4s', visible: 2 });
    expect(await settingsIn(pool, a.id, claim())).toEqual({ tenant: a.id, timeout: '4s', visible: 2 });
    const { rows } = await pool.query("select current_setting('app.tenant_id', true) as tenant, (select count(*) from documents)::int as visible");
    expect(rows[0]).toEqual({ tenant: '', visible: 0 });
    expect(await sessionTimeout(pool)).toEqual(before);
  });

  it('still refuses a claim that no longer holds, before the statement runs', async () => {
    const pool = onePool('transaction');
    const gone: AccessClaim = { ...claim(), id: '00000000-0000-4000-8000-000000000000' };
    await expect(settingsIn(pool, a.id, claim())).resolves.toMatchObject({ visible: 2 }); // positive control
    await expect(settingsIn(pool, a.id, gone)).rejects.toMatchObject({ code: 'TA403' });
  });

  it('enforces the statement timeout per batch, where the session has none', async () => {
    const pool = onePool('transaction', 200);
    // Positive control: the session itself has no timeout, so only the batch's own setting can stop the sleep.
    await expect(pool.query('select pg_sleep(0.5)')).resolves.toBeDefined();
    const sleep = (claimed?: AccessClaim) =>
      withClient(pool, (client) => queryForTenant(client, a.id, { text: 'select pg_sleep(0.5)' }, { claim: claimed, pooling: poolingOf(pool) }));
    await expect(sleep()).rejects.toMatchObject({ code: '57014' });
    await expect(sleep(claim())).rejects.toMatchObject({ code: '57014' });
    const systemDb = new SystemDb(pool);
    await expect(systemDb.run('test.sleep', (d) => d.execute(sql`select pg_sleep(0.5)`))).rejects.toMatchObject({ cause: { code: '57014' } });
    await expect(systemDb.run('test.quick', (d) => d.execute(sql`select 1`))).resolves.toBeDefined();
  });

  it('sets both timeouts in each transaction, for its statements only', async () => {
    const pool = onePool('transaction', 4000);
    const before = await sessionTimeout(pool);
    const inside = (setting: Parameters<typeof inTransaction>[1]) =>
      inTransaction(pool, setting, async (client) => {
        const { rows } = await client.query(
          "select current_setting('statement_timeout') as statement, current_setting('idle_in_transaction_session_timeout') as idle, coalesce(current_setting('app.tenant_id', true), '') as tenant",
        );
        return rows[0];
      });
    expect(await inside(null)).toEqual({ statement: '4s', idle: '10s', tenant: '' });
    expect(await inside({ name: 'app.tenant_id', uuid: a.id })).toEqual({ statement: '4s', idle: '10s', tenant: a.id });
    expect(await inside({ name: 'app.tenant_id', uuid: a.id, claim: claim() })).toEqual({ statement: '4s', idle: '10s', tenant: a.id });
    expect(await sessionTimeout(pool)).toEqual(before);
    const short = onePool('transaction', 200);
    await expect(inTransaction(short, null, (client) => client.query('select pg_sleep(0.5)'))).rejects.toMatchObject({ code: '57014' });
  });

  /**
   * A pooler reports its own failure as a FATAL error (SQLSTATE 08P01) and closes the connection,
   * also inside a transaction (e.g. "transaction blocks not allowed in statement pooling mode", a
   * lost server connection). Here PostgreSQL does the same (FATAL 57P01) on a connection checked
   * out for a transaction: pg then emits 'error' on the client, which no one but us listens to.
   */
  it('answers 503 when the connection ends inside a transaction, without an unhandled error, and the pool recovers', async () => {
    const pool = onePool('transaction');
    const pidBefore = (await pool.query('select pg_backend_pid() as pid')).rows[0].pid;
    const failure = await inTransaction(pool, { name: 'app.tenant_id', uuid: a.id }, async (client) => {
      const { rows } = await client.query('select pg_backend_pid() as pid');
      await superuser.query('select pg_terminate_backend($1)', [rows[0].pid]);
      await new Promise((resolve) => setTimeout(resolve, 100)); // the FATAL and the close arrive while nothing runs
      return client.query('select 1');
    }).catch((error: unknown) => error);
    expect(mapDatabaseError(failure)).toMatchObject({ code: 'SERVICE_UNAVAILABLE', headers: { 'retry-after': '1' } });
    const after = await pool.query('select pg_backend_pid() as pid');
    expect(after.rows[0].pid).not.toBe(pidBefore); // a new connection: the broken one was destroyed
  });

  it("refuses drizzle's transaction() on SystemDb.run's handle (it would spread over connections)", async () => {
    const systemDb = new SystemDb(onePool('transaction'));
    await expect(systemDb.transaction('test.tx', async () => 'committed')).resolves.toBe('committed'); // the supported way
    await expect(systemDb.run('test.tx', (d) => d.transaction(async () => undefined))).rejects.toThrow(/use SystemDb.transaction/);
  });
});
