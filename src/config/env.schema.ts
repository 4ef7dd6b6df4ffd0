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
    HTTP_ADAPTER: z.enum(['fastify', 'express']).default('fastify'),
    LOG_LEVEL: z.enum(['error', 'warn', 'log', 'debug', 'verbose']).default('log'),

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

    /** Bearer key for platform routes (/tenants). No default: set it, or let embedded mode generate one. */
    ADMIN_API_KEY: z.string().min(32, 'must be at least 32 characters'),

    /** Requests to <slug>.<TENANT_BASE_DOMAIN> resolve the tenant from the subdomain. */
    TENANT_BASE_DOMAIN: z
      .string()
      .regex(/^[a-z0-9.-]+$/i, 'must be a bare host name such as example.com')
      .transform((value) => value.toLowerCase().replace(/\.$/, ''))
      .default('localhost'),
    /** How long a tenant lookup (and so a suspension) may be served from memory. */
    TENANT_CACHE_TTL_MS: z.coerce.number().int().min(0).max(60_000).default(5_000),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV === 'production' && env.MIGRATE_ON_BOOT && !env.DATABASE_MIGRATION_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['DATABASE_MIGRATION_URL'],
        message: 'is required when MIGRATE_ON_BOOT=true',
      });
    }
  });

export type Env = z.infer<typeof envSchema>;

/** The subset read before the full validation, to decide whether to start embedded PostgreSQL. */
export const embeddedEnvSchema = z.object({
  DATABASE_URL: z.string().optional(),
  DATA_DIR: z.string().min(1).default('.data'),
  EMBEDDED_PG_PORT: z.coerce.number().int().min(1024).max(65535).default(54329),
  ADMIN_API_KEY: z.string().optional(),
});

export class InvalidEnvironmentError extends Error {}

/** Parses the environment or throws one error naming every bad variable. */
export function parseEnv(source: Record<string, string | undefined>): Env {
  // An empty string in an env file means "not set"; treat it like a missing variable.
  const cleaned = Object.fromEntries(
    Object.entries(source).filter(([, value]) => value !== undefined && value !== ''),
  );
  const result = envSchema.safeParse(cleaned);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const name = issue.path.join('.') || '(environment)';
    const message = issue.code === 'invalid_type' && cleaned[name] === undefined ? 'is required' : issue.message;
    return `  - ${name}: ${message}`;
  });
  throw new InvalidEnvironmentError(`Invalid environment variables:\n${lines.join('\n')}`);
}
