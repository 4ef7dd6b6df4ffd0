import { Logger } from '@nestjs/common';
import { count, sql } from 'drizzle-orm';
import pg from 'pg';
import { createPool } from '../../src/database/pg/pool';
import { documents, tenants } from '../../src/database/schema';
import { PlatformTransaction, SystemDb } from '../../src/database/system-db';
import { TenantDb } from '../../src/database/tenant-db';
import { Transactions } from '../../src/database/transactions';
import { Tenant, TenantContext } from '../../src/tenancy/tenant-context';
import { createTestDatabase, TestDatabase } from '../helpers/test-database';
import { testTenant } from '../helpers/tenants';

/**
 * SystemDb.transaction / Transactions.run: platform rows and one tenant's rows
 * in one transaction on one connection, committed together or rolled back
 * together, with the tenant set transaction-locally and the handles refusing
 * any use outside their part.
 */
describe('platform transaction', () => {
  let db: TestDatabase;
  let superuser: pg.Client;
  let pool: pg.Pool;
  let systemDb: SystemDb;
  let transactions: Transactions;
  let other: Tenant;
  /** SystemDb's audit lines (and anything else logged), captured instead of printed. */
  const logged: string[] = [];

  const toTenant = (row: typeof tenants.$inferSelect): Tenant => testTenant(row);
  const insertTenant = (slug: string, tx: PlatformTransaction) =>
    systemDb.run('test.tenants.create', async (d) => (await d.insert(tenants).values({ slug, name: slug }).returning())[0], tx);
  const tenantSetting = (tx?: PlatformTransaction) =>
    systemDb.run('test.setting', async (d) => (await d.execute<{ t: string | null }>(sql`select current_setting('app.tenant_id', true) as t`)).rows[0].t, tx);
  /** The reason a statement was refused: drizzle wraps what the client throws (DrizzleQueryError, with it as cause). */
  const reason = (error: unknown): string => {
    const e = error as { message?: string; cause?: { message?: string } };
    return e.cause?.message ?? e.message ?? String(error);
  };
  const counts = async (slug: string) => {
    const { rows } = await superuser.query<{ tenants: number; documents: number }>(
      `select (select count(*)::int from tenants where slug = $1) as tenants,
              (select count(*)::int from documents d join tenants t on t.id = d.tenant_id where t.slug = $1) as documents`,
      [slug],
    );
    return rows[0];
  };

  beforeAll(async () => {
    const capture = (message: unknown) => void logged.push(String(message));
    Logger.overrideLogger({ log: capture, error: capture, warn: capture, debug: capture, verbose: capture, fatal: capture });
    db = await createTestDatabase();
    superuser = new pg.Client({ connectionString: db.superuserUrl });
    await superuser.connect();
    // One connection: a setting leaking past a transaction would be seen by the next statement.
    pool = createPool({ url: db.appUrl, max: 1, statementTimeoutMs: 5000, applicationName: 'test' });
    systemDb = new SystemDb(pool);
    transactions = new Transactions(systemDb);
    const { rows } = await superuser.query(`insert into tenants (slug, name) values ('other', 'Other') returning id, slug, name, status, plan`);
    other = rows[0];
    await superuser.query(`insert into documents (tenant_id, title, body, tags) values ($1, 'other doc', '', '{}')`, [other.id]);
  });

  afterAll(async () => {
    await pool?.end();
    await superuser?.end();
    await db?.drop();
  });

  it('commits a new tenant and its tenant rows together, the tenant rows written under RLS as that tenant', async () => {
    const seen = await transactions.run('test.create', async (platform) => {
      const tenant = toTenant(await insertTenant('committed', platform));
      const inside = await platform.asTenant(tenant, async (tx) => {
        await tx.insert(documents).values({ title: 'first', body: '', tags: [] });
        return {
          context: TenantContext.currentId(),
          // The row this transaction wrote is visible to it, the other tenant's row is not (RLS and the filter).
          titles: (await tx.select({ title: documents.title }).from(documents)).map((d) => d.title),
        };
      });
      return { tenant, inside, settingAfter: await tenantSetting(platform) };
    });
    expect(seen.inside).toEqual({ context: seen.tenant.id, titles: ['first'] });
    // Audited: the transaction, each platform operation in it, and the tenant it acted as.
    expect(logged).toEqual(
      expect.arrayContaining([
        'system operation=test.create transaction=test.create',
        'system operation=test.tenants.create transaction=test.create',
        `system operation=test.create asTenant=${seen.tenant.id}`,
      ]),
    );
    expect(seen.settingAfter).toBe(''); // cleared again before the platform handle is used
    expect(await counts('committed')).toEqual({ tenants: 1, documents: 1 });
    // Transaction-local: the (only) connection carries no tenant afterwards.
    expect(await tenantSetting()).toBeFalsy();
  });

  it('rolls everything back when fn throws after both parts were written', async () => {
    await expect(
      transactions.run('test.create', async (platform) => {
        const tenant = toTenant(await insertTenant('rolled-back', platform));
        await platform.asTenant(tenant, (tx) => tx.insert(documents).values({ title: 'lost', body: '', tags: [] }).then(() => undefined));
        throw new Error('crash after the last write');
      }),
    ).rejects.toThrow('crash after the last write');
    expect(await counts('rolled-back')).toEqual({ tenants: 0, documents: 0 });
    // Positive control: the same slug is free.
    await transactions.run('test.create', async (platform) => insertTenant('rolled-back', platform));
    expect(await counts('rolled-back')).toEqual({ tenants: 1, documents: 0 });
  });

  it('shows the platform handle no tenant rows, even rows its own transaction wrote', async () => {
    const platformCount = await transactions.run('test.read', async (platform) => {
      const tenant = toTenant(await insertTenant('unreadable', platform));
      await platform.asTenant(tenant, (tx) => tx.insert(documents).values({ title: 'x', body: '', tags: [] }).then(() => undefined));
      return systemDb.run('test.count', async (d) => (await d.select({ n: count() }).from(documents))[0].n, platform);
    });
    expect(platformCount).toBe(0);
    expect(await counts('unreadable')).toEqual({ tenants: 1, documents: 1 }); // positive control: the row exists
  });

  it('leaves no tenant set after asTenant fails and the caller carries on: the step is undone, the platform handle sees nothing', async () => {
    const seen = await transactions.run('test.recover', async (platform) => {
      const tenant = toTenant(await insertTenant('recovered', platform));
      await platform.asTenant(tenant, (tx) => tx.insert(documents).values({ title: 'kept', body: '', tags: [] }).then(() => undefined));
      await expect(
        platform.asTenant(tenant, async (tx) => {
          await tx.insert(documents).values({ title: 'undone', body: '', tags: [] });
          throw new Error('a plain JS error in the tenant step');
        }),
      ).rejects.toThrow('a plain JS error');
      return {
        setting: await tenantSetting(platform),
        platformCount: await systemDb.run('test.count', async (d) => (await d.select({ n: count() }).from(documents))[0].n, platform),
      };
    });
    expect(seen).toEqual({ setting: '', platformCount: 0 });
    // Positive control: the transaction went on and committed; the failed step's row is gone, the earlier one kept.
    expect(await counts('recovered')).toEqual({ tenants: 1, documents: 1 });
  });

  it('refuses a nested drizzle transaction on the platform handle (it would commit the outer one early)', async () => {
    await expect(
      transactions.run('test.nested', async (platform) => systemDb.run('test.nested', (d) => d.transaction(async () => undefined), platform)),
    ).rejects.toThrow(/cannot open another transaction/);
    // Positive control: the same handle runs a plain statement.
    const tenantCount = await transactions.run('test.plain', async (platform) => systemDb.run('test.count', async (d) => (await d.select({ n: count() }).from(tenants))[0].n, platform));
    expect(tenantCount).toBeGreaterThan(0);
  });

  it('refuses the platform handle inside asTenant, the tenant handle outside it, nesting, and every handle after the end', async () => {
    let keptPlatform: PlatformTransaction | undefined;
    let keptTenantDb: TenantDb | undefined;
    const errors = await transactions.run('test.misuse', async (platform) => {
      keptPlatform = platform;
      const tenant = toTenant(await insertTenant('misuse', platform));
      const found: string[] = [];
      await platform.asTenant(tenant, async (tx) => {
        keptTenantDb = tx;
        await tenantSetting(platform).catch((e: unknown) => found.push(reason(e)));
        await platform.asTenant(other, async () => undefined).catch((e: unknown) => found.push(reason(e)));
        await tx.select().from(documents); // positive control: the tenant handle works here
      });
      // In a tenant context, so that it is the handle that refuses (not the missing context).
      found.push(await TenantContext.run({ tenant }, () => keptTenantDb!.select().from(documents).then(() => 'ran', reason)));
      return found;
    });
    expect(errors).toEqual([
      'The platform handle cannot be used while the transaction acts as a tenant',
      'A platform transaction is already acting as a tenant',
      'The tenant handle is used outside asTenant()',
    ]);
    await expect(tenantSetting(keptPlatform)).rejects.toThrow('A platform transaction was used after it ended');
    await expect(keptPlatform!.asTenant(other, async () => undefined)).rejects.toThrow('A platform transaction was used after it ended');
    const late = await TenantContext.run({ tenant: other }, () => keptTenantDb!.select().from(documents).then(() => 'ran', reason));
    expect(late).toBe('A platform transaction was used after it ended');
    // Only SystemDb.transaction makes a handle.
    expect(() => new PlatformTransaction(Symbol('forged') as never, {} as never)).toThrow('opened by SystemDb.transaction only');
  });
});
