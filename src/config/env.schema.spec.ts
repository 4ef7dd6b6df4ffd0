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
});
