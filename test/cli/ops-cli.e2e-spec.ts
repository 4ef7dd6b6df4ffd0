import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { MIGRATIONS_FOLDER, runMigrations } from '../../src/database/provisioning';
import { OWNER_ROLE } from '../../src/database/schema/roles';
import { createEmptyTestDatabase, createTestDatabase, TestDatabase } from '../helpers/test-database';
import { TEST_ADMIN_KEY, TEST_ROLE_PASSWORDS } from '../helpers/test-env';
import { ensureBuilt } from '../helpers/built';
import { closedPort } from '../helpers/closed-port';
import { ProcessResult, runNodeScript } from '../helpers/node-process';
import { createStandInVectorIndexes, vectorIndexTenantsOn } from '../helpers/vector-indexes';

/**
 * The built ops CLI (dist/cli/cli.js) and the bench entry points
 * (bench/dist/*.js), spawned as an operator would, against the test run's
 * PostgreSQL. Built once here (nest build + bench/build.js, ~15 s). Each
 * spawn gets an explicit environment and an empty temporary working
 * directory, so neither the developer's environment nor a .env in the
 * repository reaches it.
 */
const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'cli.js');

let cwd: string;

const run = (script: string, args: string[], env: Record<string, string>, options: { stdin?: string; cwd?: string } = {}): Promise<ProcessResult> =>
  runNodeScript(script, args, env, { cwd: options.cwd ?? cwd, stdin: options.stdin });

beforeAll(() => ensureBuilt({ bench: true }), 300_000);

beforeEach(() => (cwd = mkdtempSync(path.join(os.tmpdir(), 'ops-cli-'))));
afterEach(() => rmSync(cwd, { recursive: true, force: true }));

