import { z } from 'zod';

/** GET /health: kept for existing users. */
export const healthStatus = z.strictObject({ status: z.literal('ok') }).meta({ id: 'HealthStatus' });

const indicator = z.looseObject({ status: z.enum(['up', 'down', 'degraded']) });

/**
 * @nestjs/terminus' HealthCheckResult: `info` the checks that are up, `error`
 * the ones that are not, `details` all of them. Readiness answers the same
 * shape with 503 when a required check is down or the instance is draining.
 */
export const healthCheckResult = z
  .strictObject({
    status: z.enum(['ok', 'error', 'shutting_down', 'degraded']),
    info: z.record(z.string(), indicator).optional(),
    error: z.record(z.string(), indicator).optional(),
    details: z.record(z.string(), indicator),
  })
  .meta({ id: 'HealthCheckResult' });

/** GET /health/details: drivers and cache counters (platform admin). */
export const healthDetails = z
  .strictObject({
    status: z.enum(['ok', 'degraded']),
    cache: z.looseObject({ driver: z.string(), serving: z.boolean() }),
    storage: z.strictObject({ driver: z.string() }),
  })
  .meta({ id: 'HealthDetails' });
