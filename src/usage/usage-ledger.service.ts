import { Injectable } from '@nestjs/common';
import { AppError } from '../common/errors/app-error';
import { pgServerErrorOf } from '../common/errors/database-errors';
import { ErrorCode } from '../common/errors/error-codes';
import { UsageMetric } from '../database/schema';
import { TenantDb } from '../database/tenant-db';
import { LimitName, LIMITS, Limits } from '../tenancy/entitlements';
import { TenantContext } from '../tenancy/tenant-context';
import { NewUsageEvent, UsageRepository } from './usage.repository';

/** SQLSTATE raised by the trigger usage_events_apply when an increase would pass its limit. */
const QUOTA_SQLSTATE = 'TQ001';

export interface UsageChange {
  metric: UsageMetric;
  /** + when something is created or grows, - when it goes. */
  delta: number;
  /** What happened, kept in the ledger (e.g. `documents.create`). */
  reason: string;
  /**
   * Unique per tenant and event, derived from what the event is about
   * (`documents.create:<id>`): recording it again counts nothing.
   */
  key: string;
}

const UNITS: Record<LimitName, string> = {
  documents: 'documents',
  storage_bytes: 'bytes of storage',
  members: 'members',
  api_keys: 'API keys',
  requests_per_minute: 'requests per minute',
};

/** A metric's limit in `limits` (null: unlimited, or a metric with no limit: requests are rate-limited instead). */
export function limitFor(limits: Limits, metric: UsageMetric): number | null {
  return (LIMITS as readonly string[]).includes(metric) ? limits[metric as LimitName] : null;
}

function limitOf(metric: UsageMetric): number | null {
  return limitFor(TenantContext.current().entitlements.limits, metric);
}

/** 403 QUOTA_EXCEEDED, with the limit and what is in use in its details. */
export function quotaExceeded(metric: UsageMetric, limit: number, used: number): AppError {
  const unit = (UNITS as Record<string, string>)[metric] ?? metric;
  return new AppError(ErrorCode.QuotaExceeded, `The plan allows ${limit} ${unit}; ${used} in use`, [
    { path: metric, message: `Limit of ${limit} ${unit} reached`, limit, used },
  ]);
}

function eventOf(change: UsageChange): NewUsageEvent {
  const checkedLimit = change.delta > 0 ? limitOf(change.metric) : null;
  return { metric: change.metric, delta: change.delta, reason: change.reason, idempotencyKey: change.key, checkedLimit };
}

/** Runs `record`, turning the trigger's refusal (TQ001) into 403 QUOTA_EXCEEDED with the limit and the use. */
async function refusedPastQuota<T>(event: NewUsageEvent, record: () => Promise<T>): Promise<T> {
  try {
    return await record();
  } catch (error) {
    const pg = pgServerErrorOf(error);
    const limit = event.checkedLimit;
    if (pg?.code === QUOTA_SQLSTATE && limit !== null) throw quotaExceeded(event.metric, limit, Number(pg.detail ?? limit));
    throw error;
  }
}

/**
 * The one counting path: every change of a counted quantity (documents,
 * storage bytes, members, API keys, requests) is recorded here, as a ledger
 * event in the same transaction as the domain write, and the database moves
 * the tenant's counter in that same statement, refusing an increase past the
 * current plan's limit (atomic under any concurrency: see
 * drizzle/0013_usage_ledger_counting.sql). Quotas read the same counters.
 *
 * A plan lowered below current use (a downgrade, an override) takes nothing
 * away: existing data stays, and increases are refused until use is back
 * under the limit (decreases are never refused).
 */
@Injectable()
export class UsageLedger {
  constructor(
    private readonly usage: UsageRepository,
    private readonly db: TenantDb,
  ) {}

  /**
   * Records `change` in `db` (the domain write's transaction). False when the
   * key was recorded before (a replay: nothing counted). Throws 403
   * QUOTA_EXCEEDED when an increase would pass the limit; the caller's
   * transaction then rolls back, domain write included.
   */
  async record(change: UsageChange, db: TenantDb): Promise<boolean> {
    const event = eventOf(change);
    return await refusedPastQuota(event, () => this.usage.insert(event, db));
  }

  /**
   * Records `change` together with the one statement `write` runs on the handle it is given
   * (TenantDb.together): both in one round trip and one implicit transaction, so a refusal
   * past the limit (403 QUOTA_EXCEEDED) means the write never ran. For a change whose key is
   * new by construction (a fresh id): a replay is not reported, as record() does.
   */
  async recordWith<T>(change: UsageChange, write: (db: TenantDb) => Promise<T>): Promise<T> {
    const event = eventOf(change);
    return await refusedPastQuota(event, () => this.db.together([this.usage.eventStatement(event)], write));
  }

  /**
   * How much of `metric` may still be added before the limit (null: unlimited),
   * read now; for a write that must be cut short before it is recorded (an
   * upload streaming in). The recording still checks atomically.
   */
  async remaining(metric: UsageMetric): Promise<{ limit: number; used: number; remaining: number } | null> {
    const limit = limitOf(metric);
    if (limit === null) return null;
    const used = await this.usage.counter(metric);
    return { limit, used, remaining: Math.max(0, limit - used) };
  }
}
