import { Injectable } from '@nestjs/common';
import { and, desc, eq, lt, ne, or, sql } from 'drizzle-orm';
import { DummyValue, GenerateSql } from '../database/generate-sql.decorator';
import { TenantDeletionRow, tenantDeletions, TenantDeletionStep, TenantDeletionVerification } from '../database/schema';
import { SystemDb } from '../database/system-db';

export interface NewTenantDeletion {
  tenantId: string;
  tenantSlug: string;
  database: string;
  requestedBy: string;
  reason?: string;
  exportRequested?: boolean;
}

/**
 * The deletion reports (platform table tenant_deletions): every query a named system operation.
 * The runtime role may insert and update them, never delete one (drizzle/0017).
 */
@Injectable()
export class TenantDeletionsRepository {
  constructor(private readonly systemDb: SystemDb) {}

  /** The tenant's unfinished (running or failed) deletion, by tenant id or by the slug it had. */
  @GenerateSql({ name: 'by id', params: [{ kind: 'id', value: DummyValue.UUID }] }, { name: 'by slug', params: [{ kind: 'slug', value: DummyValue.STRING }] })
  findUnfinished(tenant: { kind: 'id' | 'slug'; value: string }): Promise<TenantDeletionRow | undefined> {
    return this.systemDb.run('tenant-deletions.findUnfinished', async (db) => {
      const [row] = await db
        .select()
        .from(tenantDeletions)
        .where(and(tenant.kind === 'id' ? eq(tenantDeletions.tenantId, tenant.value) : eq(tenantDeletions.tenantSlug, tenant.value), ne(tenantDeletions.status, 'completed')))
        .orderBy(desc(tenantDeletions.startedAt))
        .limit(1);
      return row;
    });
  }

  /**
   * A new report, status running; undefined when the tenant already has an unfinished one (the
   * partial unique index: two starts racing get one report, and the loser resumes it).
   */
  @GenerateSql({ params: [{ tenantId: DummyValue.UUID, tenantSlug: 'sample-tenant', database: 'shared', requestedBy: 'cli:ops', reason: DummyValue.STRING, exportRequested: true }] })
  create(input: NewTenantDeletion): Promise<TenantDeletionRow | undefined> {
    return this.systemDb.run('tenant-deletions.create', async (db) => {
      const [row] = await db.insert(tenantDeletions).values(input).onConflictDoNothing().returning();
      return row;
    });
  }

  /** Starts an unfinished report again: running, one more attempt, the last error cleared. */
  @GenerateSql({ params: [DummyValue.UUID] })
  resume(id: string): Promise<TenantDeletionRow | undefined> {
    return this.systemDb.run('tenant-deletions.resume', async (db) => {
      const [row] = await db
        .update(tenantDeletions)
        .set({ status: 'running', attempts: sql`${tenantDeletions.attempts} + 1`, error: null, updatedAt: new Date() })
        .where(and(eq(tenantDeletions.id, id), ne(tenantDeletions.status, 'completed')))
        .returning();
      return row;
    });
  }

  /** Appends one step's record (jsonb concatenation in the statement: no read-modify-write). */
  @GenerateSql({ params: [DummyValue.UUID, { name: 'suspend', attempt: 1, status: 'done', startedAt: DummyValue.STRING, finishedAt: DummyValue.STRING }] })
  appendStep(id: string, step: TenantDeletionStep): Promise<void> {
    return this.systemDb.run('tenant-deletions.appendStep', async (db) => {
      await db
        .update(tenantDeletions)
        .set({ steps: sql`${tenantDeletions.steps} || jsonb_build_array(${JSON.stringify(step)}::jsonb)`, updatedAt: new Date() })
        .where(eq(tenantDeletions.id, id));
    });
  }

  /** Where the export before deletion stored its archive (set once written; a resumed deletion does not export again). */
  @GenerateSql({ params: [DummyValue.UUID, DummyValue.STRING] })
  recordExport(id: string, exportKey: string): Promise<void> {
    return this.systemDb.run('tenant-deletions.recordExport', async (db) => {
      await db.update(tenantDeletions).set({ exportKey, updatedAt: new Date() }).where(eq(tenantDeletions.id, id));
    });
  }

  @GenerateSql({ params: [DummyValue.UUID, { ok: true, at: DummyValue.STRING, rows: {}, cacheKeys: 0, objects: 0 }] })
  recordVerification(id: string, verification: TenantDeletionVerification): Promise<void> {
    return this.systemDb.run('tenant-deletions.recordVerification', async (db) => {
      await db.update(tenantDeletions).set({ verification, updatedAt: new Date() }).where(eq(tenantDeletions.id, id));
    });
  }

  /** completed or failed (with the error), and the time it ended. */
  @GenerateSql({ params: [DummyValue.UUID, 'failed', DummyValue.STRING] })
  finish(id: string, status: 'completed' | 'failed', error?: string): Promise<TenantDeletionRow | undefined> {
    return this.systemDb.run('tenant-deletions.finish', async (db) => {
      const now = new Date();
      const [row] = await db.update(tenantDeletions).set({ status, error: error ?? null, finishedAt: now, updatedAt: now }).where(eq(tenantDeletions.id, id)).returning();
      return row;
    });
  }

  @GenerateSql({ params: [DummyValue.UUID] })
  findById(id: string): Promise<TenantDeletionRow | undefined> {
    return this.systemDb.run('tenant-deletions.findById', async (db) => {
      const [row] = await db.select().from(tenantDeletions).where(eq(tenantDeletions.id, id)).limit(1);
      return row;
    });
  }

  /** Newest first, keyset-paginated on (started_at, id). */
  @GenerateSql({ name: 'first page', params: [DummyValue.NUMBER] }, { name: 'after a report', params: [DummyValue.NUMBER, { startedAt: DummyValue.DATE, id: DummyValue.UUID }] })
  list(limit: number, after?: { startedAt: Date; id: string }): Promise<TenantDeletionRow[]> {
    return this.systemDb.run('tenant-deletions.list', (db) =>
      db
        .select()
        .from(tenantDeletions)
        .where(
          after
            ? or(lt(tenantDeletions.startedAt, after.startedAt), and(eq(tenantDeletions.startedAt, after.startedAt), lt(tenantDeletions.id, after.id)))
            : undefined,
        )
        .orderBy(desc(tenantDeletions.startedAt), desc(tenantDeletions.id))
        .limit(limit),
    );
  }
}