describe('ops CLI: tenants', () => {
  let db: TestDatabase;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase();
    env = { NODE_ENV: 'test', LOG_LEVEL: 'warn', DATABASE_URL: db.appUrl, ADMIN_API_KEY: TEST_ADMIN_KEY };
  });
  afterAll(() => db.drop());

  it('creates, lists (--json), shows, suspends and resumes a tenant', async () => {
    const created = await run(CLI, ['tenants', 'create', '--slug', 'cli-acme', '--name', 'CLI Acme', '--json'], env);
    expect(created).toMatchObject({ code: 0, stderr: '' });
    const tenant = JSON.parse(created.stdout);
    expect(tenant).toMatchObject({ slug: 'cli-acme', name: 'CLI Acme', status: 'active', id: expect.stringMatching(/^[0-9a-f-]{36}$/) });

    const second = await run(CLI, ['tenants', 'create', '--slug', 'cli-globex', '--name', 'CLI Globex'], env);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/slug\s+cli-globex/);

    const listed = await run(CLI, ['tenants', 'list', '--json', '--page-size', '1'], env);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout).map((t: { slug: string }) => t.slug)).toEqual(['cli-acme', 'cli-globex']);

    const table = await run(CLI, ['tenants', 'list'], env);
    expect(table.stdout.split('\n')[0]).toMatch(/^SLUG\s+ID\s+STATUS/);

    for (const name of [tenant.id, 'cli-acme']) {
      const shown = await run(CLI, ['tenants', 'show', name, '--json'], env);
      expect(shown.code).toBe(0);
      expect(JSON.parse(shown.stdout)).toEqual(tenant);
    }

    const suspended = await run(CLI, ['tenants', 'suspend', 'cli-acme', '--json'], env);
    expect(suspended.code).toBe(0);
    expect(JSON.parse(suspended.stdout)).toMatchObject({ id: tenant.id, status: 'suspended' });
    expect(JSON.parse((await run(CLI, ['tenants', 'show', 'cli-acme', '--json'], env)).stdout).status).toBe('suspended');

    const resumed = await run(CLI, ['tenants', 'resume', tenant.id], env);
    expect(resumed).toMatchObject({ code: 0, stdout: `cli-acme (${tenant.id}) is active\n` });
  });

  it('creates a tenant with its first owner, the password read from stdin', async () => {
    const created = await run(
      CLI,
      ['tenants', 'create', '--slug', 'cli-owned', '--name', 'Owned', '--owner-email', 'owner@cli.test', '--owner-password-stdin', '--json'],
      env,
      { stdin: 'a-long-owner-password\n' },
    );
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout).owner).toMatchObject({ member: { email: 'owner@cli.test', role: 'owner' }, invitation: null });
  });

  it('lists plans and puts a tenant on a plan with overrides (and clears them)', async () => {
    const plans = await run(CLI, ['plans', 'list', '--json'], env);
    expect(plans.code).toBe(0);
    expect(JSON.parse(plans.stdout).map((p: { id: string }) => p.id)).toEqual(['enterprise', 'free', 'pro']);
    expect(JSON.parse((await run(CLI, ['plans', 'show', 'free', '--json'], env)).stdout).limits.requests_per_minute).toBe(1000);

    expect((await run(CLI, ['tenants', 'create', '--slug', 'cli-planned', '--name', 'Planned'], env)).code).toBe(0);
    const set = await run(CLI, ['tenants', 'plan', 'cli-planned', '--plan', 'free', '--feature', 'attachments=on', '--limit', 'documents=5', '--limit', 'members=unlimited', '--json'], env);
    expect(set.code).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ plan: 'free', planOverrides: { features: { attachments: true }, limits: { documents: 5, members: null } } });
    expect(JSON.parse((await run(CLI, ['tenants', 'show', 'cli-planned', '--json'], env)).stdout).planOverrides.limits.documents).toBe(5);

    // Refused before anything is written: a malformed override, an unknown feature, an unknown plan (exit 1, from the service).
    expect((await run(CLI, ['tenants', 'plan', 'cli-planned', '--plan', 'pro', '--limit', 'documents=lots'], env)).code).toBe(2);
    expect((await run(CLI, ['tenants', 'plan', 'cli-planned', '--plan', 'pro', '--feature', 'teleport=on'], env)).code).toBe(2);
    expect((await run(CLI, ['tenants', 'plan', 'cli-planned', '--plan', 'no-such-plan'], env)).code).toBe(1);
    expect(JSON.parse((await run(CLI, ['tenants', 'show', 'cli-planned', '--json'], env)).stdout).plan).toBe('free');

    const cleared = await run(CLI, ['tenants', 'plan', 'cli-planned', '--plan', 'pro'], env);
    expect(cleared).toMatchObject({ code: 0, stdout: expect.stringMatching(/is on pro, overrides \{\}/) });
  });

  it('deletes a tenant, verified, and prints the report (tenants delete --json)', async () => {
    // Made directly (one CLI spawn is enough here): a tenant with a row in a tenant table.
    const su = new pg.Client({ connectionString: db.superuserUrl });
    await su.connect();
    let tenantId: string;
    try {
      tenantId = (await su.query<{ id: string }>("insert into tenants (slug, name) values ('cli-doomed', 'Doomed') returning id")).rows[0].id;
      await su.query("insert into documents (tenant_id, title) values ($1, 'doomed doc')", [tenantId]);
    } finally {
      await su.end();
    }
    const deleted = await run(CLI, ['tenants', 'delete', 'cli-doomed', '--confirm', 'cli-doomed', '--reason', 'closed account', '--json'], { ...env, DATABASE_MIGRATION_URL: db.ownerUrl });
    expect(deleted.code).toBe(0);
    const report = JSON.parse(deleted.stdout);
    expect(report).toMatchObject({ tenantId, tenantSlug: 'cli-doomed', status: 'completed', reason: 'closed account', requestedBy: expect.stringMatching(/^cli:/), verification: { ok: true } });
    expect(report.deleted.rows.documents).toBe(1);
    const check = new pg.Client({ connectionString: db.superuserUrl });
    await check.connect();
    try {
      expect((await check.query('select 1 from tenants where id = $1', [tenantId])).rowCount).toBe(0);
      expect((await check.query('select 1 from documents where tenant_id = $1', [tenantId])).rowCount).toBe(0);
      expect((await check.query('select status from tenant_deletions where id = $1', [report.id])).rows).toEqual([{ status: 'completed' }]);
    } finally {
      await check.end();
    }
  });

  it('tenants delete goes through the lease: refused while another run holds the deletion (nothing changed), takes it over once that lease expired', async () => {
    const su = new pg.Client({ connectionString: db.superuserUrl });
    await su.connect();
    const owner = { ...env, DATABASE_MIGRATION_URL: db.ownerUrl };
    try {
      const tenantId = (await su.query<{ id: string }>("insert into tenants (slug, name) values ('cli-held', 'Held') returning id")).rows[0].id;
      await su.query("insert into documents (tenant_id, title) values ($1, 'held doc')", [tenantId]);
      // An API instance's background run holds the deletion (started, its lease live for an hour).
      const reportId = (
        await su.query<{ id: string }>(
          "insert into tenant_deletions (deleted_tenant_id, tenant_slug, database, requested_by, status, attempts, lease_owner, lease_expires_at) values ($1, 'cli-held', 'shared', 'admin-key:000000000000', 'running', 1, 'api-host:4242:0badc0de', now() + interval '1 hour') returning id",
          [tenantId],
        )
      ).rows[0].id;
      const refused = await run(CLI, ['tenants', 'delete', 'cli-held', '--confirm', 'cli-held', '--json'], owner);
      expect(refused.code).toBe(1);
      expect(refused.stdout).toBe('');
      expect(refused.stderr).toContain(`The tenant deletion ${reportId} is running elsewhere (lease held by api-host:4242:0badc0de`);
      expect(refused.stderr).toContain('code: CONFLICT');
      // Nothing done: the tenant still active with its row, the report untouched.
      expect((await su.query('select status from tenants where id = $1', [tenantId])).rows).toEqual([{ status: 'active' }]);
      expect((await su.query('select 1 from documents where tenant_id = $1', [tenantId])).rowCount).toBe(1);
      expect((await su.query('select attempts, lease_owner, jsonb_array_length(steps) as steps from tenant_deletions where id = $1', [reportId])).rows).toEqual([{ attempts: 1, lease_owner: 'api-host:4242:0badc0de', steps: 0 }]);

      // That run died: its lease expired. The CLI takes the same report over and finishes it.
      await su.query("update tenant_deletions set lease_expires_at = now() - interval '1 second' where id = $1", [reportId]);
      const taken = await run(CLI, ['tenants', 'delete', 'cli-held', '--confirm', 'cli-held', '--json'], owner);
      expect(taken.code).toBe(0);
      expect(JSON.parse(taken.stdout)).toMatchObject({ id: reportId, status: 'completed', attempts: 2, leaseOwner: null, verification: { ok: true }, deleted: { rows: { documents: 1 } } });
      expect((await su.query('select 1 from tenants where id = $1', [tenantId])).rowCount).toBe(0);
    } finally {
      await su.end();
    }
  });

  it('exports a tenant to a file and imports it into a new tenant (tenants export --out, tenants import --slug); refuses a broken archive', async () => {
    const su = new pg.Client({ connectionString: db.superuserUrl });
    await su.connect();
    const owner = { ...env, DATABASE_MIGRATION_URL: db.ownerUrl };
    try {
      const tenantId = (await su.query<{ id: string }>("insert into tenants (slug, name) values ('cli-exported', 'Exported') returning id")).rows[0].id;
      const doc = (await su.query<{ id: string }>("insert into documents (tenant_id, title) values ($1, 'exported doc') returning id", [tenantId])).rows[0].id;
      await su.query("insert into comments (tenant_id, document_id, body) values ($1, $2, 'exported comment')", [tenantId, doc]);

      const out = path.join(cwd, 'cli-exported.tar.gz');
      const exported = await run(CLI, ['tenants', 'export', 'cli-exported', '--out', out, '--json'], owner);
      expect(exported.code).toBe(0);
      const view = JSON.parse(exported.stdout);
      expect(view).toMatchObject({ tenantId, status: 'succeeded', archiveKey: `tenants/${tenantId}/exports/${view.id}.tar.gz`, out });
      expect(view.tables.documents.count).toBe(1);
      expect(view.tables.comments.count).toBe(1);
      expect(readFileSync(out).length).toBe(view.sizeBytes);
      // Refuses to overwrite a file (exit 2, nothing exported).
      expect((await run(CLI, ['tenants', 'export', 'cli-exported', '--out', out], owner)).code).toBe(2);

      const imported = await run(CLI, ['tenants', 'import', out, '--slug', 'cli-imported', '--json'], owner);
      expect(imported.code).toBe(0);
      const result = JSON.parse(imported.stdout);
      expect(result).toMatchObject({ tenant: { slug: 'cli-imported', name: 'Exported', created: true }, source: { tenantId, slug: 'cli-exported' } });
      expect(result.rows).toMatchObject({ documents: 1, comments: 1 });
      const copied = await su.query('select d.id, d.title, c.body from documents d join comments c on c.tenant_id = d.tenant_id and c.document_id = d.id where d.tenant_id = $1', [result.tenant.id]);
      expect(copied.rows).toEqual([{ id: doc, title: 'exported doc', body: 'exported comment' }]);

      // A broken archive: exit 1, ARCHIVE_INVALID named, no tenant created.
      const broken = path.join(cwd, 'broken.tar.gz');
      writeFileSync(broken, 'not an archive');
      const refused = await run(CLI, ['tenants', 'import', broken, '--slug', 'cli-broken'], owner);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/archive is not valid/);
      expect((await su.query("select 1 from tenants where slug = 'cli-broken'")).rowCount).toBe(0);
      expect((await run(CLI, ['tenants', 'import', out, '--slug', 'a-b-c', '--into', 'cli-exported'], owner)).code).toBe(2);
    } finally {
      await su.end();
    }
  });

  it("tenants vector-index: without pgvector, exit 1 saying so and nothing built; vector-indexes lists a tenant's indexes, --drop removes only its own", async () => {
    const ownerEnv = { ...env, DATABASE_MIGRATION_URL: db.ownerUrl };
    const made = await run(CLI, ['tenants', 'create', '--slug', 'cli-vectors', '--name', 'Vectors', '--json'], env);
    const other = await run(CLI, ['tenants', 'create', '--slug', 'cli-vectors-b', '--name', 'Vectors B', '--json'], env);
    const [tenant, otherTenant] = [JSON.parse(made.stdout), JSON.parse(other.stdout)];

    const refused = await run(CLI, ['tenants', 'vector-index', 'cli-vectors'], ownerEnv);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/database "shared" has no pgvector extension \(0\.8 or later\)/);
    expect(await vectorIndexTenantsOn(db.superuserUrl)).not.toContain(tenant.id);

    // Indexes by the names it gives them (stand-ins: btree, no pgvector here), for both tenants.
    await createStandInVectorIndexes(db.superuserUrl, tenant.id);
    await createStandInVectorIndexes(db.superuserUrl, otherTenant.id);
    const listed = await run(CLI, ['tenants', 'vector-indexes', '--json'], ownerEnv);
    expect(listed.code).toBe(0);
    const indexes = JSON.parse(listed.stdout) as { tenantId: string; metric: string; valid: boolean }[];
    expect(indexes.filter((index) => index.tenantId === tenant.id).map((index) => [index.metric, index.valid])).toEqual([['cosine', true], ['inner_product', true]]);

    const dropped = await run(CLI, ['tenants', 'vector-index', 'cli-vectors', '--drop'], ownerEnv);
    expect(dropped).toMatchObject({ code: 0, stdout: `cli-vectors (${tenant.id}) on shared: 2 index(es) dropped\n` });
    const left = await vectorIndexTenantsOn(db.superuserUrl);
    expect(left).not.toContain(tenant.id);
    expect(left.filter((id) => id === otherTenant.id)).toHaveLength(2);
    // Without the owner connection: a clear error, nothing dropped.
    const noOwner = await run(CLI, ['tenants', 'vector-index', 'cli-vectors-b', '--drop'], env);
    expect(noOwner.code).toBe(1);
    expect(noOwner.stderr).toMatch(/DATABASE_MIGRATION_URL/);
    expect((await vectorIndexTenantsOn(db.superuserUrl)).filter((id) => id === otherTenant.id)).toHaveLength(2);
  });

  it('refuses an invalid slug with exit 2 before touching the database, and a missing tenant with exit 1', async () => {
    const invalid = await run(CLI, ['tenants', 'create', '--slug', 'X', '--name', 'Bad'], env);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/invalid tenant/);
    const missing = await run(CLI, ['tenants', 'show', 'no-such-tenant'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/Tenant not found/);
  });

  it('refuses an unknown flag with exit 2 and runs nothing (positive control: the same command without it)', async () => {
    const refused = await run(CLI, ['tenants', 'create', '--slug', 'cli-typo', '--name', 'Typo', '--plna', 'pro'], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/unknown option '--plna'/);
    expect((await run(CLI, ['tenants', 'show', 'cli-typo'], env)).code).toBe(1);

    const accepted = await run(CLI, ['tenants', 'create', '--slug', 'cli-typo', '--name', 'Typo', '--plan', 'pro'], env);
    expect(accepted.code).toBe(0);
    expect((await run(CLI, ['tenants', 'show', 'cli-typo'], env)).code).toBe(0);
  });

  it('prints the root cause of an unreachable database and exits 1', async () => {
    const port = await closedPort();
    const unreachable = await run(CLI, ['tenants', 'list'], { ...env, DATABASE_URL: `postgres://app_user:x@127.0.0.1:${port}/app` });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain(`connect ECONNREFUSED 127.0.0.1:${port}`);
    expect(unreachable.stdout).toBe('');
  });
});

