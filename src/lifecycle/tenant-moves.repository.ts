import { Injectable } from '@nestjs/common';
import { and, desc, eq, inArray, isNull, lt, or, sql } from 'drizzle-orm';
import { DummyValue, GenerateSql } from '../database/generate-sql.decorator';
import { TenantMoveRow, tenantMoves, TenantMoveStatus, TenantMoveStep, TenantMoveVerification } from '../database/schema';
import { SystemDb } from '../database/system-db';

export interface NewTenantMove {
  tenantId: string;
  tenantSlug: string;
  fromDatabase: string;
  toDatabase: string;
  requestedBy: string;
}

/** What a step records besides itself. */
export type TenantMoveProgress = Partial<Pick<TenantMoveRow, 'copied' | 'verification' | 'cleaned' | 'pausedAt' | 'resumedAt' | 'jobId'>>;

/** The move reports (platform table tenant_moves): every query a named system operation; never deleted (no DELETE grant, drizzle/0022). */
@Injectable()
export class TenantMovesRepository {
  constructor(private readonly systemDb: SystemDb) {}

  /** The tenant's unfinished (running or failed) move, if any. */
  @GenerateSql({ params: [DummyValue.UUID] })
  findUnfinished(tenantId: string): Promise<TenantMoveRow | undefined> {
    return this.systemDb.run('tenant-moves.findUnfinished', async (db) => {
      const [row] = await db
        .select()
        .from(tenantMoves)
        .where(and(eq(tenantMoves.tenantId, tenantId), inArray(tenantMoves.status, ['running', 'failed'])))
        .limit(1);
      return row;
    });
  }

  /** A new report (running, step requested); undefined when the tenant already has an unfinished one (the partial unique index). */
  @GenerateSql({ params: [{ tenantId: DummyValue.UUID, tenantSlug: 'sample-tenant', fromDatabase: 'shared', toDatabase: 'big1', requestedBy: 'cli:ops' }] })
  create(input: NewTenantMove): Promise<TenantMoveRow | undefined> {
    return this.systemDb.run('tenant-moves.create', async (db) => {
      const [row] = await db.insert(tenantMoves).values(input).onConflictDoNothing().returning();
      return row;
    });
  }

  /** Starts an unfinished move (again): running, one more attempt, the last error cleared. Undefined when it is finished. */
  @GenerateSql({ params: [DummyValue.UUID] })
  resume(id: string): Promise<TenantMoveRow | undefined> {
    return this.systemDb.run('tenant-moves.resume', async (db) => {
      const [row] = await db
        .update(tenantMoves)
        .set({ status: 'running', attempts: sql`${tenantMoves.attempts} + 1`, error: null, updatedAt: new Date() })
        .where(and(eq(tenantMoves.id, id), inArray(tenantMoves.status, ['running', 'failed'])))
        .returning();
      return row;
    });
  }

  /**
   * Asks a running move to stop at its next step boundary (its run checks aborted_by after each
   * step it records). Only before verification is recorded: the 'verified' record is conditional on
   * no abort (recordVerified), so of the two updates of the row exactly one wins. Undefined when the
   * move is not running or already past copied.
   */
  @GenerateSql({ params: [DummyValue.UUID, 'cli:ops'] })
  requestAbort(id: string, abortedBy: string): Promise<TenantMoveRow | undefined> {
    return this.systemDb.run('tenant-moves.requestAbort', async (db) => {
      const [row] = await db
        .update(tenantMoves)
        .set({ abortedBy: sql`coalesce(${tenantMoves.abortedBy}, ${abortedBy})`, updatedAt: new Date() })
        .where(and(eq(tenantMoves.id, id), eq(tenantMoves.status, 'running'), inArray(tenantMoves.step, ['requested', 'paused', 'copied'])))
        .returning();
      return row;
    });
  }

