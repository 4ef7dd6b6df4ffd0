import { eq } from 'drizzle-orm';
import pg from 'pg';
import { AppError } from '../../src/common/errors/app-error';
import { mapDatabaseError } from '../../src/common/errors/database-errors';
import { ErrorCode } from '../../src/common/errors/error-codes';
import { TenantDatabaseSettings } from '../../src/config/env.schema';
import { createPool } from '../../src/database/pg/pool';
import { PoolSource, UnknownDatabaseError } from '../../src/database/pg/pool-source';
import { documents, invitations, PlanRow } from '../../src/database/schema';
import { SystemDb } from '../../src/database/system-db';
import { anchorTenant, prepareTenantDatabase } from '../../src/database/tenant-databases';
import { createTenantDb, TenantDb } from '../../src/database/tenant-db';
import { Tenant, TenantContext } from '../../src/tenancy/tenant-context';
import { createTestDatabase, TestDatabase } from '../helpers/test-database';
import { DedicatedDatabase, dedicatedDatabase } from './dedicated-helpers';
import { testTenant } from '../helpers/tenants';

/**
 * The tenant directory on two PostgreSQL servers: the run's server holds the shared database,
 * the suite's second server (another cluster on another port) holds the dedicated database "big1", provisioned from
 * nothing (roles, database, schema, its name). The data layer routes each tenant's statements to
 * its database, and PostgreSQL refuses a tenant on a database it is not placed on (tenancy_set).
 */