describe('ops CLI: migrate', () => {
  let db: TestDatabase;
  let ownerUrl: string;

  beforeAll(async () => {
    // An empty database (roles and rights as `cli setup` leaves them), not a migrated clone.
    db = await createEmptyTestDatabase('cli');
    ownerUrl = db.ownerUrl;
  });
  afterAll(() => db.drop());

  const status = async () => JSON.parse((await run(CLI, ['migrate', '--status', '--json'], { DATABASE_MIGRATION_URL: ownerUrl })).stdout) as Array<{ migration: string; status: string }>;

  it('reports every migration pending, applies them, then reports them applied; drizzle\'s migrator agrees', async () => {
    const before = await status();
    expect(before.length).toBeGreaterThan(5);
    expect(before.every((m) => m.status === 'pending')).toBe(true);

    const applied = await run(CLI, ['migrate', '--json'], { DATABASE_MIGRATION_URL: ownerUrl });
    expect(applied.code).toBe(0);
    expect(JSON.parse(applied.stdout).applied).toEqual(before.map((m) => m.migration));

    expect((await status()).every((m) => m.status === 'applied')).toBe(true);
    const again = await run(CLI, ['migrate'], { DATABASE_MIGRATION_URL: ownerUrl });
    expect(again).toMatchObject({ code: 0, stdout: 'up to date: no pending migration\n' });

    // The same bookkeeping as drizzle's migrate (embedded mode, MIGRATE_ON_BOOT, the tests' template): it finds nothing to do.
    const rows = async () => {
      const client = new pg.Client({ connectionString: ownerUrl });
      await client.connect();
      try {
        return (await client.query('select hash, created_at from drizzle.__drizzle_migrations order by id')).rows;
      } finally {
        await client.end();
      }
    };
    const bookkeeping = await rows();
    await runMigrations(ownerUrl);
    expect(await rows()).toEqual(bookkeeping);
  });

  it('reads a migrated clone as up to date (human output)', async () => {
    const clone = await createTestDatabase();
    try {
      const shown = await run(CLI, ['migrate', '--status'], { DATABASE_MIGRATION_URL: clone.ownerUrl });
      expect(shown.code).toBe(0);
      expect(shown.stdout).toMatch(/^MIGRATION\s+STATUS\n0000_init\s+applied\n/);
      expect(shown.stdout).toMatch(/up to date\n$/);
    } finally {
      await clone.drop();
    }
  });

  it('prints the root cause of an unreachable database with exit 1, and a missing variable by name', async () => {
    const port = await closedPort();
    for (const args of [['migrate'], ['migrate', '--status']]) {
      const failed = await run(CLI, args, { DATABASE_MIGRATION_URL: `postgres://app_owner:x@127.0.0.1:${port}/app` });
      expect(failed.code).toBe(1);
      expect(failed.stderr).toContain(`error: connect ECONNREFUSED 127.0.0.1:${port}`);
    }
    const missing = await run(CLI, ['migrate', '--status'], {});
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/DATABASE_MIGRATION_URL: is required/);
  });

  it('reads .env from the working directory, and the real environment wins over it', async () => {
    const port = await closedPort();
    writeFileSync(path.join(cwd, '.env'), `DATABASE_MIGRATION_URL=${ownerUrl}\n`);
    expect((await run(CLI, ['migrate', '--status'], {})).code).toBe(0);

    writeFileSync(path.join(cwd, '.env'), `DATABASE_MIGRATION_URL=postgres://app_owner:x@127.0.0.1:${port}/app\n`);
    expect((await run(CLI, ['migrate', '--status'], {})).code).toBe(1); // control: the file is what was read
    expect((await run(CLI, ['migrate', '--status'], { DATABASE_MIGRATION_URL: ownerUrl })).code).toBe(0);
  });
});

