import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateDrizzleJson, generateMigration } from 'drizzle-kit/api';
import { text } from 'drizzle-orm/pg-core';
import pg from 'pg';
import * as schema from '../../src/database/schema';
import { tenantTable } from '../../src/database/schema/tenant-table';
import { createTestDatabase, TestDatabase } from '../helpers/test-database';

/**
 * The live catalog of schema public after migrating from scratch, compared with
 * test/database/catalog.snapshot.json: tables (RLS enabled/forced), columns,
 * constraints, indexes, policies, the runtime role's table and column privileges
 * and the functions (owner, SECURITY DEFINER, settings, EXECUTE grants). The
 * committed snapshot was first written from the migrations as they were before
 * tables were declared with tenantTable(); the database is built from the
 * migrations, so the second half of the proof is the test below it: the schema
 * declarations (tenantTable() included) generate nothing the migrations do not
 * already hold. Together: declaring tables with tenantTable() changed nothing in
 * the database. From now on any catalog change shows up in review as a diff of
 * the snapshot.
 * `npm run db:catalog-snapshot` (UPDATE_CATALOG=1) rewrites it; a normal run never writes.
 */
const SNAPSHOT = path.resolve(__dirname, 'catalog.snapshot.json');
const APP_ROLE = 'app_user';

async function readCatalog(client: pg.Client) {
  const tables = await client.query(
    `select c.relname as name, c.relrowsecurity as rls_enabled, c.relforcerowsecurity as rls_forced
       from pg_class c
      where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')
      order by c.relname collate "C"`,
  );
  const columns = await client.query(
    `select c.relname as table, a.attname as name, format_type(a.atttypid, a.atttypmod) as type,
            not a.attnotnull as nullable, pg_get_expr(d.adbin, d.adrelid) as default
       from pg_attribute a
       join pg_class c on c.oid = a.attrelid
       left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
      order by c.relname collate "C", a.attnum`,
  );
  const constraints = await client.query(
    `select c.relname as table, k.conname as name, k.contype as type, pg_get_constraintdef(k.oid) as definition
       from pg_constraint k join pg_class c on c.oid = k.conrelid
      where k.connamespace = 'public'::regnamespace and k.contype <> 'n'
      order by c.relname collate "C", k.conname collate "C"`,
  );
  const indexes = await client.query(
    `select tablename as table, indexname as name, indexdef as definition
       from pg_indexes where schemaname = 'public'
      order by tablename collate "C", indexname collate "C"`,
  );
  const policies = await client.query(
    `select tablename as table, policyname as name, cmd, roles::text[] as roles, permissive, qual, with_check
       from pg_policies where schemaname = 'public'
      order by tablename collate "C", policyname collate "C"`,
  );
  // Privileges granted to the runtime role, directly (aclexplode of the table ACL).
  const privileges = await client.query(
    `select c.relname as table, array_agg(acl.privilege_type order by acl.privilege_type collate "C") as privileges
       from pg_class c, aclexplode(c.relacl) acl
      where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'S')
        and acl.grantee = (select oid from pg_roles where rolname = $1)
      group by c.relname
      order by c.relname collate "C"`,
    [APP_ROLE],
  );
  // Column privileges of the runtime role (column ACLs: granted per column, e.g. users without password_hash).
  const columnPrivileges = await client.query(
    `select c.relname as table, acl.privilege_type as privilege,
            array_agg(a.attname::text order by a.attnum) as columns
       from pg_class c
       join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
       cross join lateral aclexplode(a.attacl) acl
      where c.relnamespace = 'public'::regnamespace
        and acl.grantee = (select oid from pg_roles where rolname = $1)
      group by c.relname, acl.privilege_type
      order by c.relname collate "C", acl.privilege_type collate "C"`,
    [APP_ROLE],
  );
  // Functions in public: signature, result, owner, SECURITY DEFINER, settings and who may execute them.
  const functions = await client.query(
    `select p.oid::regprocedure::text as signature, pg_get_function_result(p.oid) as result,
            pg_get_userbyid(p.proowner) as owner, p.prosecdef as security_definer, p.provolatile as volatility,
            p.proisstrict as strict, p.proconfig as config,
            array(select g.grantee from (
                    select case when acl.grantee = 0 then 'PUBLIC' else pg_get_userbyid(acl.grantee)::text end as grantee
                      from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) acl
                     where acl.privilege_type = 'EXECUTE') g
                  order by g.grantee collate "C") as execute,
            p.prosrc as body
       from pg_proc p
      where p.pronamespace = 'public'::regnamespace
      order by p.oid::regprocedure::text collate "C"`,
  );
  // Triggers (the usage ledger moves its counters with one): a dropped or disabled one would count nothing.
  const triggers = await client.query(
    `select c.relname as table, t.tgname as name, pg_get_triggerdef(t.oid) as definition, t.tgenabled as enabled
       from pg_trigger t join pg_class c on c.oid = t.tgrelid
      where not t.tgisinternal and c.relnamespace = 'public'::regnamespace
      order by c.relname collate "C", t.tgname collate "C"`,
  );
  const byTable = <T extends { table: string }>(rows: T[]) => {
    const grouped: Record<string, Array<Omit<T, 'table'>>> = {};
    for (const { table, ...rest } of rows) (grouped[table] ??= []).push(rest);
    return grouped;
  };
  return {
    tables: tables.rows,
    columns: byTable(columns.rows),
    constraints: byTable(constraints.rows),
    indexes: byTable(indexes.rows),
    policies: byTable(policies.rows),
    [`privileges of ${APP_ROLE}`]: Object.fromEntries(privileges.rows.map((r) => [r.table, r.privileges])),
    [`column privileges of ${APP_ROLE}`]: byTable(columnPrivileges.rows),
    functions: functions.rows,
    triggers: byTable(triggers.rows),
  };
}