describe('dedicated databases (tenant directory, routing, provisioning)', () => {
  let shared: TestDatabase;
  let dedicated: DedicatedDatabase;
  let big1: TenantDatabaseSettings;
  let big1Superuser: pg.Client;
  let sharedSuperuser: pg.Client;
  const pools = new Map<string, pg.Pool>();
  let tenantDb: TenantDb;
  let systemDb: SystemDb;
  let onShared: Tenant;
  let onBig1: Tenant;

  const source: PoolSource = {
    use: (database, fn) => {
      const pool = pools.get(database);
      return pool ? fn(pool) : Promise.reject(new UnknownDatabaseError(database));
    },
  };
  const as = <T>(tenant: Tenant, fn: () => PromiseLike<T>): Promise<T> => TenantContext.run({ tenant }, async () => await fn());
  const titlesIn = async (client: pg.Client, tenantId: string) =>
    (await client.query<{ title: string }>('select title from documents where tenant_id = $1 order by title', [tenantId])).rows.map((r) => r.title);
  /** What the API would answer for the error (the mapping at the edge). */
  const codeOf = (error: unknown) => (error instanceof AppError ? error.code : mapDatabaseError(error)?.code);

  beforeAll(async () => {
    shared = await createTestDatabase();
    dedicated = dedicatedDatabase('big1');
    big1 = dedicated.settings;
    const prepared = await prepareTenantDatabase('big1', big1);
    expect(prepared.created).toBe(true);
    expect(prepared.applied.length).toBeGreaterThan(10);

    sharedSuperuser = new pg.Client({ connectionString: shared.superuserUrl });
    await sharedSuperuser.connect();
    big1Superuser = new pg.Client({ connectionString: dedicated.superuserUrl });
    await big1Superuser.connect();

    const { rows } = await sharedSuperuser.query(
      `insert into tenants (slug, name, plan, database) values ('on-shared', 'S', 'free', 'shared'), ('on-big1', 'B', 'free', 'big1')
       returning id, slug, name, status, plan, database`,
    );
    [onShared, onBig1] = rows.map(testTenant);
    const plan = (await sharedSuperuser.query<PlanRow>(`select * from plans where id = 'free'`)).rows[0];
    await anchorTenant('big1', big1, rows[1].id, plan);

    pools.set('shared', createPool({ url: shared.appUrl, max: 2, statementTimeoutMs: 5000, applicationName: 'test-directory' }));
    pools.set('big1', createPool({ url: big1.url, max: 2, statementTimeoutMs: 5000, applicationName: 'test-directory' }));
    tenantDb = createTenantDb(source);
    systemDb = new SystemDb(pools.get('shared')!, source);

    for (const tenant of [onShared, onBig1]) {
      for (const n of [1, 2]) await as(tenant, () => tenantDb.insert(documents).values({ title: `${tenant.slug} ${n}`, body: '', tags: [] }));
    }
  }, 120_000);

  afterAll(async () => {
    for (const pool of pools.values()) await pool.end();
    await big1Superuser?.end();
    await sharedSuperuser?.end();
    await dedicated?.drop();
    await shared?.drop();
  });

  it("writes each tenant's rows on its own database, and only there", async () => {
    expect(await titlesIn(big1Superuser, onBig1.id)).toEqual(['on-big1 1', 'on-big1 2']);
    expect(await titlesIn(sharedSuperuser, onBig1.id)).toEqual([]);
    expect(await titlesIn(sharedSuperuser, onShared.id)).toEqual(['on-shared 1', 'on-shared 2']);
    expect(await titlesIn(big1Superuser, onShared.id)).toEqual([]);
  });

  it('the scoped client reads each tenant from its own database, never the other one', async () => {
    expect((await as(onBig1, () => tenantDb.select().from(documents))).map((d) => d.title).sort()).toEqual(['on-big1 1', 'on-big1 2']);
    expect((await as(onShared, () => tenantDb.select().from(documents))).map((d) => d.title).sort()).toEqual(['on-shared 1', 'on-shared 2']);
  });

  it("a stale directory entry fails with TENANT_MOVING and writes nothing on the wrong database", async () => {
    // The instance still believes big1's tenant is on the shared database (e.g. a move just switched it).
    const stale: Tenant = { ...onBig1, database: 'shared' };
    const insert = as(stale, () => tenantDb.insert(documents).values({ title: 'lost write', body: '', tags: [] }));
    await expect(insert.catch(codeOf)).resolves.toBe(ErrorCode.TenantMoving);
    await expect(as(stale, () => tenantDb.select().from(documents)).catch(codeOf)).resolves.toBe(ErrorCode.TenantMoving);
    await expect(as(stale, () => tenantDb.transaction(async (tx) => tx.select().from(documents))).catch(codeOf)).resolves.toBe(ErrorCode.TenantMoving);
    expect(await titlesIn(sharedSuperuser, onBig1.id)).toEqual([]);
    // And the other way round: a shared tenant sent to big1.
    await expect(as({ ...onShared, database: 'big1' }, () => tenantDb.select().from(documents)).catch(codeOf)).resolves.toBe(ErrorCode.TenantMoving);
    // Positive control: the same statements with the right entries.
    expect(await as(onBig1, () => tenantDb.select().from(documents))).toHaveLength(2);
    expect(await as(onShared, () => tenantDb.select().from(documents))).toHaveLength(2);
  });

  it("RLS alone, as the runtime role: a tenant's id does not resolve on a database it is not placed on", async () => {
    const runtime = (url: string) => new pg.Client({ connectionString: url });
    for (const [url, placedHere, placedElsewhere, expected] of [
      [big1.url, onBig1, onShared, ['on-big1 1', 'on-big1 2']],
      [shared.appUrl, onShared, onBig1, ['on-shared 1', 'on-shared 2']],
    ] as const) {
      const client = runtime(url);
      await client.connect();
      try {
        // No tenant set: nothing, although rows exist (positive control: the next query).
        expect((await client.query('select title from documents')).rows).toEqual([]);
        await client.query('begin');
        await client.query('select public.tenancy_set($1)', [placedHere.id]);
        expect((await client.query('select title from documents order by title')).rows.map((r) => r.title)).toEqual(expected);
        await client.query('rollback');
        await client.query('begin');
        await expect(client.query('select public.tenancy_set($1)', [placedElsewhere.id])).rejects.toMatchObject({ code: 'TA421' });
        await client.query('rollback');
        // set_config by hand (no data layer) on the wrong database: still nothing of anyone.
        await client.query('begin');
        await client.query("select set_config('app.tenant_id', $1, true)", [placedElsewhere.id]);
        expect((await client.query('select title from documents')).rows).toEqual([]);
        await client.query('rollback');
      } finally {
        await client.end();
      }
    }
  });

  it('an update or delete naming the other placement\'s row changes nothing, on either database', async () => {
    const [bigDoc] = await as(onBig1, () => tenantDb.select().from(documents).limit(1));
    const [sharedDoc] = await as(onShared, () => tenantDb.select().from(documents).limit(1));
    expect(await as(onShared, () => tenantDb.update(documents).set({ title: 'taken' }).where(eq(documents.id, bigDoc.id)).returning())).toEqual([]);
    expect(await as(onBig1, () => tenantDb.delete(documents).where(eq(documents.id, sharedDoc.id)).returning())).toEqual([]);
    // Positive control: each changes its own.
    expect(await as(onBig1, () => tenantDb.update(documents).set({ body: 'edited' }).where(eq(documents.id, bigDoc.id)).returning())).toHaveLength(1);
    expect(await titlesIn(big1Superuser, onBig1.id)).toEqual(['on-big1 1', 'on-big1 2']);
  });

  it('transactions and together() run on the tenant\'s database, atomically', async () => {
    await expect(
      as(onBig1, () =>
        tenantDb.transaction(async (tx) => {
          await tx.insert(documents).values({ title: 'rolled back', body: '', tags: [] });
          throw new Error('abort');
        }),
      ),
    ).rejects.toThrow('abort');
    expect(await titlesIn(big1Superuser, onBig1.id)).not.toContain('rolled back');
    await as(onBig1, () => tenantDb.transaction(async (tx) => tx.insert(documents).values({ title: 'on-big1 tx', body: '', tags: [] })));
    expect(await titlesIn(big1Superuser, onBig1.id)).toContain('on-big1 tx');
    expect(await titlesIn(sharedSuperuser, onBig1.id)).toEqual([]);
  });

  it("a platform transaction's tenant step for a dedicated tenant writes on its database", async () => {
    await systemDb.transaction('test.dedicated-as-tenant', (platform) =>
      platform.asTenant(onBig1, (tx) => tx.insert(invitations).values({ email: 'someone@example.test', role: 'member', tokenHash: 'x'.repeat(64), expiresAt: new Date(Date.now() + 60_000) })),
    );
    const count = async (client: pg.Client) => (await client.query('select count(*)::int as n from invitations where tenant_id = $1', [onBig1.id])).rows[0].n;
    expect(await count(big1Superuser)).toBe(1);
    expect(await count(sharedSuperuser)).toBe(0);
  });

  it('an unregistered database is refused before any SQL (positive control: a registered one)', async () => {
    // drizzle wraps what its client throws.
    await expect(as({ ...onBig1, database: 'nowhere' }, () => tenantDb.select().from(documents))).rejects.toMatchObject({ cause: expect.any(UnknownDatabaseError) });
    await expect(as(onBig1, () => tenantDb.select().from(documents))).resolves.toHaveLength(3);
  });

  it('provisioning again changes nothing, and a database registered under another name is refused', async () => {
    await expect(prepareTenantDatabase('big1', big1)).resolves.toEqual({ created: false, applied: [] });
    await expect(prepareTenantDatabase('other-name', big1)).rejects.toThrow(/already belongs to the directory as "big1"/);
  });
});
