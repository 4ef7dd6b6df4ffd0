import { AppConfig } from './app-config';
import { InvalidEnvironmentError, parseEnv } from './env.schema';

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

  it('reports a missing required variable as required', () => {
    expect(() => parseEnv({ DATABASE_URL: valid.DATABASE_URL })).toThrow(/ADMIN_API_KEY: is required/);
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
