import { readFileSync } from 'node:fs';
import { z } from 'zod';

const booleanFromString = z
  .enum(['true', 'false', '1', '0'])
  .transform((value) => value === 'true' || value === '1');

const postgresUrl = z
  .string()
  .url()
  .refine((value) => /^postgres(ql)?:\/\//.test(value), 'must be a postgres:// URL');

/**
 * Every environment variable the API reads. Parsed once at boot (see AppConfig);
 * nothing else in the code reads process.env.
 */
export const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    HOST: z.string().min(1).default('127.0.0.1'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    /** Fastify by measurement: 1.15-1.35x Express's throughput on the same routes, less memory (README "Benchmarks"). */
    HTTP_ADAPTER: z.enum(['fastify', 'express']).default('fastify'),
    LOG_LEVEL: z.enum(['error', 'warn', 'log', 'debug', 'verbose']).default('log'),
    /** json (one object per line) or pretty (pino-pretty). Unset: pretty only on a development terminal (README "Logs"). */
    LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
    /**
     * Which proxies may set X-Forwarded-For (the client address that sign-in
     * limits count by) and X-Forwarded-Host (the host whose subdomain names the
     * tenant). false: none, the socket address and the Host header count; true:
     * any (only behind a proxy that strips both headers); a number: that many
     * hops; otherwise a comma-separated list of proxy addresses/CIDRs.
     */
    TRUST_PROXY: z
      .string()
      .regex(/^(true|false|\d{1,2}|[0-9a-fA-F.:/]+(\s*,\s*[0-9a-fA-F.:/]+)*)$/, 'must be true, false, a hop count or a list of proxy addresses/CIDRs')
      .default('false')
      .transform((value): boolean | number | string => (value === 'true' ? true : value === 'false' ? false : /^\d+$/.test(value) ? Number(value) : value)),

    /**
     * On SIGTERM/SIGINT: how long in-flight requests may take to finish (readiness is 503 and no new
     * connection is accepted meanwhile) before the rest are cut and the process exits 1 (README "Shutdown").
     * Keep it below the orchestrator's grace period (Kubernetes terminationGracePeriodSeconds, default 30 s).
     */
    SHUTDOWN_DRAIN_MS: z.coerce.number().int().min(0).max(600_000).default(20_000),

    /** Runtime connection: the non-owner, RLS-bound application role. Unset => embedded PostgreSQL. */
    DATABASE_URL: postgresUrl,
    /** Where embedded mode keeps PostgreSQL data and generated secrets (git-ignored). */
    DATA_DIR: z.string().min(1).default('.data'),
    EMBEDDED_PG_PORT: z.coerce.number().int().min(1024).max(65535).default(54329),
    /** Owner connection used only to apply migrations (never by request handlers). */
    DATABASE_MIGRATION_URL: postgresUrl.optional(),
    MIGRATE_ON_BOOT: booleanFromString.default(false),
    DB_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
    DB_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(15_000),
    /**
     * What DATABASE_URL points at: none (PostgreSQL itself) or transaction (a transaction-mode
     * pooler such as PgBouncer). With a pooler no session state is used: no timeouts as startup
     * parameters, no named statements; each transaction sets its own timeouts (README "PgBouncer").
     */
    DB_POOLER: z.enum(['none', 'transaction']).default('none'),

    /**
     * Scale-out (docs/scale-out.md): dedicated databases for the tenants placed on them, by name. A JSON
     * object, inline or (for secrets mounted as files) in the file TENANT_DATABASES_FILE names:
     *   {"eu-big-1": {"url": "postgres://app_user:...@host/db", "migrationUrl": "postgres://app_owner:...@host/db",
     *                 "adminUrl": "postgres://postgres:...@host/postgres"}}
     * url: the runtime role (RLS-bound, as DATABASE_URL); migrationUrl: the owner role (migrations, provisioning);
     * adminUrl (optional): a role that may create databases and roles there, needed only to create the database
     * when a tenant is first placed on it. "shared" is DATABASE_URL's database and cannot be redefined.
     */
    TENANT_DATABASES: tenantDatabasesVariable(),
    TENANT_DATABASES_FILE: z.string().min(1).optional(),
    /** Connections all pools together may hold (DB_POOL_SIZE of the shared pool included); past it the least recently used idle pool is closed. */
    DB_POOL_BUDGET: z.coerce.number().int().min(2).max(10_000).default(100),
    /** The most connections one dedicated database's pool may hold. */
    DB_POOL_SIZE_PER_DATABASE: z.coerce.number().int().min(1).max(200).default(5),
    /** A dedicated database's pool with no connection in use for this long is closed (its connections given back). */
    DB_POOL_IDLE_CLOSE_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(60_000),

    /** Bearer key for platform routes (/tenants). No default: set it, or let embedded mode generate one. */
    ADMIN_API_KEY: z.string().min(32, 'must be at least 32 characters'),
    /**
     * The key being rotated out, accepted beside ADMIN_API_KEY during a rotation's overlap window
     * (each use is logged at warn, so an operator sees when no client still sends it); then unset.
     * `npm run cli -- admin-key rotate` prints the steps (README "Ops CLI").
     */
    ADMIN_API_KEY_PREVIOUS: z.string().min(32, 'must be at least 32 characters').optional(),

    /** Requests to <slug>.<TENANT_BASE_DOMAIN> resolve the tenant from the subdomain. */
    TENANT_BASE_DOMAIN: z
      .string()
      .regex(/^[a-z0-9.-]+$/i, 'must be a bare host name such as example.com')
      .transform((value) => value.toLowerCase().replace(/\.$/, ''))
      .default('localhost'),
    /** How long a tenant lookup (and so a suspension) may be served from memory. */
    TENANT_CACHE_TTL_MS: z.coerce.number().int().min(0).max(60_000).default(5_000),
    /**
     * Usage ledger (src/usage): how often each instance writes the requests it counted to the
     * ledger (also at shutdown). A crash loses at most this interval's count.
     */
    USAGE_FLUSH_INTERVAL_MS: z.coerce.number().int().min(100).max(3_600_000).default(10_000),

    /**
     * Background jobs (src/jobs). on: this instance runs a worker (JOBS_CONCURRENCY jobs at once,
     * polling the shared database's queue every JOBS_POLL_INTERVAL_MS); off: it only enqueues
     * (an API-only instance next to worker instances). Jobs are enqueued either way.
     */
    JOBS_WORKER: z.enum(['on', 'off']).default('on'),
    JOBS_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
    JOBS_POLL_INTERVAL_MS: z.coerce.number().int().min(50).max(60_000).default(2_000),
    /**
     * On shutdown: how long running jobs may take to finish before they are interrupted (their
     * signal aborts; pg-boss retries them). Counts inside the 10 s bound on closing (README "Shutdown").
     */
    JOBS_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(9_000).default(5_000),
    /** How often a worker instance runs the queue's maintenance: jobs of a dead worker past their timeout are retried, finished ones archived. */
    JOBS_MAINTENANCE_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(3_600).default(60),
    /**
     * Tenant exports (src/exports): days an export is kept after it finished; then a sweep on worker
     * instances deletes its archive and its row (GET then 404). 0: kept until deleted (DELETE
     * /exports/:id) or the tenant is.
     */
    EXPORT_RETENTION_DAYS: z.coerce.number().int().min(0).max(3_650).default(30),
    /**
     * Offboarding in the background (README "Offboarding"): how long a deletion's run holds its report
     * (renewed every third of it while it runs). A run whose process died is resumed once its lease expired.
     */
    TENANT_DELETION_LEASE_MS: z.coerce.number().int().min(500).max(3_600_000).default(60_000),
    /**
     * Offboarding, before any row is deleted: the tenant's queued jobs are cancelled and its running ones
     * waited for this long (an export still writing its archive would otherwise store it after the
     * deletion emptied the tenant's prefix). Past it the deletion fails before deleting anything; start it again.
     */
    TENANT_DELETION_JOBS_WAIT_MS: z.coerce.number().int().min(0).max(3_600_000).default(60_000),
    /** How often a worker instance (JOBS_WORKER=on) looks for running deletions whose lease expired, and resumes them. */
    TENANT_DELETION_SWEEP_INTERVAL_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),

    /**
     * Semantic search (src/search): the length every document embedding and query vector must have,
     * fixed per deployment (the model's output size). At most 2,000 (pgvector's HNSW limit). With
     * pgvector, each tenant's HNSW indexes are built for this dimension (`tenants vector-index`);
     * boot refuses to start when one disagrees with it (README "Semantic search").
     */
    EMBEDDING_DIMENSION: z.coerce.number().int().min(1).max(2_000).default(384),

    /**
     * Identity (src/auth). HS256 key for access tokens. Required in production; embedded mode
     * generates and keeps one in DATA_DIR/secrets.json; otherwise (development/test) a random
     * per-process key is used, so tokens do not survive a restart.
     */
    JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    JWT_ISSUER: z.string().min(1).max(200).default('tenancy-api'),
    JWT_AUDIENCE: z.string().min(1).max(200).default('tenancy-api'),
    /** Lifetime of an access token. Revocation does not wait for it: membership is checked on every request. */
    ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(900),
    /**
     * How long an instance may admit a user's membership role or an API key from memory instead
     * of reading it first (0: always read). Revocation does not wait for it: every statement of the
     * request re-checks the claim in PostgreSQL (tenancy_enter), and a request that runs none is
     * confirmed before it answers.
     */
    ACCESS_CACHE_TTL_MS: z.coerce.number().int().min(0).max(60_000).default(10_000),
    /** Failed sign-ins allowed per account (email) and per client address within the window; then 429. */
    LOGIN_MAX_FAILURES_PER_ACCOUNT: z.coerce.number().int().min(1).max(10_000).default(5),
    LOGIN_MAX_FAILURES_PER_ADDRESS: z.coerce.number().int().min(1).max(100_000).default(30),
    LOGIN_FAILURE_WINDOW_SECONDS: z.coerce.number().int().min(1).max(86_400).default(900),
    /** How long an invitation token (member invite, or a new tenant's first owner) can be accepted. */
    INVITATION_TTL_HOURS: z.coerce.number().int().min(1).max(24 * 90).default(168),

    /** Cache (src/cache). Unset => an in-process LRU with the same behaviour (no Redis needed). */
    REDIS_URL: z
      .string()
      .url()
      .refine((value) => /^rediss?:\/\//.test(value), 'must be a redis:// or rediss:// URL')
      .optional(),
    /**
     * A Redis Cluster instead of one server: some of its nodes as a comma-separated list of host:port
     * (IPv6 as [addr]:port). The client learns the rest from them, and reconnects through them after an
     * outage, so list several (every master is best). Unset with REDIS_URL set => one server; both set is refused.
     */
    REDIS_CLUSTER_NODES: z
      .string()
      .transform((value, ctx) => {
        const nodes = parseClusterNodes(value);
        if (typeof nodes === 'string') {
          ctx.addIssue({ code: 'custom', message: nodes });
          return z.NEVER;
        }
        return nodes;
      })
      .optional(),
    /** Upper bound on one Redis command; past it the request falls back to PostgreSQL. */
    REDIS_COMMAND_TIMEOUT_MS: z.coerce.number().int().min(10).max(10_000).default(250),
    REDIS_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(2_000),
    /** How long cached document reads and lists live (writes invalidate them earlier). */
    CACHE_TTL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(300),
    /** Capacity of the in-process LRU driver (entries). */
    CACHE_LRU_MAX_ENTRIES: z.coerce.number().int().min(100).max(10_000_000).default(10_000),

    /**
     * Rate limits (src/rate-limits). Budgets come from the tenant's plan (requests_per_minute); these
     * say how they are split. RATE_LIMIT_INSTANCES: how many API instances share a budget when they
     * cannot share a counter (Redis unset or unreachable): each then enforces ceil(limit / this).
     */
    RATE_LIMIT_INSTANCES: z.coerce.number().int().min(1).max(1_000).default(1),
    /** The most of its tenant's requests_per_minute one API key may use (0 < share <= 1). */
    RATE_LIMIT_API_KEY_SHARE: z.coerce.number().gt(0).max(1).default(0.5),
    /**
     * The most of its requests_per_minute a tenant may send in any one second, as a multiple of its
     * average rate: ceil(limit / 60 x this) per second, at least 10 (10: a minute's budget takes at
     * least 6 s to spend). 60 turns the per-second cap off.
     */
    RATE_LIMIT_BURST_FACTOR: z.coerce.number().min(1).max(60).default(10),

    /** File storage (src/storage). S3_BUCKET unset => local disk under DATA_DIR/files. */
    S3_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid S3 bucket name').optional(),
    /** S3-compatible endpoint (MinIO, R2, ...); unset => AWS S3 for S3_REGION. */
    S3_ENDPOINT: z.string().url().optional(),
    S3_REGION: z.string().regex(/^[a-z0-9-]{2,32}$/, 'must be a region name such as us-east-1').default('us-east-1'),
    /** Both or neither; neither => the SDK's default credential chain (env, profile, instance role). */
    S3_ACCESS_KEY_ID: z.string().min(1).optional(),
    S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
    /** Path-style URLs (http://host/bucket/key), needed by MinIO and most self-hosted servers. */
    S3_FORCE_PATH_STYLE: booleanFromString.default(false),
    /** Upper bound on one S3 request without progress; past it the request answers 503. */
    S3_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
    /**
     * GET /metrics: how many tenants get their own `tenant` label on the per-tenant counters (the
     * first ones seen since start); the rest are counted under `other`, so a platform with many
     * tenants cannot blow up the number of series.
     */
    METRICS_TENANT_LABEL_LIMIT: z.coerce.number().int().min(0).max(10_000).default(100),

    /** Largest accepted attachment, enforced while the upload streams (413 past it). */
    ATTACHMENT_MAX_BYTES: z.coerce.number().int().min(1).max(5 * 1024 ** 3).default(25 * 1024 * 1024),
    /** Lifetime of a presigned download URL (S3 driver only). */
    ATTACHMENT_URL_TTL_SECONDS: z.coerce.number().int().min(1).max(3_600).default(60),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV === 'production' && env.MIGRATE_ON_BOOT && !env.DATABASE_MIGRATION_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['DATABASE_MIGRATION_URL'],
        message: 'is required when MIGRATE_ON_BOOT=true',
      });
    }
    if (env.NODE_ENV === 'production' && !env.JWT_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['JWT_SECRET'], message: 'is required in production' });
    }
    if (env.ADMIN_API_KEY_PREVIOUS !== undefined && env.ADMIN_API_KEY_PREVIOUS === env.ADMIN_API_KEY) {
      ctx.addIssue({ code: 'custom', path: ['ADMIN_API_KEY_PREVIOUS'], message: 'must differ from ADMIN_API_KEY (it is the key being rotated out)' });
    }
    if (env.REDIS_URL && env.REDIS_CLUSTER_NODES) {
      // Which one was meant cannot be guessed, and the wrong guess would split instances across two stores.
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_CLUSTER_NODES'],
        message: 'REDIS_URL and REDIS_CLUSTER_NODES are set together: set REDIS_URL for one Redis server, or REDIS_CLUSTER_NODES for a Redis Cluster, not both',
      });
    }
    if (env.DB_POOL_SIZE + env.DB_POOL_SIZE_PER_DATABASE > env.DB_POOL_BUDGET) {
      ctx.addIssue({
        code: 'custom',
        path: ['DB_POOL_BUDGET'],
        message: `must leave room for one dedicated database's pool: at least DB_POOL_SIZE + DB_POOL_SIZE_PER_DATABASE (${env.DB_POOL_SIZE + env.DB_POOL_SIZE_PER_DATABASE})`,
      });
    }
    if (Boolean(env.S3_ACCESS_KEY_ID) !== Boolean(env.S3_SECRET_ACCESS_KEY)) {
      ctx.addIssue({
        code: 'custom',
        path: [env.S3_ACCESS_KEY_ID ? 'S3_SECRET_ACCESS_KEY' : 'S3_ACCESS_KEY_ID'],
        message: 'S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY are set together or not at all',
      });
    }
  });

