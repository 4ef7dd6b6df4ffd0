import pg from 'pg';
import { APP_ROLE, OWNER_ROLE } from '../../src/database/schema/roles';
import { tenantTablesOf } from '../../src/database/tenant-catalog';
import { createTestDatabase, tenantTables as tenantTablesIn, TestDatabase } from '../helpers/test-database';

/**
 * drizzle-kit cannot emit FORCE ROW LEVEL SECURITY and does not detect drift in
 * RLS at all, so the guarantees are checked on the live catalog of a migrated
 * database instead of trusting the generator.
 */
describe('database catalog after migrations', () => {
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

  const tenantTables = () => tenantTablesIn(client);


  it('finds the tenant tables (positive control for the checks below)', async () => {
    expect(await tenantTables()).toEqual(expect.arrayContaining(['documents', 'comments', 'memberships', 'api_keys', 'attachments']));
  });

  it('has RLS enabled and forced, with a USING + WITH CHECK policy on tenant_id, on every table with tenant_id', async () => {
    const tables = await tenantTables();
    const problems: string[] = [];
    for (const table of tables) {
      const { rows: cls } = await client.query(
        `select relrowsecurity, relforcerowsecurity from pg_class where oid = $1::regclass`,
        [`public.${table}`],
      );
      if (!cls[0].relrowsecurity) problems.push(`${table}: RLS not enabled`);
      if (!cls[0].relforcerowsecurity) problems.push(`${table}: RLS not forced`);
      const { rows: policies } = await client.query(
        `select policyname, cmd, roles::text[] as roles, qual, with_check from pg_policies where schemaname = 'public' and tablename = $1`,
        [table],
      );
      const isolation = policies.find(
        (p) => p.cmd === 'ALL' && /tenant_id = \(\s*SELECT \(NULLIF\(current_setting\('app\.tenant_id'::text, true\), ''::text\)\)::uuid/i.test(p.qual ?? '') &&
          /tenant_id = \(\s*SELECT/i.test(p.with_check ?? ''),
      );
      if (!isolation) problems.push(`${table}: no tenant isolation policy for ALL with USING and WITH CHECK (${JSON.stringify(policies)})`);
      // It binds the runtime role and the owner (offboarding deletes as the owner, one tenant set at a time), nobody else.
      else if ([...(isolation.roles as string[])].sort().join(',') !== [APP_ROLE, OWNER_ROLE].sort().join(',')) problems.push(`${table}: isolation policy for ${isolation.roles}`);
      // Policies are permissive (OR-ed): any other one widens access. The only exception is the
      // read-only self-read on memberships, pinned here to its exact expression.
      for (const p of policies) {
        if (p === isolation) continue;
        const isSelfRead =
          table === 'memberships' &&
          p.policyname === 'memberships_self_read' &&
          p.cmd === 'SELECT' &&
          /^\(user_id = \(\s*SELECT \(NULLIF\(current_setting\('app\.user_id'::text, true\), ''::text\)\)::uuid AS "nullif"\)\)$/.test(p.qual ?? '') &&
          p.with_check === null;
        if (!isSelfRead) problems.push(`${table}: unexpected policy ${p.policyname} (${p.cmd}: ${p.qual})`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('has tenant_id first in the primary key and an index led by tenant_id on every tenant table', async () => {
    const problems: string[] = [];
    for (const table of await tenantTables()) {
      const { rows } = await client.query<{ indexdef: string; is_primary: boolean }>(
        `select pg_get_indexdef(i.indexrelid) as indexdef, i.indisprimary as is_primary,
                (select a.attname from pg_attribute a where a.attrelid = i.indrelid and a.attnum = i.indkey[0]) as first_column
           from pg_index i where i.indrelid = $1::regclass`,
        [`public.${table}`],
      );
      const primary = rows.find((r) => r.is_primary) as any;
      if (!primary || primary.first_column !== 'tenant_id') problems.push(`${table}: primary key not led by tenant_id`);
      for (const r of rows as any[]) {
        if (/UNIQUE/i.test(r.indexdef) && r.first_column !== 'tenant_id') problems.push(`${table}: unique index not scoped by tenant: ${r.indexdef}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('has only composite, tenant-carrying foreign keys between tenant tables', async () => {
    const tables = new Set(await tenantTables());
    const { rows } = await client.query<{ source: string; target: string; def: string }>(
      `select conrelid::regclass::text as source, confrelid::regclass::text as target, pg_get_constraintdef(oid) as def
         from pg_constraint where contype = 'f' and connamespace = 'public'::regnamespace`,
    );
    const between = rows.filter((r) => tables.has(r.source) && tables.has(r.target));
    expect(between.length).toBeGreaterThan(0);
    for (const fk of between) expect(fk.def).toMatch(/^FOREIGN KEY \(tenant_id, \w+\) REFERENCES \w+\(tenant_id, id\)/);
  });

  it('keeps users.password_hash unreadable by the runtime role, which reads the other columns of users', async () => {
    const { rows } = await client.query<{ column_name: string; can_select: boolean; can_update: boolean }>(
      `select a.attname as column_name,
              has_column_privilege($1, a.attrelid, a.attnum, 'SELECT') as can_select,
              has_column_privilege($1, a.attrelid, a.attnum, 'UPDATE') as can_update
         from pg_attribute a where a.attrelid = 'public.users'::regclass and a.attnum > 0 and not a.attisdropped
        order by a.attnum`,
      [APP_ROLE],
    );
    // Positive control: the profile columns are readable (what sign-in, members and /me select).
    expect(rows.filter((r) => r.can_select).map((r) => r.column_name)).toEqual(['id', 'email', 'name', 'created_at', 'updated_at']);
    expect(rows.find((r) => r.column_name === 'password_hash')).toEqual({ column_name: 'password_hash', can_select: false, can_update: false });
    // No table-wide SELECT (it would cover every column, password_hash and any added later).
    const { rows: table } = await client.query(`select has_table_privilege($1, 'public.users', 'SELECT') as s, has_table_privilege($1, 'public.users', 'INSERT') as i`, [APP_ROLE]);
    expect(table[0]).toEqual({ s: false, i: true });
  });

  it('has auth_password_hash() and app_migrations_status() as the only SECURITY DEFINER functions: owned by the owner role, fixed search_path, EXECUTE for the runtime role only', async () => {
    const { rows } = await client.query<{ signature: string; owner: string; config: string[] | null; grantees: string[] }>(
      `select p.oid::regprocedure::text as signature, pg_get_userbyid(p.proowner) as owner, p.proconfig as config,
              array(select case when acl.grantee = 0 then 'PUBLIC' else pg_get_userbyid(acl.grantee)::text end
                      from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) acl
                     where acl.privilege_type = 'EXECUTE' order by 1) as grantees
         from pg_proc p
        where p.prosecdef and p.pronamespace not in ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
        order by 1`,
    );
    expect(rows).toEqual([
      { signature: 'app_migrations_status()', owner: OWNER_ROLE, config: ['search_path=pg_catalog, pg_temp'], grantees: [APP_ROLE, OWNER_ROLE].sort() },
      { signature: 'auth_password_hash(text)', owner: OWNER_ROLE, config: ['search_path=pg_catalog, pg_temp'], grantees: [APP_ROLE, OWNER_ROLE].sort() },
    ]);
    const { rows: privileges } = await client.query(
      `select has_function_privilege($1, 'public.auth_password_hash(text)', 'EXECUTE') as app,
              exists (select 1 from pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) acl
                       where p.oid = 'public.auth_password_hash(text)'::regprocedure and acl.grantee = 0) as public`,
      [APP_ROLE],
    );
    expect(privileges[0]).toEqual({ app: true, public: false });
  });

  it('connects the API as a role that cannot bypass RLS, owns nothing and has no DDL, TRUNCATE or REFERENCES rights', async () => {
    const { rows: roles } = await client.query(
      `select rolname, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb from pg_roles where rolname in ($1, $2) order by rolname`,
      [APP_ROLE, OWNER_ROLE],
    );
    expect(roles).toEqual([
      { rolname: OWNER_ROLE, rolsuper: false, rolbypassrls: false, rolcreaterole: false, rolcreatedb: false },
      { rolname: APP_ROLE, rolsuper: false, rolbypassrls: false, rolcreaterole: false, rolcreatedb: false },
    ]);

    const { rows: owned } = await client.query(
      `select c.relname from pg_class c where c.relowner = (select oid from pg_roles where rolname = $1)
       union all select nspname from pg_namespace where nspowner = (select oid from pg_roles where rolname = $1)
       union all select datname from pg_database where datdba = (select oid from pg_roles where rolname = $1)`,
      [APP_ROLE],
    );
    expect(owned).toEqual([]);

    const { rows: privileges } = await client.query(
      `select c.relname,
              has_table_privilege($1, c.oid, 'TRUNCATE') as truncate,
              has_table_privilege($1, c.oid, 'REFERENCES') as references,
              has_table_privilege($1, c.oid, 'TRIGGER') as trigger,
              has_table_privilege($1, c.oid, 'SELECT') as select
         from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind = 'r'`,
      [APP_ROLE],
    );
    // Positive control: the role can read the tables at all.
    expect(privileges.filter((p) => p.select).map((p) => p.relname)).toEqual(expect.arrayContaining(['documents', 'tenants']));
    expect(privileges.filter((p) => p.truncate || p.references || p.trigger)).toEqual([]);

    const { rows: ddl } = await client.query(
      `select has_schema_privilege($1, 'public', 'CREATE') as schema_create,
              has_database_privilege($1, current_database(), 'CREATE') as db_create,
              has_database_privilege($1, current_database(), 'TEMP') as db_temp,
              has_schema_privilege($1, 'public', 'USAGE') as schema_usage`,
      [APP_ROLE],
    );
    expect(ddl[0]).toEqual({ schema_create: false, db_create: false, db_temp: false, schema_usage: true });
  });
  it('lists every tenant table for export, import, deletion and moves, parents before the tables that reference them', async () => {
    const found = await tenantTablesOf(client);
    expect(found.map((table) => table.name).sort()).toEqual(await tenantTables());
    const position = new Map(found.map((table, index) => [table.name, index]));
    expect(position.get('documents')).toBeLessThan(position.get('comments')!); // comments -> documents (positive control)
    for (const table of found) {
      expect(table.columns.slice(0, 2)).toEqual(['tenant_id', 'id']);
      for (const parent of table.references) expect(position.get(parent)).toBeLessThan(position.get(table.name)!);
    }
  });
});
