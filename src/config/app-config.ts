import path from 'node:path';
import { Env, RedisClusterNode, TenantDatabaseSettings } from './env.schema';

/**
 * Where the cache and the rate limits keep their data: one Redis server (REDIS_URL) or a
 * Redis Cluster (REDIS_CLUSTER_NODES). Never both: the schema refuses that at boot.
 */
export type RedisTarget = { kind: 'server'; url: string } | { kind: 'cluster'; nodes: RedisClusterNode[] };

/**
 * The validated configuration, grouped by concern. Injected as a class token so
 * consumers depend on a typed object, not on string keys.
 */
export class AppConfig {
  readonly env: Env['NODE_ENV'];
  /** trustProxy: which proxies may report the client's address and host (X-Forwarded-For/-Host). */
  readonly http: { host: string; port: number; adapter: Env['HTTP_ADAPTER']; trustProxy: Env['TRUST_PROXY'] };
  readonly logLevel: Env['LOG_LEVEL'];
  /** drainMs: how long in-flight requests may take to finish after SIGTERM (src/main.ts). */
  readonly shutdown: { drainMs: number };
  readonly database: {
    url: string;
    migrationUrl?: string;
    migrateOnBoot: boolean;
    poolSize: number;
    statementTimeoutMs: number;
    /** none: direct connections; transaction: behind a transaction-mode pooler (see createPool). */
    pooler: Env['DB_POOLER'];
    /** Dedicated databases tenants can be placed on, by name (TENANT_DATABASES); "shared" is url's. */
    dedicated: Readonly<Record<string, TenantDatabaseSettings>>;
    /** The pool manager's bounds (src/database/pg/database-pools.ts): all pools together, one dedicated pool, idle close. */
    pools: { budget: number; perDatabaseMax: number; idleCloseMs: number };
  };
  readonly adminApiKey: string;
  /** The key being rotated out: accepted too, until an operator unsets it (README "Ops CLI"). */
  readonly previousAdminApiKey?: string;
  readonly tenancy: { baseDomain: string; cacheTtlMs: number };
  /** Usage ledger: how often counted requests are written (src/usage/request-usage.ts). */
  readonly usage: { flushIntervalMs: number };
  /** Background jobs (src/jobs): whether this instance runs a worker, and how (see JOBS_* in env.schema.ts). */
  readonly jobs: { worker: boolean; concurrency: number; pollIntervalMs: number; shutdownGraceMs: number; maintenanceIntervalSeconds: number };
  /** Tenant exports (src/exports): days a finished export is kept (0: until deleted). */
  readonly exports: { retentionDays: number };
  /** Offboarding in the background (README "Offboarding"): a run's lease, and how often a worker instance sweeps for expired ones. */
  readonly offboarding: { leaseMs: number; sweepIntervalMs: number; jobsWaitMs: number };
  /** Semantic search (src/search): the fixed length of every embedding and query vector (EMBEDDING_DIMENSION). */
  readonly vectors: { dimension: number };
  readonly auth: {
    /** Unset outside production: AccessTokenService then uses a random per-process key. */
    jwtSecret?: string;
    jwtIssuer: string;
    jwtAudience: string;
    accessTokenTtlSeconds: number;
    /** How long admitted roles and API keys may be served from memory (0: never). */
    accessCacheTtlMs: number;
    loginThrottle: { maxFailuresPerAccount: number; maxFailuresPerAddress: number; windowSeconds: number };
    invitationTtlHours: number;
  };
  readonly cache: {
    /** Unset => the in-process LRU driver (and rate limits counted in process). */
    redis?: RedisTarget;
    redisCommandTimeoutMs: number;
    redisConnectTimeoutMs: number;
    ttlSeconds: number;
    lruMaxEntries: number;
  };
  readonly storage: {
    /** Set => S3 driver; unset => local disk under localRoot. */
    s3?: {
      bucket: string;
      endpoint?: string;
      region: string;
      credentials?: { accessKeyId: string; secretAccessKey: string };
      forcePathStyle: boolean;
      requestTimeoutMs: number;
    };
    localRoot: string;
    maxUploadBytes: number;
    presignTtlSeconds: number;
  };
  /** See RATE_LIMIT_INSTANCES, RATE_LIMIT_API_KEY_SHARE and RATE_LIMIT_BURST_FACTOR in env.schema.ts; the Redis settings are the cache's. */
  readonly rateLimits: { instances: number; apiKeyShare: number; burstFactor: number };
  /** tenantLabelLimit: tenants with their own label on per-tenant metrics; the rest are `other`. */
  readonly metrics: { tenantLabelLimit: number };

