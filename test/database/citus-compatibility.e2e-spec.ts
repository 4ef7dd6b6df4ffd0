import { readFileSync } from 'node:fs';
import path from 'node:path';
import { is } from 'drizzle-orm';
import { getTableConfig, PgTable } from 'drizzle-orm/pg-core';
import pg from 'pg';
import * as schema from '../../src/database/schema';
import { isTenantTable } from '../../src/database/schema/tenant-table';
import {
  citusTables,
  distributionStatements,
  DistributionStatement,
  docDisagreements,
  foreignKeys,
  foreignKeysCitusRefuses,
  keysWithoutTenant,
  policiesCitusRefuses,
  triggersCitusRefuses,
} from '../helpers/citus';
import { createTestDatabase, tenantTables, TestDatabase } from '../helpers/test-database';

const SCALE_OUT_DOC = path.resolve(__dirname, '../../docs/scale-out.md');

/**
 * The migrated schema is ready to be distributed by Citus on tenant_id, as
 * docs/scale-out.md does it, and that document has a statement for every table.
 * There is no Citus server here: the rules Citus applies when it distributes a
 * table (test/helpers/citus.ts) are checked on the catalog of a plain migrated
 * database, and each check is shown to report a scratch schema of bad tables.
 */
describe('Citus compatibility of the migrated schema', () => {
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

  /**
   * A schema of tables that break each rule once (and some that keep them), created
   * inside a transaction that is rolled back: the checks must report exactly the
   * broken ones. `accounts` and `audit` are platform tables, the others tenant tables.
   */
  async function withBadScratchSchema<T>(fn: (scratch: string) => Promise<T>): Promise<T> {
    const scratch = 'citus_scratch';
    await client.query('begin');
    try {
      await client.query(`
        create schema ${scratch};
        create table ${scratch}.accounts (id uuid primary key);
        create table ${scratch}.docs (
          tenant_id uuid not null references ${scratch}.accounts (id) on delete cascade,
          id uuid not null,
          slug text,
          code text,
          primary key (tenant_id, id),
          constraint docs_code_key unique (code),
          constraint docs_code_excl exclude using btree (code with =),
          constraint docs_tenant_code_excl exclude using btree (tenant_id with =, code with =)
        );
        create unique index docs_slug_key on ${scratch}.docs (slug);
        create unique index docs_lower_code_key on ${scratch}.docs (lower(code)) where code is not null;
        create unique index docs_slug_include_key on ${scratch}.docs (slug) include (tenant_id);
        create unique index docs_tenant_lower_slug_key on ${scratch}.docs (tenant_id, lower(slug)) where slug is not null;
        create table ${scratch}.keyed_by_id (tenant_id uuid not null, id uuid primary key);
        create table ${scratch}.notes (
          tenant_id uuid not null,
          id uuid not null,
          doc_id uuid,
          other_id uuid,
          primary key (tenant_id, id),
          constraint notes_doc_fk foreign key (tenant_id, doc_id) references ${scratch}.docs (tenant_id, id) on delete cascade,
          constraint notes_other_fk foreign key (other_id) references ${scratch}.keyed_by_id (id),
          constraint notes_crossed_fk foreign key (doc_id, tenant_id) references ${scratch}.docs (tenant_id, id),
          constraint notes_doc_set_null_fk foreign key (tenant_id, doc_id) references ${scratch}.docs (tenant_id, id) on delete set null,
          constraint notes_account_fk foreign key (tenant_id) references ${scratch}.accounts (id) on update cascade
        );
        create table ${scratch}.audit (
          id uuid primary key,
          doc_tenant uuid,
          doc_id uuid,
          constraint audit_doc_fk foreign key (doc_tenant, doc_id) references ${scratch}.docs (tenant_id, id)
        );
        alter table ${scratch}.docs enable row level security;
        create policy docs_subquery on ${scratch}.docs using (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid));
        create policy docs_check_subquery on ${scratch}.docs for insert with check (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid));
        create policy docs_plain on ${scratch}.docs using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
        create function ${scratch}.touch() returns trigger language plpgsql as $$ begin return new; end $$;
        create trigger docs_touch before update on ${scratch}.docs for each row execute function ${scratch}.touch();
      `);
      return await fn(scratch);
    } finally {
      await client.query('rollback');
    }
  }

  it('finds the tables: the tenant tables declared with tenantTable() and the platform tables, as in the drizzle schema', async () => {
    const tables = await citusTables(client, 'public');
    // Positive control for every check below: they look at a non-trivial set of tables.
    expect(tables.tenant.length).toBeGreaterThanOrEqual(8);
    expect(tables.tenant).toEqual(expect.arrayContaining(['documents', 'comments', 'memberships', 'api_keys', 'attachments', 'invitations', 'usage_events', 'usage_counters']));
    expect(tables.platform).toEqual(expect.arrayContaining(['tenants', 'users', 'plans']));
    // The same split as the catalog tests' helper and as the declarations.
    expect(tables.tenant).toEqual(await tenantTables(client));
    const declared = (Object.values(schema) as unknown[]).filter((value): value is PgTable => is(value, PgTable));
    const names = (filter: (table: PgTable) => boolean) => declared.filter(filter).map((t) => getTableConfig(t).name).sort();
    expect(tables.tenant).toEqual(names((t) => isTenantTable(t)));
    expect(tables.platform).toEqual(names((t) => !isTenantTable(t)));

    const scratch = await withBadScratchSchema((s) => citusTables(client, s));
    expect(scratch).toEqual({ tenant: ['docs', 'keyed_by_id', 'notes'], platform: ['accounts', 'audit'] });
  });

  it('has tenant_id among the key columns of every primary key, unique or exclusion constraint and unique index (partial and expression ones too) of a tenant table', async () => {
    expect(await keysWithoutTenant(client, 'public')).toEqual([]);
    // Positive control: the same check reports each bad key of the scratch schema, and
    // neither the good composite keys nor the tenant-led partial expression index.
    expect(await withBadScratchSchema((s) => keysWithoutTenant(client, s))).toEqual([
      'docs: exclusion constraint docs_code_excl does not have tenant_id among its key columns',
      'docs: unique constraint docs_code_key does not have tenant_id among its key columns',
      'docs: unique index docs_lower_code_key (partial, expression) does not have tenant_id among its key columns',
      'docs: unique index docs_slug_include_key does not have tenant_id among its key columns',
      'docs: unique index docs_slug_key does not have tenant_id among its key columns',
      'keyed_by_id: primary key keyed_by_id_pkey does not have tenant_id among its key columns',
    ]);
  });

  it('has only foreign keys Citus accepts: tenant to tenant joined on tenant_id, tenant to platform, platform to platform; none from platform to tenant', async () => {
    const tenant = new Set((await citusTables(client, 'public')).tenant);
    const keys = await foreignKeys(client, 'public');
    // Positive control: the real schema has keys of the kinds the check looks at.
    expect(keys.filter((k) => tenant.has(k.source) && tenant.has(k.target)).map((k) => k.name)).toEqual(expect.arrayContaining(['comments_document_fk', 'attachments_document_fk']));
    expect(keys.filter((k) => tenant.has(k.source) && !tenant.has(k.target)).map((k) => k.name)).toEqual(expect.arrayContaining(['documents_tenant_fk', 'memberships_user_fk']));
    expect(keys.map((k) => k.name)).toContain('tenants_plan_fk');

    expect(await foreignKeysCitusRefuses(client, 'public')).toEqual([]);
    // Positive control: the scratch schema's bad keys, each reported once, and not
    // notes_doc_fk (composite, cascading delete) or docs' key to accounts.
    expect(await withBadScratchSchema((s) => foreignKeysCitusRefuses(client, s))).toEqual([
      'audit_doc_fk: audit -> docs goes from a platform (reference) table to a tenant (distributed) table',
      'notes_account_fk: ON UPDATE CASCADE on a key holding tenant_id',
      'notes_crossed_fk: notes -> docs does not join tenant_id to tenant_id',
      'notes_doc_set_null_fk: ON DELETE SET NULL on a key holding tenant_id',
      'notes_other_fk: notes -> keyed_by_id does not join tenant_id to tenant_id',
    ]);
  });

  it('pins what Citus still refuses today, which docs/scale-out.md describes: every policy (a scalar subquery) and the usage ledger trigger', async () => {
    const tables = await citusTables(client, 'public');
    const isolationPolicies = tables.tenant.map((table) => `${table}.${table}_tenant_isolation`);
    expect(await policiesCitusRefuses(client, 'public')).toEqual([...isolationPolicies, 'memberships.memberships_self_read'].sort());
    expect(await triggersCitusRefuses(client, 'public')).toEqual(['usage_events.usage_events_apply']);
    // Positive control: a USING or a WITH CHECK subquery is reported, a plain expression
    // is not; a user trigger is reported, the internal foreign key triggers are not.
    expect(await withBadScratchSchema((s) => policiesCitusRefuses(client, s))).toEqual(['docs.docs_check_subquery', 'docs.docs_subquery']);
    expect(await withBadScratchSchema((s) => triggersCitusRefuses(client, s))).toEqual(['docs.docs_touch']);

    // The document names what blocks and the setting that lets the trigger through.
    const doc = readFileSync(SCALE_OUT_DOC, 'utf8');
    expect(doc).toContain('Subqueries are not supported in policies on distributed tables');
    expect(doc).toContain('usage_events_apply');
    expect(doc).toContain('citus.enable_unsafe_triggers');
  });

  it('has a create_distributed_table or create_reference_table statement in docs/scale-out.md for every table, of the right kind, co-located, in foreign key order', async () => {
    const tables = await citusTables(client, 'public');
    const keys = await foreignKeys(client, 'public');
    const { statements, unparsed } = distributionStatements(readFileSync(SCALE_OUT_DOC, 'utf8'));
    expect(unparsed).toEqual([]);
    expect(docDisagreements(statements, tables, keys)).toEqual([]);
    expect(statements).toHaveLength(tables.tenant.length + tables.platform.length);

    // Positive controls, on the document's own statements changed one way each.
    const without = (table: string) => statements.filter((s) => s.table !== table);
    expect(docDisagreements(without('comments'), tables, keys)).toEqual(['comments: no statement']);
    expect(docDisagreements([...statements, { kind: 'reference', table: 'ghosts' }], tables, keys)).toEqual(['ghosts: no such table in the schema']);
    // (On a two-table schema: in the document's order a distributed users would also break co-location.)
    const usersDistributed: DistributionStatement[] = [
      { kind: 'distributed', table: 'users', column: 'tenant_id', colocateWith: 'none' },
      { kind: 'distributed', table: 'documents', column: 'tenant_id', colocateWith: 'users' },
    ];
    expect(docDisagreements(usersDistributed, { tenant: ['documents'], platform: ['users'] }, [])).toEqual(['users: a platform table, distributed']);
    expect(docDisagreements(statements.map((s) => (s.table === 'invitations' ? { kind: 'reference' as const, table: 'invitations' } : s)), tables, keys)).toEqual([
      'invitations: a tenant table, made a reference table',
    ]);
    expect(docDisagreements(statements.map((s) => (s.table === 'api_keys' && s.kind === 'distributed' ? { ...s, column: 'id' } : s)), tables, keys)).toEqual([
      'api_keys: distributed on id, not tenant_id',
    ]);
    expect(docDisagreements(statements.map((s) => (s.table === 'usage_events' && s.kind === 'distributed' ? { ...s, colocateWith: 'usage_events' } : s)), tables, keys)).toEqual([
      "usage_events: colocate_with => 'usage_events' is not a table distributed before it",
    ]);
    const users = statements.find((s) => s.table === 'users')!;
    expect(docDisagreements([...without('users'), users], tables, keys)).toEqual(['memberships: distributed before users, which its foreign key memberships_user_fk references']);
    // A call written in another form is not silently skipped.
    expect(distributionStatements("```sql\nSELECT create_distributed_table('documents', 'tenant_id');\n```\n")).toEqual({
      statements: [],
      unparsed: ["SELECT create_distributed_table('documents', 'tenant_id');"],
    });
  });

  it('has, outside schema public, only drizzle.__drizzle_migrations and the job queue (pgboss), which stay local tables on the coordinator as docs/scale-out.md says', async () => {
    const { rows } = await client.query<{ name: string }>(
      `select n.nspname || '.' || c.relname as name
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p') and n.nspname not in ('public', 'pg_catalog', 'information_schema') and n.nspname not like 'pg\\_toast%'
        order by 1`,
    );
    // pg-boss's tables, the queue's partition (j + a hash of its name) included.
    const queue = ['pgboss.archive', 'pgboss.job', 'pgboss.queue', 'pgboss.schedule', 'pgboss.subscription', 'pgboss.version'];
    expect(rows.map((r) => r.name).filter((name) => !/^pgboss\.j[0-9a-f]{56}$/.test(name))).toEqual(['drizzle.__drizzle_migrations', ...queue]);
    expect(rows.filter((r) => /^pgboss\.j[0-9a-f]{56}$/.test(r.name))).toHaveLength(1);
    expect(readFileSync(SCALE_OUT_DOC, 'utf8')).toContain('drizzle.__drizzle_migrations');
    expect(readFileSync(SCALE_OUT_DOC, 'utf8')).toContain('`pgboss`');
  });
});
