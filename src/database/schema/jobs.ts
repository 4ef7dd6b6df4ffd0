import { sql } from 'drizzle-orm';
import { check, index, integer, jsonb, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { tenantTable } from './tenant-table';

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/**
 * What a tenant sees of its background jobs (src/jobs): one row per job, written
 * when the job is enqueued and updated by the worker, inside the job's tenant
 * context, through TenantDb. The queue itself (pg-boss, schema `pgboss` on the
 * shared database) holds the payload and the scheduling state; this row holds
 * only what the tenant may read: never the payload, never a stack trace or SQL.
 */
export const jobs = tenantTable(
  'jobs',
  {
    /** The registered job kind, e.g. `exports.tenant` (JobsService.register). */
    kind: text('kind').notNull(),
    status: text('status', { enum: JOB_STATUSES }).notNull().default('queued'),
    /** Progress as the handler reports it (JobContext.report): done of total, and a free-form stage name. */
    progressDone: integer('progress_done').notNull().default(0),
    progressTotal: integer('progress_total'),
    progressStage: text('progress_stage'),
    /** Attempts started so far (1 while the first runs); at most max_attempts (the kind's retryLimit + 1). */
    attempts: integer('attempts').notNull().default(0),
    maxAttempts: integer('max_attempts').notNull(),
    /** The last failed attempt's error: a stable code and a message safe to show the tenant (kept after a later success). */
    lastErrorCode: text('last_error_code'),
    lastError: text('last_error'),
    /** What the handler returned on success (tenant-visible). */
    result: jsonb('result').$type<Record<string, unknown>>(),
    /** The principal (user or API key) that enqueued it; null for platform or system work. */
    requestedBy: uuid('requested_by'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
    startedAt: timestamp('started_at', { withTimezone: true, mode: 'date', precision: 3 }),
    finishedAt: timestamp('finished_at', { withTimezone: true, mode: 'date', precision: 3 }),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    // GET /jobs, newest first, keyset-paginated (as documents_tenant_created_idx).
    index('jobs_tenant_created_idx').on(t.tenantId, t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
    check('jobs_status_valid', sql`${t.status} in ('queued', 'running', 'succeeded', 'failed', 'cancelled')`),
    check('jobs_progress_valid', sql`${t.progressDone} >= 0 and (${t.progressTotal} is null or ${t.progressTotal} >= 0)`),
    check('jobs_attempts_valid', sql`${t.attempts} >= 0 and ${t.maxAttempts} >= 1`),
  ],
);

export type JobRow = typeof jobs.$inferSelect;
