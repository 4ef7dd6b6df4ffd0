import { sql } from 'drizzle-orm';
import { bigint, check, index, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { tenantTable } from './tenant-table';

/**
 * What the usage ledger counts. The first four have a limit of the same name
 * (src/tenancy/entitlements.ts); `requests` is counted for billing only (the
 * per-minute rate is a rate limit, not a quota).
 */
export const USAGE_METRICS = ['documents', 'storage_bytes', 'members', 'api_keys', 'requests'] as const;
export type UsageMetric = (typeof USAGE_METRICS)[number];

const metricCheck = (column: unknown) => sql`${column} in (${sql.raw(USAGE_METRICS.map((m) => `'${m}'`).join(', '))})`;

/**
 * The usage ledger: one row per change of a counted quantity, never updated or
 * deleted (the runtime role has SELECT and INSERT only). A retried event carries
 * the same idempotency key and is not inserted twice. Each inserted row moves
 * its counter (usage_counters) in the same statement, through the trigger
 * usage_events_apply (drizzle/0013_usage_ledger_counting.sql), so counters always equal
 * the ledger's sums.
 */
export const usageEvents = tenantTable(
  'usage_events',
  {
    metric: text('metric', { enum: USAGE_METRICS }).notNull(),
    delta: bigint('delta', { mode: 'number' }).notNull(),
    /** What happened, e.g. `documents.create`, `opening-balance` (not interpreted by the database). */
    reason: text('reason').notNull(),
    /** Unique per tenant: the same event recorded twice counts once. */
    idempotencyKey: text('idempotency_key').notNull(),
    /**
     * The limit the increase was checked against (null: not checked, i.e. a decrease or no limit).
     * Read by the trigger, kept as a record of the limit in force.
     */
    checkedLimit: bigint('checked_limit', { mode: 'number' }),
    occurredAt: timestamp('occurred_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('usage_events_tenant_idempotency_key').on(t.tenantId, t.idempotencyKey),
    index('usage_events_tenant_occurred_idx').on(t.tenantId, t.occurredAt),
    check('usage_events_metric_valid', metricCheck(t.metric)),
  ],
  { access: 'append-only' },
);

/**
 * The current value of each counted quantity per tenant: the sum of its ledger
 * events. Written only by the trigger on usage_events, which refuses an
 * increase that would pass the event's checked_limit (SQLSTATE TQ001).
 */
export const usageCounters = tenantTable(
  'usage_counters',
  {
    metric: text('metric', { enum: USAGE_METRICS }).notNull(),
    value: bigint('value', { mode: 'number' }).notNull().default(0),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('usage_counters_tenant_metric').on(t.tenantId, t.metric), check('usage_counters_metric_valid', metricCheck(t.metric))],
);

export type UsageEventRow = typeof usageEvents.$inferSelect;
export type UsageCounterRow = typeof usageCounters.$inferSelect;
