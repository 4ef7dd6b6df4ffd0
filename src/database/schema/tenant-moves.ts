import { sql } from 'drizzle-orm';
import { check, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

/**
 * running: steps in progress (or a process died in one: resumable); failed: a step failed
 * (resumable: starting it again continues from `step`); rolled-back: verification found a
 * mismatch, the copy was removed and the tenant stays where it was (final); aborted: an operator
 * stopped it before the switch (aborted_by), the copy was removed, the tenant stays (final);
 * completed (final).
 */
export const TENANT_MOVE_STATUSES = ['running', 'failed', 'rolled-back', 'aborted', 'completed'] as const;
export type TenantMoveStatus = (typeof TENANT_MOVE_STATUSES)[number];

/** The steps of a move in the order they run; `step` holds the last one done (src/lifecycle/tenant-move.service.ts). */
export const TENANT_MOVE_STEPS = ['requested', 'paused', 'copied', 'verified', 'switched', 'cleaned'] as const;
export type TenantMoveStep = (typeof TENANT_MOVE_STEPS)[number];

/** Per tenant table: its row count and an order-independent checksum of its rows, on one side of the move. */
export interface TenantMoveTableCheck {
  rows: number;
  checksum: string;
}

/** What verification compared: both sides, table by table, and the tables that differed. */
export interface TenantMoveVerification {
  ok: boolean;
  at: string;
  source: Record<string, TenantMoveTableCheck>;
  target: Record<string, TenantMoveTableCheck>;
  mismatched: string[];
}

/**
 * Platform table: the report of each move of a tenant between databases (shared <-> dedicated).
 * Like tenant_deletions: no foreign key to tenants and no RLS (a platform record, kept after the
 * move), the tenant's id in a column not named tenant_id (that name marks tenant tables). One
 * unfinished (running or failed) move per tenant at a time: a second request is refused (409).
 */
export const tenantMoves = pgTable(
  'tenant_moves',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('moved_tenant_id').notNull(),
    tenantSlug: text('tenant_slug').notNull(),
    /** Where the rows were ("shared" or a TENANT_DATABASES name) and where they go. */
    fromDatabase: text('from_database').notNull(),
    toDatabase: text('to_database').notNull(),
    status: text('status', { enum: TENANT_MOVE_STATUSES }).notNull().default('running'),
    /** The last step done: a resumed move continues after it. */
    step: text('step', { enum: TENANT_MOVE_STEPS }).notNull().default('requested'),
    attempts: integer('attempts').notNull().default(0),
    /** Rows copied per tenant table (the last copy; a resumed copy starts over on a cleaned target). */
    copied: jsonb('copied').$type<Record<string, number>>(),
    verification: jsonb('verification').$type<TenantMoveVerification>(),
    /** Rows deleted per table on the source once the directory pointed at the target. */
    cleaned: jsonb('cleaned').$type<Record<string, number>>(),
    error: text('error'),
    /** Who asked: `admin-key:<fingerprint>` (HTTP) or `cli:<os user>`. */
    requestedBy: text('requested_by').notNull(),
    /**
     * Who asked to abort it (same forms as requested_by). Set while running means "stop at the next
     * step boundary": the run then removes the copy and finishes as aborted.
     */
    abortedBy: text('aborted_by'),
    /** The job running it (tenants.move), when started through the API. */
    jobId: uuid('job_id'),
    startedAt: timestamp('started_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
    /** When writes were paused and resumed: how long the tenant was read-only. */
    pausedAt: timestamp('paused_at', { withTimezone: true, mode: 'date', precision: 3 }),
    resumedAt: timestamp('resumed_at', { withTimezone: true, mode: 'date', precision: 3 }),
    finishedAt: timestamp('finished_at', { withTimezone: true, mode: 'date', precision: 3 }),
  },
  (t) => [
    uniqueIndex('tenant_moves_one_open_per_tenant').on(t.tenantId).where(sql`${t.status} in ('running', 'failed')`),
    index('tenant_moves_started_idx').on(t.startedAt, t.id),
    check('tenant_moves_status_valid', sql`${t.status} in ('running', 'failed', 'rolled-back', 'aborted', 'completed')`),
    check('tenant_moves_step_valid', sql`${t.step} in ('requested', 'paused', 'copied', 'verified', 'switched', 'cleaned')`),
    check('tenant_moves_databases_differ', sql`${t.fromDatabase} <> ${t.toDatabase}`),
  ],
);

export type TenantMoveRow = typeof tenantMoves.$inferSelect;
