import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AppConfig } from './app-config';
import { InvalidEnvironmentError, migrateEnvSchema, parseEnv, setupEnvSchema, validateEnv } from './env.schema';

describe('parseEnv', () => {
  const valid = {
    DATABASE_URL: 'postgres://app_user:pw@localhost:5432/app',
    ADMIN_API_KEY: 'k'.repeat(32),
  };

  it('applies defaults to a minimal valid environment', () => {
    const env = parseEnv(valid);
    expect(env).toMatchObject({ PORT: 3000, HTTP_ADAPTER: expect.any(String), TENANT_CACHE_TTL_MS: 5000, DB_POOL_SIZE: 10, TENANT_BASE_DOMAIN: 'localhost' });
  });

  it('names every missing or bad variable in one error', () => {
    let message = '';
    try {
      parseEnv({ PORT: 'eighty', ADMIN_API_KEY: 'short', DATABASE_URL: 'mysql://x', TENANT_CACHE_TTL_MS: '-1' });
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidEnvironmentError);
      message = (error as Error).message;
    }
    expect(message).toMatch(/^Invalid environment variables:/);
    for (const name of ['PORT', 'ADMIN_API_KEY', 'DATABASE_URL', 'TENANT_CACHE_TTL_MS']) expect(message).toContain(`- ${name}:`);
  });

  it('reads EXPORT_RETENTION_DAYS: 30 by default, 0 keeps exports, negative or fractional refused', () => {
    expect(new AppConfig(parseEnv(valid)).exports).toEqual({ retentionDays: 30 });
    expect(new AppConfig(parseEnv({ ...valid, EXPORT_RETENTION_DAYS: '0' })).exports).toEqual({ retentionDays: 0 });
    expect(new AppConfig(parseEnv({ ...valid, EXPORT_RETENTION_DAYS: '7' })).exports).toEqual({ retentionDays: 7 });
    for (const bad of ['-1', '1.5', 'forever', '3651']) expect(() => parseEnv({ ...valid, EXPORT_RETENTION_DAYS: bad })).toThrow(/EXPORT_RETENTION_DAYS/);
  });

  it('reports a missing required variable as required', () => {
    expect(() => parseEnv({ DATABASE_URL: valid.DATABASE_URL })).toThrow(/ADMIN_API_KEY: is required/);
  });

  it('background tenant deletions: a 60 s lease, a 30 s sweep and a 60 s wait for running jobs by default; bounds checked at boot', () => {
    expect(new AppConfig(parseEnv(valid)).offboarding).toEqual({ leaseMs: 60_000, sweepIntervalMs: 30_000, jobsWaitMs: 60_000 });
    expect(new AppConfig(parseEnv({ ...valid, TENANT_DELETION_LEASE_MS: '2000', TENANT_DELETION_SWEEP_INTERVAL_MS: '200', TENANT_DELETION_JOBS_WAIT_MS: '0' })).offboarding).toEqual({
      leaseMs: 2_000,
      sweepIntervalMs: 200,
      jobsWaitMs: 0,
    });
    expect(() => parseEnv({ ...valid, TENANT_DELETION_JOBS_WAIT_MS: '-1' })).toThrow(/TENANT_DELETION_JOBS_WAIT_MS/);
    // A lease shorter than a renewal round trip, or a sweep that would hammer the database, is refused.
    expect(() => parseEnv({ ...valid, TENANT_DELETION_LEASE_MS: '100' })).toThrow(/TENANT_DELETION_LEASE_MS/);
    expect(() => parseEnv({ ...valid, TENANT_DELETION_SWEEP_INTERVAL_MS: '10' })).toThrow(/TENANT_DELETION_SWEEP_INTERVAL_MS/);
  });

  it('treats empty strings as unset', () => {
    expect(parseEnv({ ...valid, PORT: '' }).PORT).toBe(3000);
  });

  it('accepts ADMIN_API_KEY_PREVIOUS for a rotation, and refuses it equal to ADMIN_API_KEY', () => {
    expect(parseEnv({ ...valid, ADMIN_API_KEY_PREVIOUS: 'p'.repeat(32) }).ADMIN_API_KEY_PREVIOUS).toBe('p'.repeat(32));
    expect(() => parseEnv({ ...valid, ADMIN_API_KEY_PREVIOUS: valid.ADMIN_API_KEY })).toThrow(/ADMIN_API_KEY_PREVIOUS: must differ/);
    expect(() => parseEnv({ ...valid, ADMIN_API_KEY_PREVIOUS: 'short' })).toThrow(/ADMIN_API_KEY_PREVIOUS: must be at least 32/);
  });

  it('reads REDIS_CLUSTER_NODES as a list of host:port (IPv6 in brackets) and configures a cluster', () => {
    const env = parseEnv({ ...valid, REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-b.internal:7001,[::1]:7002' });
    expect(env.REDIS_CLUSTER_NODES).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: 'redis-b.internal', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
    expect(new AppConfig(env).cache.redis).toEqual({ kind: 'cluster', nodes: env.REDIS_CLUSTER_NODES });
    expect(new AppConfig(parseEnv({ ...valid, REDIS_URL: 'redis://127.0.0.1:6379' })).cache.redis).toEqual({ kind: 'server', url: 'redis://127.0.0.1:6379' });
    expect(new AppConfig(parseEnv(valid)).cache.redis).toBeUndefined();
  });

  it('refuses malformed or repeated cluster nodes, naming the entry (positive control: a single node passes)', () => {
    expect(parseEnv({ ...valid, REDIS_CLUSTER_NODES: '127.0.0.1:7000' }).REDIS_CLUSTER_NODES).toEqual([{ host: '127.0.0.1', port: 7000 }]);
    for (const [value, message] of [
      ['127.0.0.1', /"127.0.0.1" is not host:port/],
      ['127.0.0.1:0', /"127.0.0.1:0" is not host:port/],
      ['127.0.0.1:70000', /is not host:port/],
      ['redis://127.0.0.1:7000', /is not host:port/],
      ['127.0.0.1:7000,', /"" is not host:port/],
      ['::1:7000', /is not host:port/],
      ['127.0.0.1:7000,127.0.0.1:7000', /127.0.0.1:7000 is listed twice/],
    ] as const) {
      expect(() => parseEnv({ ...valid, REDIS_CLUSTER_NODES: value })).toThrow(message);
    }
  });

  it('refuses REDIS_URL and REDIS_CLUSTER_NODES together (positive control: each alone passes)', () => {
    expect(() => parseEnv({ ...valid, REDIS_URL: 'redis://127.0.0.1:6379' })).not.toThrow();
    expect(() => parseEnv({ ...valid, REDIS_CLUSTER_NODES: '127.0.0.1:7000' })).not.toThrow();
    expect(() => parseEnv({ ...valid, REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CLUSTER_NODES: '127.0.0.1:7000' })).toThrow(
      /REDIS_CLUSTER_NODES: REDIS_URL and REDIS_CLUSTER_NODES are set together: set REDIS_URL for one Redis server, or REDIS_CLUSTER_NODES for a Redis Cluster, not both/,
    );
  });
});

describe('TENANT_DATABASES and TENANT_DATABASES_FILE', () => {
  const databases = {
    'eu-big-1': { url: 'postgres://app_user:u-secret@db1/app', migrationUrl: 'postgres://app_owner:o-secret@db1/app' },
  };
  const migrate = { DATABASE_MIGRATION_URL: 'postgres://app_owner:pw@localhost:5432/app' };
  const setup = { DATABASE_ADMIN_URL: 'postgres://postgres:pw@localhost:5432/postgres', APP_OWNER_PASSWORD: 'o'.repeat(12), APP_USER_PASSWORD: 'u'.repeat(12) };
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'env-schema-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the dedicated databases inline or from the file, for the API and for the migrate command alike', () => {
    const file = path.join(dir, 'tenant-databases.json');
    writeFileSync(file, JSON.stringify(databases));
    const api = { DATABASE_URL: 'postgres://app_user:pw@localhost:5432/app', ADMIN_API_KEY: 'k'.repeat(32) };
    expect(parseEnv({ ...api, TENANT_DATABASES: JSON.stringify(databases) }).TENANT_DATABASES).toEqual(databases);
    expect(parseEnv({ ...api, TENANT_DATABASES_FILE: file }).TENANT_DATABASES).toEqual(databases);
    expect(validateEnv(migrateEnvSchema, { ...migrate, TENANT_DATABASES: JSON.stringify(databases) }).TENANT_DATABASES).toEqual(databases);
    expect(validateEnv(migrateEnvSchema, { ...migrate, TENANT_DATABASES_FILE: file }).TENANT_DATABASES).toEqual(databases);
    expect(validateEnv(migrateEnvSchema, migrate).TENANT_DATABASES).toEqual({});
  });

  it('refuses both set, an unreadable file or a bad entry through the migrate schema too (positive control above)', () => {
    const file = path.join(dir, 'tenant-databases.json');
    writeFileSync(file, JSON.stringify(databases));
    expect(() => validateEnv(migrateEnvSchema, { ...migrate, TENANT_DATABASES_FILE: file, TENANT_DATABASES: '{}' })).toThrow(/TENANT_DATABASES_FILE: TENANT_DATABASES is set too/);
    expect(() => validateEnv(migrateEnvSchema, { ...migrate, TENANT_DATABASES_FILE: path.join(dir, 'missing.json') })).toThrow(/TENANT_DATABASES_FILE: cannot read .*missing\.json \(ENOENT\)/);
    expect(() => validateEnv(migrateEnvSchema, { ...migrate, TENANT_DATABASES: '{"shared": {"url": "postgres://a@b/c", "migrationUrl": "postgres://a@b/c"}}' })).toThrow(/TENANT_DATABASES: "shared" is DATABASE_URL's database/);
  });

  it('leaves commands that do not read TENANT_DATABASES alone: setup passes with an unreadable TENANT_DATABASES_FILE', () => {
    const unreadable = { TENANT_DATABASES_FILE: path.join(dir, 'missing.json') };
    expect(validateEnv(setupEnvSchema, { ...setup, ...unreadable }).DATABASE_NAME).toBe('app');
    expect(() => validateEnv(migrateEnvSchema, { ...migrate, ...unreadable })).toThrow(InvalidEnvironmentError); // control: read where declared
  });
});