  /** Records 'verified' unless an abort was asked for meanwhile (then undefined: the run aborts instead of switching). */
  @GenerateSql({ params: [DummyValue.UUID, { ok: true, at: DummyValue.STRING, source: {}, target: {}, mismatched: [] }] })
  recordVerified(id: string, verification: TenantMoveVerification): Promise<TenantMoveRow | undefined> {
    return this.systemDb.run('tenant-moves.recordVerified', async (db) => {
      const [row] = await db
        .update(tenantMoves)
        .set({ step: 'verified', verification, updatedAt: new Date() })
        .where(and(eq(tenantMoves.id, id), isNull(tenantMoves.abortedBy)))
        .returning();
      return row;
    });
  }

  /** Records a step as done, with what it measured. */
  @GenerateSql({ params: [DummyValue.UUID, 'copied', { copied: { documents: 1 } }] })
  recordStep(id: string, step: TenantMoveStep, progress: TenantMoveProgress = {}): Promise<TenantMoveRow | undefined> {
    return this.systemDb.run('tenant-moves.recordStep', async (db) => {
      const [row] = await db.update(tenantMoves).set({ step, ...progress, updatedAt: new Date() }).where(eq(tenantMoves.id, id)).returning();
      return row;
    });
  }

  @GenerateSql({ params: [DummyValue.UUID, { ok: true, at: DummyValue.STRING, source: {}, target: {}, mismatched: [] }] })
  recordVerification(id: string, verification: TenantMoveVerification): Promise<void> {
    return this.systemDb.run('tenant-moves.recordVerification', async (db) => {
      await db.update(tenantMoves).set({ verification, updatedAt: new Date() }).where(eq(tenantMoves.id, id));
    });
  }

  @GenerateSql({ params: [DummyValue.UUID, DummyValue.UUID] })
  recordJob(id: string, jobId: string): Promise<void> {
    return this.systemDb.run('tenant-moves.recordJob', async (db) => {
      await db.update(tenantMoves).set({ jobId, updatedAt: new Date() }).where(eq(tenantMoves.id, id));
    });
  }

  /** failed, rolled-back, aborted or completed (with the error), and the time it ended; `abortedBy` for aborted. */
  @GenerateSql({ name: 'failed', params: [DummyValue.UUID, 'failed', DummyValue.STRING] }, { name: 'aborted', params: [DummyValue.UUID, 'aborted', DummyValue.STRING, 'cli:ops'] })
  finish(id: string, status: Exclude<TenantMoveStatus, 'running'>, error?: string, abortedBy?: string): Promise<TenantMoveRow | undefined> {
    return this.systemDb.run('tenant-moves.finish', async (db) => {
      const now = new Date();
      const [row] = await db
        .update(tenantMoves)
        .set({ status, error: error ?? null, finishedAt: now, updatedAt: now, ...(abortedBy ? { abortedBy: sql`coalesce(${tenantMoves.abortedBy}, ${abortedBy})` } : {}) })
        .where(eq(tenantMoves.id, id))
        .returning();
      return row;
    });
  }

  @GenerateSql({ params: [DummyValue.UUID] })
  findById(id: string): Promise<TenantMoveRow | undefined> {
    return this.systemDb.run('tenant-moves.findById', async (db) => {
      const [row] = await db.select().from(tenantMoves).where(eq(tenantMoves.id, id)).limit(1);
      return row;
    });
  }

  /** Newest first, keyset-paginated on (started_at, id). */
  @GenerateSql({ name: 'first page', params: [DummyValue.NUMBER] }, { name: 'after a report', params: [DummyValue.NUMBER, { startedAt: DummyValue.DATE, id: DummyValue.UUID }] })
  list(limit: number, after?: { startedAt: Date; id: string }): Promise<TenantMoveRow[]> {
    return this.systemDb.run('tenant-moves.list', (db) =>
      db
        .select()
        .from(tenantMoves)
        .where(after ? or(lt(tenantMoves.startedAt, after.startedAt), and(eq(tenantMoves.startedAt, after.startedAt), lt(tenantMoves.id, after.id))) : undefined)
        .orderBy(desc(tenantMoves.startedAt), desc(tenantMoves.id))
        .limit(limit),
    );
  }
}