export type Env = z.infer<typeof envSchema>;

/** A database tenants can be placed on (TENANT_DATABASES). */
export interface TenantDatabaseSettings {
  url: string;
  migrationUrl: string;
  adminUrl?: string;
}

/** The name of DATABASE_URL's database in the tenant directory. */
export const SHARED_DATABASE = 'shared';
/** Database names: what a tenant's placement, metrics labels and CLI output carry. */
export const DATABASE_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,62}$/;

const tenantDatabaseSettings = z.strictObject({ url: postgresUrl, migrationUrl: postgresUrl, adminUrl: postgresUrl.optional() });

/** TENANT_DATABASES as the schemas read it (the API's and the migrate command's): name -> settings, {} when unset. */
function tenantDatabasesVariable() {
  return z.string().optional().transform((value, ctx) => parseTenantDatabases(value, ctx));
}

function parseTenantDatabases(value: string | undefined, ctx: z.RefinementCtx): Record<string, TenantDatabaseSettings> {
  if (value === undefined) return {};
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'is not JSON (an object of database name -> {url, migrationUrl, adminUrl?})' });
    return z.NEVER;
  }
  const parsed = z.record(z.string(), tenantDatabaseSettings).safeParse(json);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: `${issue.path.join('.') || '(value)'}: ${issue.message}` });
    return z.NEVER;
  }
  for (const name of Object.keys(parsed.data)) {
    if (name === SHARED_DATABASE) ctx.addIssue({ code: 'custom', message: `"${SHARED_DATABASE}" is DATABASE_URL's database and cannot be redefined` });
    else if (!DATABASE_NAME_PATTERN.test(name)) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(name)} is not a database name (lowercase letters, digits, "-" and "_", starting with a letter)` });
  }
  return parsed.data;
}

/** One node of REDIS_CLUSTER_NODES. */
export interface RedisClusterNode {
  host: string;
  port: number;
}

const CLUSTER_NODE = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/;

/** "host:port,host:port" as nodes, or what is wrong with it (a message naming the bad entry). */
export function parseClusterNodes(value: string): RedisClusterNode[] | string {
  const nodes: RedisClusterNode[] = [];
  for (const entry of value.split(',').map((part) => part.trim())) {
    const match = CLUSTER_NODE.exec(entry);
    const port = Number(match?.[3]);
    if (!match || port < 1 || port > 65535) return `${JSON.stringify(entry)} is not host:port (a list such as 10.0.0.1:6379,10.0.0.2:6379)`;
    const node = { host: match[1] ?? match[2], port };
    if (nodes.some((known) => known.host === node.host && known.port === node.port)) return `${entry} is listed twice`;
    nodes.push(node);
  }
  return nodes;
}

/** The subset read before the full validation, to decide whether to start embedded PostgreSQL. */
export const embeddedEnvSchema = z.object({
  DATABASE_URL: z.string().optional(),
  DATA_DIR: z.string().min(1).default('.data'),
  EMBEDDED_PG_PORT: z.coerce.number().int().min(1024).max(65535).default(54329),
  ADMIN_API_KEY: z.string().optional(),
  JWT_SECRET: z.string().optional(),
});

export class InvalidEnvironmentError extends Error {}

/**
 * What the ops CLI's database commands read (src/cli): they run before, or
 * without, the API's full environment (a one-shot migrate step has only the
 * owner's URL). Same rules as the full schema.
 */
export const migrateEnvSchema = z.object({
  /** Owner role (app_owner): migrations only. */
  DATABASE_MIGRATION_URL: postgresUrl,
  /** `migrate --all`: every dedicated database too, each through its migrationUrl. */
  TENANT_DATABASES: tenantDatabasesVariable(),
  TENANT_DATABASES_FILE: z.string().min(1).optional(),
});
export const setupEnvSchema = z.object({
  /** A superuser URL: creates the two roles and the database (`cli setup`, once per cluster). */
  DATABASE_ADMIN_URL: postgresUrl,
  DATABASE_NAME: z.string().regex(/^[a-z_][a-z0-9_]*$/, 'lowercase letters, digits and "_"').default('app'),
  APP_OWNER_PASSWORD: z.string().min(12, 'must be at least 12 characters'),
  APP_USER_PASSWORD: z.string().min(12, 'must be at least 12 characters'),
});

/** Parses the environment or throws one error naming every bad variable. */
export function parseEnv(source: Record<string, string | undefined>): Env {
  return validateEnv(envSchema, source);
}

/**
 * Variables that may be given as a file instead (connection strings carry passwords, and secrets are
 * often mounted as files): the file variable -> the variable its content stands for.
 */
const FILE_VARIABLES = { TENANT_DATABASES_FILE: 'TENANT_DATABASES' } as const;

/**
 * The content of each file variable as the variable it stands for, for the variables `schema` reads:
 * a command that does not read TENANT_DATABASES (`setup`) is not failed by an unreadable TENANT_DATABASES_FILE.
 */
function withFileSecrets(schema: z.ZodType, source: Record<string, string | undefined>): Record<string, string | undefined> {
  const declared = schema instanceof z.ZodObject ? schema.shape : {};
  let resolved = source;
  for (const [fileVariable, variable] of Object.entries(FILE_VARIABLES)) {
    const file = source[fileVariable];
    if (!file || !(variable in declared)) continue;
    if (source[variable]) throw new InvalidEnvironmentError(`Invalid environment variables:\n  - ${fileVariable}: ${variable} is set too: set one of them`);
    try {
      resolved = { ...resolved, [variable]: readFileSync(file, 'utf8') };
    } catch (error) {
      throw new InvalidEnvironmentError(`Invalid environment variables:\n  - ${fileVariable}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
  }
  return resolved;
}

/** `schema` over `source`, empty strings as unset, file variables read; one InvalidEnvironmentError naming each bad variable. */
export function validateEnv<T extends z.ZodType>(schema: T, source: Record<string, string | undefined>): z.infer<T> {
  // An empty string in an env file means "not set"; treat it like a missing variable.
  const cleaned = Object.fromEntries(
    Object.entries(withFileSecrets(schema, source)).filter(([, value]) => value !== undefined && value !== ''),
  );
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const name = issue.path.join('.') || '(environment)';
    const message = issue.code === 'invalid_type' && cleaned[name] === undefined ? 'is required' : issue.message;
    return `  - ${name}: ${message}`;
  });
  throw new InvalidEnvironmentError(`Invalid environment variables:\n${lines.join('\n')}`);
}