describe('catalog snapshot after migrating from scratch', () => {
  let db: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    client = new pg.Client({ connectionString: db.superuserUrl });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
    await db?.drop();
  });

  it('reads the catalog (positive control: tenant tables forced, policies, grants and keys are there)', async () => {
    const catalog = await readCatalog(client);
    expect(catalog.tables).toContainEqual({ name: 'documents', rls_enabled: true, rls_forced: true });
    expect(catalog.tables).toContainEqual({ name: 'tenants', rls_enabled: false, rls_forced: false });
    expect(catalog.policies.documents?.map((p) => p.name)).toEqual(['documents_tenant_isolation']);
    expect(catalog[`privileges of ${APP_ROLE}`].documents).toEqual(['DELETE', 'INSERT', 'SELECT', 'UPDATE']);
    expect(catalog.constraints.comments?.map((c) => c.type)).toEqual(expect.arrayContaining(['p', 'f']));
    expect(catalog.indexes.documents?.length).toBeGreaterThan(0);
    expect(catalog[`column privileges of ${APP_ROLE}`].users).toEqual([
      { privilege: 'SELECT', columns: ['id', 'email', 'name', 'created_at', 'updated_at'] },
    ]);
    expect(catalog.functions.map((f) => f.signature)).toEqual(['app_migrations_status()', 'auth_password_hash(text)', 'tenancy_enter(uuid,text,uuid,text)', 'tenancy_set(uuid)', 'usage_events_apply()', 'vector_dot(real[],real[])']);
    // The usage ledger is append-only for the runtime role, and its trigger moves the counters.
    expect(catalog[`privileges of ${APP_ROLE}`].usage_events).toEqual(['INSERT', 'SELECT']);
    expect(catalog.triggers.usage_events?.map((t) => [t.name, t.enabled])).toEqual([['usage_events_apply', 'O']]);
    expect(catalog.columns.documents?.[0]).toEqual({ name: 'tenant_id', type: 'uuid', nullable: false, default: null });
  });

  it('is the committed snapshot (npm run db:catalog-snapshot rewrites it)', async () => {
    const text = `${JSON.stringify(await readCatalog(client), null, 2)}\n`;
    if (process.env.UPDATE_CATALOG === '1') {
      writeFileSync(SNAPSHOT, text);
      return;
    }
    expect(existsSync(SNAPSHOT)).toBe(true);
    // Compared as text so the failure shows the changed lines.
    expect(text).toBe(readFileSync(SNAPSHOT, 'utf8'));
  });
});

/**
 * What `drizzle-kit generate` would compare: the schema as declared against the
 * last snapshot drizzle-kit committed under drizzle/meta. No difference means
 * the migrations already hold every declaration (db:verify checks the same in CI,
 * through the CLI).
 */
describe('schema declarations and migrations agree', () => {
  function latestSnapshot(): Record<string, unknown> {
    const journal = JSON.parse(readFileSync(path.resolve(__dirname, '../../drizzle/meta/_journal.json'), 'utf8')) as { entries: Array<{ idx: number }> };
    const last = journal.entries[journal.entries.length - 1].idx;
    return JSON.parse(readFileSync(path.resolve(__dirname, `../../drizzle/meta/${String(last).padStart(4, '0')}_snapshot.json`), 'utf8'));
  }

  it('generates no statement from the schema that the migrations lack', async () => {
    const declared = generateDrizzleJson(schema as Record<string, unknown>);
    expect(await generateMigration(latestSnapshot() as never, declared)).toEqual([]);
  });

  it('would generate statements for a declaration the migrations lack (positive control)', async () => {
    const extra = tenantTable('catalog_probe', { label: text('label') });
    const declared = generateDrizzleJson({ ...schema, extra } as Record<string, unknown>);
    const statements = await generateMigration(latestSnapshot() as never, declared);
    expect(statements.join('\n')).toMatch(/CREATE TABLE "catalog_probe"/);
    expect(statements.join('\n')).toMatch(/CREATE POLICY "catalog_probe_tenant_isolation"/);
  });
});