  constructor(env: Env) {
    this.env = env.NODE_ENV;
    this.http = { host: env.HOST, port: env.PORT, adapter: env.HTTP_ADAPTER, trustProxy: env.TRUST_PROXY };
    this.logLevel = env.LOG_LEVEL;
    this.shutdown = { drainMs: env.SHUTDOWN_DRAIN_MS };
    this.database = {
      url: env.DATABASE_URL,
      migrationUrl: env.DATABASE_MIGRATION_URL,
      migrateOnBoot: env.MIGRATE_ON_BOOT,
      poolSize: env.DB_POOL_SIZE,
      statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS,
      pooler: env.DB_POOLER,
      dedicated: env.TENANT_DATABASES,
      pools: { budget: env.DB_POOL_BUDGET, perDatabaseMax: env.DB_POOL_SIZE_PER_DATABASE, idleCloseMs: env.DB_POOL_IDLE_CLOSE_MS },
    };
    this.adminApiKey = env.ADMIN_API_KEY;
    this.previousAdminApiKey = env.ADMIN_API_KEY_PREVIOUS;
    this.tenancy = { baseDomain: env.TENANT_BASE_DOMAIN, cacheTtlMs: env.TENANT_CACHE_TTL_MS };
    this.usage = { flushIntervalMs: env.USAGE_FLUSH_INTERVAL_MS };
    this.jobs = {
      worker: env.JOBS_WORKER === 'on',
      concurrency: env.JOBS_CONCURRENCY,
      pollIntervalMs: env.JOBS_POLL_INTERVAL_MS,
      shutdownGraceMs: env.JOBS_SHUTDOWN_GRACE_MS,
      maintenanceIntervalSeconds: env.JOBS_MAINTENANCE_INTERVAL_SECONDS,
    };
    this.exports = { retentionDays: env.EXPORT_RETENTION_DAYS };
    this.offboarding = { leaseMs: env.TENANT_DELETION_LEASE_MS, sweepIntervalMs: env.TENANT_DELETION_SWEEP_INTERVAL_MS, jobsWaitMs: env.TENANT_DELETION_JOBS_WAIT_MS };
    this.vectors = { dimension: env.EMBEDDING_DIMENSION };
    this.auth = {
      jwtSecret: env.JWT_SECRET,
      jwtIssuer: env.JWT_ISSUER,
      jwtAudience: env.JWT_AUDIENCE,
      accessTokenTtlSeconds: env.ACCESS_TOKEN_TTL_SECONDS,
      accessCacheTtlMs: env.ACCESS_CACHE_TTL_MS,
      loginThrottle: {
        maxFailuresPerAccount: env.LOGIN_MAX_FAILURES_PER_ACCOUNT,
        maxFailuresPerAddress: env.LOGIN_MAX_FAILURES_PER_ADDRESS,
        windowSeconds: env.LOGIN_FAILURE_WINDOW_SECONDS,
      },
      invitationTtlHours: env.INVITATION_TTL_HOURS,
    };
    this.cache = {
      redis: env.REDIS_CLUSTER_NODES
        ? { kind: 'cluster', nodes: env.REDIS_CLUSTER_NODES }
        : env.REDIS_URL
          ? { kind: 'server', url: env.REDIS_URL }
          : undefined,
      redisCommandTimeoutMs: env.REDIS_COMMAND_TIMEOUT_MS,
      redisConnectTimeoutMs: env.REDIS_CONNECT_TIMEOUT_MS,
      ttlSeconds: env.CACHE_TTL_SECONDS,
      lruMaxEntries: env.CACHE_LRU_MAX_ENTRIES,
    };
    this.rateLimits = { instances: env.RATE_LIMIT_INSTANCES, apiKeyShare: env.RATE_LIMIT_API_KEY_SHARE, burstFactor: env.RATE_LIMIT_BURST_FACTOR };
    this.metrics = { tenantLabelLimit: env.METRICS_TENANT_LABEL_LIMIT };
    this.storage = {
      s3: env.S3_BUCKET
        ? {
            bucket: env.S3_BUCKET,
            endpoint: env.S3_ENDPOINT,
            region: env.S3_REGION,
            credentials:
              env.S3_ACCESS_KEY_ID && env.S3_SECRET_ACCESS_KEY
                ? { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY }
                : undefined,
            forcePathStyle: env.S3_FORCE_PATH_STYLE,
            requestTimeoutMs: env.S3_REQUEST_TIMEOUT_MS,
          }
        : undefined,
      localRoot: path.resolve(env.DATA_DIR, 'files'),
      maxUploadBytes: env.ATTACHMENT_MAX_BYTES,
      presignTtlSeconds: env.ATTACHMENT_URL_TTL_SECONDS,
    };
  }
}
