import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createDatabase, dropDatabase, runMigrations, withCredentials, withDatabase } from '../../src/database/provisioning';
import { OWNER_ROLE } from '../../src/database/schema/roles';
import { createTestDatabase, TestDatabase } from '../helpers/test-database';
import { TEST_ADMIN_KEY, TEST_ROLE_PASSWORDS } from '../helpers/test-env';
import { ensureBuilt } from '../helpers/built';

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

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let cwd: string;

function run(script: string, args: string[], env: Record<string, string>, options: { stdin?: string; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      cwd: options.cwd ?? cwd,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}

/** A TCP port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

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
  const superuser = () => process.env.TEST_PG_SUPERUSER_URL!;
  let name: string;
  let ownerUrl: string;

  beforeAll(async () => {
    // An empty database (roles and rights as `cli setup` leaves them), not a migrated clone.
    name = `tt_${process.env.TEST_RUN_ID}_cli_${randomBytes(3).toString('hex')}`;
    await createDatabase(superuser(), name);
    ownerUrl = withCredentials(withDatabase(superuser(), name), OWNER_ROLE, TEST_ROLE_PASSWORDS.owner);
  });
  afterAll(() => dropDatabase(superuser(), name));

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

describe('bench, bench:seed and bench:noisy command lines', () => {
  const BENCH = path.join(ROOT, 'bench', 'dist', 'run.js');
  const SEED = path.join(ROOT, 'bench', 'dist', 'seed-cli.js');
  const NOISY = path.join(ROOT, 'bench', 'dist', 'noisy.js');
  /** A flag each script's help must show, and a valid flag to put before an unknown one. */
  const FLAGS: Record<string, [string, string]> = { [BENCH]: ['--tenants', '1'], [SEED]: ['--tenants', '1'], [NOISY]: ['--rounds', '1'] };
  // An unreachable server: had anything started, it would fail on it (exit 1), not print help.
  const env = async () => ({ BENCH_DATABASE_URL: `postgres://postgres:x@127.0.0.1:${await closedPort()}/postgres` });

  it('--help prints usage and exits 0 without starting anything', async () => {
    for (const script of [BENCH, SEED, NOISY]) {
      const help = await run(script, ['--help'], await env());
      expect({ script, code: help.code }).toEqual({ script, code: 0 });
      expect(help.stdout).toMatch(/^Usage: /);
      expect(help.stdout).toContain(FLAGS[script][0]);
      expect(help.stderr).toBe('');
    }
  });

  it('refuses an unknown flag with exit 2 before anything runs (positive control: a valid command line gets as far as the database)', async () => {
    for (const script of [BENCH, SEED, NOISY]) {
      const refused = await run(script, [...FLAGS[script], '--bogus'], await env());
      expect({ script, code: refused.code }).toEqual({ script, code: 2 });
      expect(refused.stderr).toMatch(/unknown option '--bogus'/);
    }
    for (const [script, args] of [[SEED, ['--tenants', '1', '--docs-per-tenant', '1']], [NOISY, ['--rounds', '1']]] as const) {
      const started = await run(script, [...args], await env());
      expect({ script, code: started.code }).toEqual({ script, code: 1 });
      expect(started.stderr).toMatch(/ECONNREFUSED/);
    }
  });
});
