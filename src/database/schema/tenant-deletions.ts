import { sql } from 'drizzle-orm';
import { boolean, check, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

export const TENANT_DELETION_STATUSES = ['running', 'completed', 'failed'] as const;
export type TenantDeletionStatus = (typeof TENANT_DELETION_STATUSES)[number];

/** The steps of an offboarding, in the order they run (src/lifecycle/tenant-offboarding.service.ts). */
export const TENANT_DELETION_STEPS = ['suspend', 'export', 'count-rows', 'delete-rows', 'purge-cache', 'delete-objects', 'verify', 'delete-tenant'] as const;
export type TenantDeletionStepName = (typeof TENANT_DELETION_STEPS)[number];

/** One step as it ran (a re-run appends its own entries, with its attempt number). */
export interface TenantDeletionStep {
  name: TenantDeletionStepName;
  attempt: number;
  status: 'done' | 'skipped' | 'failed';
  startedAt: string;
  finishedAt: string;
  /** Rows per table (count-rows, delete-rows), or { keys } / { objects } / { tenant, anchor }. */
  counts?: Record<string, number>;
  /** Why it was skipped, or the failure's message. */
  note?: string;
}

/** What the last verification found: every count must be zero. */
export interface TenantDeletionVerification {
  ok: boolean;
  at: string;
  /** Rows left per tenant table of the tenant's database (every table of the catalog is listed). */
  rows: Record<string, number>;
  cacheKeys: number;
  objects: number;
}

/**
 * Platform table: the report of each tenant deletion (offboarding). Not a tenant table: it must
 * outlive the tenant it describes, so it has no foreign key to `tenants` and no RLS; it keeps the
 * tenant's id and slug as they were. The runtime role may read, start and update reports but never
 * delete one (drizzle/0017): the audit trail of a deletion cannot be deleted by the API.
 * One unfinished (running or failed) report per tenant at a time: starting again resumes it.
 */
export const tenantDeletions = pgTable(
  'tenant_deletions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /**
     * The deleted tenant's id. Not named tenant_id: a column of that name marks a tenant table
     * (RLS, the catalog checks, the isolation harness), which this table deliberately is not.
     */
    tenantId: uuid('deleted_tenant_id').notNull(),
    tenantSlug: text('tenant_slug').notNull(),
    /** Where the tenant's rows were (the tenant directory's placement when the deletion started). */
    database: text('database').notNull(),
    /** Who asked: `admin-key:<fingerprint>` (HTTP) or `cli:<os user>`. */
    requestedBy: text('requested_by').notNull(),
    reason: text('reason'),
    /** The tenant's data is exported before any row is deleted (the `export` step). Fixed when the deletion starts. */
    exportRequested: boolean('export_requested').notNull().default(false),
    /**
     * Where that export's archive is (storage key offboarding-exports/<tenantId>/<deletionId>.tar.gz, outside the
     * tenant's prefix, so it outlives the deletion), once written.
     */
    exportKey: text('export_key'),
    status: text('status', { enum: TENANT_DELETION_STATUSES }).notNull().default('running'),
    /** How many times its steps were run (1 for a deletion that went through at once; one more per resume). */
    attempts: integer('attempts').notNull().default(0),
    steps: jsonb('steps').$type<TenantDeletionStep[]>().notNull().default(sql`'[]'::jsonb`),
    verification: jsonb('verification').$type<TenantDeletionVerification>(),
    /** The last failure (cleared when a resume starts). */
    error: text('error'),
    /**
     * The lease (README "Offboarding"): which run holds the report (`<host>:<pid>:<random>`, one per
     * service instance) and until when. A run claims it with one UPDATE (unleased, expired, or its own),
     * renews it between and during steps, clears it at the end; a report whose run died keeps its lease
     * until it expires, then the resumer (TenantDeletionResumer) takes it over. Null owner with an expiry:
     * a report just started, reserved for its starter until then.
     */
    leaseOwner: text('lease_owner'),
    leaseExpiresAt: timestamp('lease_expires_at', { withTimezone: true, mode: 'date', precision: 3 }),
    startedAt: timestamp('started_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
    finishedAt: timestamp('finished_at', { withTimezone: true, mode: 'date', precision: 3 }),
  },
  (t) => [
    // At most one unfinished deletion per tenant: a second start finds and resumes it.
    uniqueIndex('tenant_deletions_one_open_per_tenant').on(t.tenantId).where(sql`${t.status} <> 'completed'`),
    index('tenant_deletions_tenant_idx').on(t.tenantId, t.startedAt),
    // The list, newest first (keyset on started_at, id).
    index('tenant_deletions_started_idx').on(t.startedAt, t.id),
    // The resumer's sweep: running reports by lease expiry (few rows: the partial index stays tiny).
    index('tenant_deletions_running_lease_idx').on(t.leaseExpiresAt).where(sql`${t.status} = 'running'`),
    check('tenant_deletions_status_valid', sql`${t.status} in ('running', 'completed', 'failed')`),
    check('tenant_deletions_steps_array', sql`jsonb_typeof(${t.steps}) = 'array'`),
  ],
);

export type TenantDeletionRow = typeof tenantDeletions.$inferSelect;
