import { Env } from './env.schema';

/**
 * The validated configuration, grouped by concern. Injected as a class token so
 * consumers depend on a typed object, not on string keys.
 */
export class AppConfig {
  readonly env: Env['NODE_ENV'];
  readonly http: { host: string; port: number; adapter: Env['HTTP_ADAPTER'] };
  readonly logLevel: Env['LOG_LEVEL'];
  readonly database: {
    url: string;
    migrationUrl?: string;
    migrateOnBoot: boolean;
    poolSize: number;
    statementTimeoutMs: number;
  };
  readonly adminApiKey: string;
  readonly tenancy: { baseDomain: string; cacheTtlMs: number };

  constructor(env: Env) {
    this.env = env.NODE_ENV;
    this.http = { host: env.HOST, port: env.PORT, adapter: env.HTTP_ADAPTER };
    this.logLevel = env.LOG_LEVEL;
    this.database = {
      url: env.DATABASE_URL,
      migrationUrl: env.DATABASE_MIGRATION_URL,
      migrateOnBoot: env.MIGRATE_ON_BOOT,
      poolSize: env.DB_POOL_SIZE,
      statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS,
    };
    this.adminApiKey = env.ADMIN_API_KEY;
    this.tenancy = { baseDomain: env.TENANT_BASE_DOMAIN, cacheTtlMs: env.TENANT_CACHE_TTL_MS };
  }
}
