import { Injectable } from '@nestjs/common';
import { and, asc, eq, gte, lt, sql } from 'drizzle-orm';
import { UsageMetric, usageCounters, usageEvents } from '../database/schema';
import { DummyValue, GenerateSql } from '../database/generate-sql.decorator';
import { LeadingStatement, Placeholders, TenantDb } from '../database/tenant-db';

// A type, not an interface: prepared-query parameters must be an indexable record.
export type NewUsageEvent = {
  metric: UsageMetric;
  delta: number;
  reason: string;
  idempotencyKey: string;
  /** The limit an increase is checked against (null: not checked). */
  checkedLimit: number | null;
};

export interface PeriodTotals {
  metric: UsageMetric;
  /** Sum of the period's increases (opening balances left out). */
  added: number;
  /** Sum of the period's decreases, as a positive number. */
  removed: number;
}

/** The ledger and its counters, for the current tenant (TenantDb: the tenant is never a parameter here). */
@Injectable()
export class UsageRepository {
  private readonly insertEvent;

  constructor(private readonly db: TenantDb) {
    // On every counted write (POST /documents ...): prepared once.
    this.insertEvent = db.prepared((q, p: Placeholders<NewUsageEvent>) =>
      q
        .insert(usageEvents)
        .values({ metric: p.metric, delta: p.delta, reason: p.reason, idempotencyKey: p.idempotencyKey, checkedLimit: p.checkedLimit })
        .onConflictDoNothing({ target: [usageEvents.tenantId, usageEvents.idempotencyKey] })
        .returning({ id: usageEvents.id }),
    );
  }

  /**
   * One statement: the event row, and (trigger usage_events_apply) its counter
   * moved, refused with SQLSTATE TQ001 past checkedLimit. False for a replay
   * (the key was recorded before: nothing counted twice). Pass the
   * transaction of the domain write, so both commit together.
   */
  @GenerateSql({ params: [{ metric: 'documents', delta: 1, reason: 'documents.create', idempotencyKey: DummyValue.STRING, checkedLimit: DummyValue.NUMBER }, DummyValue.TX] })
  async insert(event: NewUsageEvent, db: TenantDb): Promise<boolean> {
    const rows = await this.insertEvent.execute(event, db);
    return rows.length > 0;
  }

  /**
   * The same event as insert(), as a statement not yet run, for TenantDb.together(): the domain
   * write then carries it in its own round trip. Nothing tells a replay apart here (no rows come
   * back), so use it for events whose key is new by construction (a fresh id).
   */
  @GenerateSql({ params: [{ metric: 'documents', delta: 1, reason: 'documents.create', idempotencyKey: DummyValue.STRING, checkedLimit: DummyValue.NUMBER }] })
  eventStatement(event: NewUsageEvent, db: TenantDb = this.db): LeadingStatement {
    return db
      .insert(usageEvents)
      .values({ metric: event.metric, delta: event.delta, reason: event.reason, idempotencyKey: event.idempotencyKey, checkedLimit: event.checkedLimit })
      .onConflictDoNothing({ target: [usageEvents.tenantId, usageEvents.idempotencyKey] });
  }

  @GenerateSql({ params: [] })
  counters(db: TenantDb = this.db): Promise<Array<{ metric: UsageMetric; value: number }>> {
    return db.select({ metric: usageCounters.metric, value: usageCounters.value }).from(usageCounters).orderBy(asc(usageCounters.metric));
  }

  @GenerateSql({ params: ['storage_bytes'] })
  async counter(metric: UsageMetric): Promise<number> {
    const [row] = await this.db.select({ value: usageCounters.value }).from(usageCounters).where(eq(usageCounters.metric, metric)).limit(1);
    return row?.value ?? 0;
  }

  /** Increases and decreases per metric in [from, to). */
  @GenerateSql({ params: [DummyValue.DATE, DummyValue.DATE, DummyValue.TX] })
  async periodTotals(from: Date, to: Date, db: TenantDb = this.db): Promise<PeriodTotals[]> {
    const rows = await db
      .select({
        metric: usageEvents.metric,
        added: sql<string>`coalesce(sum(${usageEvents.delta}) filter (where ${usageEvents.delta} > 0 and ${usageEvents.reason} <> 'opening-balance'), 0)`,
        removed: sql<string>`coalesce(-sum(${usageEvents.delta}) filter (where ${usageEvents.delta} < 0), 0)`,
      })
      .from(usageEvents)
      .where(and(gte(usageEvents.occurredAt, from), lt(usageEvents.occurredAt, to)))
      .groupBy(usageEvents.metric)
      .orderBy(asc(usageEvents.metric));
    return rows.map((r) => ({ metric: r.metric, added: Number(r.added), removed: Number(r.removed) }));
  }

  /** Each metric's value at `at`: the sum of its events before it (the export's opening and closing values). */
  @GenerateSql({ params: [DummyValue.DATE, DummyValue.TX] })
  async balancesAt(at: Date, db: TenantDb = this.db): Promise<Map<UsageMetric, number>> {
    const rows = await db
      .select({ metric: usageEvents.metric, value: sql<string>`coalesce(sum(${usageEvents.delta}), 0)` })
      .from(usageEvents)
      .where(lt(usageEvents.occurredAt, at))
      .groupBy(usageEvents.metric);
    return new Map(rows.map((r) => [r.metric, Number(r.value)]));
  }
}