describe('ops CLI: migrate --all (the shared database and every TENANT_DATABASES entry)', () => {
  const TAGS = (JSON.parse(readFileSync(path.join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8')) as { entries: Array<{ tag: string }> }).entries.map((e) => e.tag);
  /** 0010_usage_ledger creates usage_events: a database holding one already fails there, after 0000-0009. */
  const FAILING = TAGS.indexOf('0010_usage_ledger');
  const dbs: TestDatabase[] = [];
  afterAll(() => Promise.all(dbs.map((db) => db.drop())));
  const track = async (db: Promise<TestDatabase>) => {
    dbs.push(await db);
    return dbs[dbs.length - 1];
  };
  const asOwner = async (db: TestDatabase, sql: string) => {
    const client = new pg.Client({ connectionString: db.ownerUrl });
    await client.connect();
    await client.query(sql).finally(() => client.end());
  };
  /** The environment of a deployment with `dedicated` placed databases (name -> database). */
  const envFor = (shared: TestDatabase, dedicated: Record<string, TestDatabase>) => ({
    DATABASE_MIGRATION_URL: shared.ownerUrl,
    TENANT_DATABASES: JSON.stringify(Object.fromEntries(Object.entries(dedicated).map(([name, db]) => [name, { url: db.appUrl, migrationUrl: db.ownerUrl }]))),
  });
  const json = (out: ProcessResult) => JSON.parse(out.stdout).databases as Array<Record<string, unknown>>;

  it('lists each database\'s version, migrates the behind ones (shared: nothing to do), then lists them current; TENANT_DATABASES_FILE works the same', async () => {
    const shared = await track(createTestDatabase());
    const [euOne, euTwo] = [await track(createEmptyTestDatabase('cli_all')), await track(createEmptyTestDatabase('cli_all'))];
    const env = envFor(shared, { 'eu-one': euOne, 'eu-two': euTwo });

    const before = await run(CLI, ['migrate', '--status', '--all', '--json'], env);
    expect(before.code).toBe(0);
    expect(json(before)).toEqual([
      { database: 'shared', state: 'current', applied: TAGS.length, latest: TAGS[TAGS.length - 1], pending: 0 },
      { database: 'eu-one', state: 'behind', applied: 0, latest: null, pending: TAGS.length },
      { database: 'eu-two', state: 'behind', applied: 0, latest: null, pending: TAGS.length },
    ]);

    // Without --all only the shared database is touched, and the CLI says so.
    const sharedOnly = await run(CLI, ['migrate', '--status'], env);
    expect(sharedOnly).toMatchObject({ code: 0, stderr: expect.stringContaining('2 dedicated database(s) in TENANT_DATABASES are not touched (add --all)') });

    const migrated = await run(CLI, ['migrate', '--all', '--concurrency', '2', '--json'], env);
    expect(migrated.code).toBe(0);
    expect(json(migrated).map(({ database, outcome, applied, error }) => ({ database, outcome, applied, error }))).toEqual([
      { database: 'shared', outcome: 'up-to-date', applied: [], error: undefined },
      { database: 'eu-one', outcome: 'migrated', applied: TAGS, error: undefined },
      { database: 'eu-two', outcome: 'migrated', applied: TAGS, error: undefined },
    ]);
    expect(json(migrated).every((result) => typeof result.ms === 'number')).toBe(true);

    const file = path.join(cwd, 'tenant-databases.json');
    writeFileSync(file, env.TENANT_DATABASES);
    const fromFile = { DATABASE_MIGRATION_URL: env.DATABASE_MIGRATION_URL, TENANT_DATABASES_FILE: file };
    const after = await run(CLI, ['migrate', '--status', '--all', '--json'], fromFile);
    expect(json(after).map((version) => [version.database, version.state, version.pending])).toEqual([
      ['shared', 'current', 0],
      ['eu-one', 'current', 0],
      ['eu-two', 'current', 0],
    ]);
    const table = await run(CLI, ['migrate', '--status', '--all'], fromFile);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^DATABASE\s+STATE\s+APPLIED\s+PENDING\s+LATEST\s*\nshared\s+current\s/);
    expect(table.stdout).toMatch(/no database behind\n$/);
  });

  it('a database failing part-way: exit 1 naming it; stop leaves the later ones not started, continue migrates them; the re-run resumes; no password printed', async () => {
    const shared = await track(createTestDatabase());
    const [bad, good, late] = [await track(createEmptyTestDatabase('cli_all')), await track(createEmptyTestDatabase('cli_all')), await track(createEmptyTestDatabase('cli_all'))];
    await asOwner(bad, 'create table public.usage_events (obstacle int)');
    const env = envFor(shared, { 'eu-bad': bad, 'eu-good': good, 'eu-late': late });
    const outcomes = (out: ProcessResult) => json(out).map(({ database, outcome, applied }) => [database, outcome, (applied as string[]).length]);

    const stopped = await run(CLI, ['migrate', '--all', '--concurrency', '1', '--json'], env);
    expect(stopped.code).toBe(1);
    expect(outcomes(stopped)).toEqual([
      ['shared', 'up-to-date', 0],
      ['eu-bad', 'failed', FAILING],
      ['eu-good', 'not-started', 0],
      ['eu-late', 'not-started', 0],
    ]);
    expect(json(stopped)[1].error).toBe('migration 0010_usage_ledger failed: relation "usage_events" already exists');
    expect(stopped.stderr).toContain('error: 1 of 4 databases failed to migrate: eu-bad; 2 not started (--on-failure stop)');

    const continued = await run(CLI, ['migrate', '--all', '--on-failure', 'continue', '--json'], env);
    expect(continued.code).toBe(1);
    // eu-bad kept 0000-0009 from the first run: nothing more applies before the same failure.
    expect(outcomes(continued)).toEqual([
      ['shared', 'up-to-date', 0],
      ['eu-bad', 'failed', 0],
      ['eu-good', 'migrated', TAGS.length],
      ['eu-late', 'migrated', TAGS.length],
    ]);

    await asOwner(bad, 'drop table public.usage_events');
    const resumed = await run(CLI, ['migrate', '--all'], env);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/^DATABASE\s+OUTCOME\s+APPLIED\s+TIME\s*\nshared\s+up-to-date\s+0\s/);
    expect(resumed.stdout).toMatch(new RegExp(`\\neu-bad\\s+migrated\\s+${TAGS.length - FAILING}\\s`));
    expect(resumed.stdout).toMatch(/1 migrated, 3 up to date, 0 failed, 0 not started\n$/);

    for (const out of [stopped, continued, resumed]) expect(out.stdout + out.stderr).not.toContain(TEST_ROLE_PASSWORDS.owner);
  });

  it('refuses a bad --concurrency or --on-failure, or either without --all, with exit 2 before connecting (positive control: valid flags reach the database)', async () => {
    const port = await closedPort();
    const env = {
      DATABASE_MIGRATION_URL: `postgres://${OWNER_ROLE}:x@127.0.0.1:${port}/app`,
      TENANT_DATABASES: JSON.stringify({ 'eu-one': { url: `postgres://app_user:x@127.0.0.1:${port}/app`, migrationUrl: `postgres://${OWNER_ROLE}:x@127.0.0.1:${port}/app` } }),
    };
    for (const args of [
      ['migrate', '--all', '--concurrency', '0'],
      ['migrate', '--all', '--concurrency', 'two'],
      ['migrate', '--all', '--on-failure', 'maybe'],
      ['migrate', '--concurrency', '2'],
      ['migrate', '--on-failure', 'continue'],
      ['migrate', '--status', '--all', '--on-failure', 'stop'],
    ]) {
      const refused = await run(CLI, args, env);
      expect({ args, code: refused.code, stdout: refused.stdout }).toEqual({ args, code: 2, stdout: '' });
    }
    const reached = await run(CLI, ['migrate', '--all', '--concurrency', '2', '--on-failure', 'continue', '--json'], env);
    expect(reached.code).toBe(1);
    expect(json(reached).map((result) => [result.database, result.outcome])).toEqual([
      ['shared', 'failed'],
      ['eu-one', 'failed'],
    ]);
    expect(json(reached)[1].error).toContain(`ECONNREFUSED 127.0.0.1:${port}`);
    const status = await run(CLI, ['migrate', '--status', '--all', '--concurrency', '2', '--json'], env);
    expect(status.code).toBe(1);
    expect(json(status).map((version) => version.state)).toEqual(['unreachable', 'unreachable']);
    expect(status.stderr).toContain('error: 2 of 2 databases could not be read: shared, eu-one');

    const badConfig = await run(CLI, ['migrate', '--all'], { ...env, TENANT_DATABASES: '{"shared": {}}' });
    expect(badConfig.code).toBe(1);
    expect(badConfig.stderr).toMatch(/TENANT_DATABASES: /);
  });
});

describe('ops CLI: command line', () => {
  it('prints --help for every command and exits 0 without connecting anywhere', async () => {
    for (const args of [['--help'], ['tenants', '--help'], ['tenants', 'list', '--help'], ['tenants', 'create', '--help'], ['migrate', '--help'], ['admin-key', 'rotate', '--help']]) {
      const help = await run(CLI, args, {});
      expect({ args, code: help.code }).toEqual({ args, code: 0 });
      expect(help.stdout).toMatch(/^Usage: /);
    }
  });

  it('refuses an unknown command, flag or extra argument with exit 2', async () => {
    for (const args of [['tenant'], ['migrate', '--stats'], ['tenants', 'show'], ['admin-key', 'rotate', 'now'], []]) {
      const refused = await run(CLI, args, {});
      expect({ args, code: refused.code }).toEqual({ args, code: 2 });
    }
  });

  it('admin-key rotate prints a strong new key and the overlap steps', async () => {
    const first = await run(CLI, ['admin-key', 'rotate', '--json'], {});
    const second = await run(CLI, ['admin-key', 'rotate', '--json'], {});
    expect(first.code).toBe(0);
    const { key, steps } = JSON.parse(first.stdout);
    expect(key).toMatch(/^adm_[A-Za-z0-9_-]{43}$/);
    expect(JSON.parse(second.stdout).key).not.toBe(key);
    expect(steps.join(' ')).toContain('ADMIN_API_KEY_PREVIOUS');
  });
});

describe('bench, bench:seed, bench:noisy, bench:scale-out and bench:move command lines', () => {
  const BENCH = path.join(ROOT, 'bench', 'dist', 'run.js');
  const SEED = path.join(ROOT, 'bench', 'dist', 'seed-cli.js');
  const NOISY = path.join(ROOT, 'bench', 'dist', 'noisy.js');
  const SCALE_OUT = path.join(ROOT, 'bench', 'dist', 'scale-out.js');
  const MOVE = path.join(ROOT, 'bench', 'dist', 'move.js');
  /** A flag each script's help must show, and a valid flag to put before an unknown one. */
  const FLAGS: Record<string, [string, string]> = { [BENCH]: ['--tenants', '1'], [SEED]: ['--tenants', '1'], [NOISY]: ['--rounds', '1'], [SCALE_OUT]: ['--dedicated', '1'], [MOVE]: ['--docs', '1'] };
  // An unreachable server: had anything started, it would fail on it (exit 1), not print help.
  const env = async () => ({ BENCH_DATABASE_URL: `postgres://postgres:x@127.0.0.1:${await closedPort()}/postgres` });

  it('--help prints usage and exits 0 without starting anything', async () => {
    for (const script of [BENCH, SEED, NOISY, SCALE_OUT, MOVE]) {
      const help = await run(script, ['--help'], await env());
      expect({ script, code: help.code }).toEqual({ script, code: 0 });
      expect(help.stdout).toMatch(/^Usage: /);
      expect(help.stdout).toContain(FLAGS[script][0]);
      expect(help.stderr).toBe('');
    }
  });

  it('refuses an unknown flag with exit 2 before anything runs (positive control: a valid command line gets as far as the database)', async () => {
    for (const script of [BENCH, SEED, NOISY, SCALE_OUT, MOVE]) {
      const refused = await run(script, [...FLAGS[script], '--bogus'], await env());
      expect({ script, code: refused.code }).toEqual({ script, code: 2 });
      expect(refused.stderr).toMatch(/unknown option '--bogus'/);
    }
    // A pool budget the API would refuse at boot (below DB_POOL_SIZE + DB_POOL_SIZE_PER_DATABASE) is refused here first.
    const tight = await run(SCALE_OUT, ['--tight-budget', '5'], await env());
    expect(tight.code).toBe(2);
    expect(tight.stderr).toMatch(/--tight-budget must be 0 or at least/);
    for (const [script, args] of [
      [SEED, ['--tenants', '1', '--docs-per-tenant', '1']],
      [NOISY, ['--rounds', '1']],
      [SCALE_OUT, ['--rounds', '1']],
      [MOVE, ['--rounds', '1']],
    ] as const) {
      const started = await run(script, [...args], await env());
      expect({ script, code: started.code }).toEqual({ script, code: 1 });
      expect(started.stderr).toMatch(/ECONNREFUSED/);
    }
  });
});
