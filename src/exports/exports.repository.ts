import { Injectable } from '@nestjs/common';
import { and, asc, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import { Cursor } from '../common/http/cursor';
import { DummyValue, GenerateSql } from '../database/generate-sql.decorator';
import { ExportRow, ExportTableSummary, tenantExports } from '../database/schema';
import { TenantDb } from '../database/tenant-db';

export interface ExportOutcome {
  archiveKey: string;
  sizeBytes: number;
  checksumSha256: string;
  tables: ExportTableSummary;
  fileCount: number;
}

/** Exports whose job is over: only these may be deleted (a running one's job would write its archive after). */
const FINISHED: ExportRow['status'][] = ['succeeded', 'failed'];

/** The tenant's export rows, through TenantDb (the tenant is never a parameter here). */
@Injectable()
export class ExportsRepository {
  constructor(private readonly db: TenantDb) {}

  @GenerateSql({ params: [{ id: DummyValue.UUID, requestedBy: DummyValue.STRING }] })
  async create(input: { id: string; requestedBy: string }): Promise<ExportRow> {
    const [row] = await this.db.insert(tenantExports).values(input).returning();
    return row;
  }

  @GenerateSql({ params: [DummyValue.UUID, DummyValue.UUID_2] })
  async setJob(id: string, jobId: string): Promise<ExportRow | undefined> {
    const [row] = await this.db.update(tenantExports).set({ jobId, updatedAt: sql`now()` }).where(eq(tenantExports.id, id)).returning();
    return row;
  }

  @GenerateSql({ params: [DummyValue.UUID] })
  async findById(id: string): Promise<ExportRow | undefined> {
    const [row] = await this.db.select().from(tenantExports).where(eq(tenantExports.id, id)).limit(1);
    return row;
  }

  @GenerateSql({ name: 'first page', params: [{ limit: DummyValue.NUMBER }] }, { name: 'after a cursor', params: [{ limit: DummyValue.NUMBER, after: { createdAt: DummyValue.DATE, id: DummyValue.UUID_2 } }] })
  async list(options: { limit: number; after?: Cursor }): Promise<ExportRow[]> {
    const after = options.after ? sql`(${tenantExports.createdAt}, ${tenantExports.id}) < (${options.after.createdAt}, ${options.after.id})` : undefined;
    return await this.db.select().from(tenantExports).where(after).orderBy(desc(tenantExports.createdAt), desc(tenantExports.id)).limit(options.limit);
  }

  /** Finished (succeeded or failed) exports that ended before `cutoff`, oldest first: what retention deletes. */
  @GenerateSql({ params: [DummyValue.DATE, DummyValue.NUMBER] })
  async findExpired(cutoff: Date, limit: number): Promise<ExportRow[]> {
    return await this.db
      .select()
      .from(tenantExports)
      .where(and(inArray(tenantExports.status, FINISHED), lt(tenantExports.finishedAt, cutoff)))
      .orderBy(asc(tenantExports.finishedAt), asc(tenantExports.id))
      .limit(limit);
  }

  /**
   * Deletes a finished export's row (its archive already deleted by the caller). False when it is
   * gone, or queued or running again meanwhile (its job would then write a row that is no more).
   */
  @GenerateSql({ params: [DummyValue.UUID] })
  async delete(id: string): Promise<boolean> {
    const rows = await this.db
      .delete(tenantExports)
      .where(and(eq(tenantExports.id, id), inArray(tenantExports.status, FINISHED)))
      .returning({ id: tenantExports.id });
    return rows.length > 0;
  }

  /**
   * An attempt starts (the first, or a re-run after a failure or a crash): running, the last
   * error cleared. Undefined when it already succeeded: a duplicate run has nothing to do.
   */
  @GenerateSql({ params: [DummyValue.UUID] })
  async start(id: string): Promise<ExportRow | undefined> {
    const [row] = await this.db
      .update(tenantExports)
      .set({ status: 'running', errorCode: null, error: null, startedAt: sql`coalesce(${tenantExports.startedAt}, now())`, updatedAt: sql`now()` })
      .where(and(eq(tenantExports.id, id), inArray(tenantExports.status, ['queued', 'running', 'failed'])))
      .returning();
    return row;
  }

  /** Recorded only once the archive is stored: a succeeded row always names a complete object. */
  @GenerateSql({ params: [DummyValue.UUID, { archiveKey: DummyValue.STRING, sizeBytes: DummyValue.NUMBER, checksumSha256: DummyValue.STRING, tables: {}, fileCount: DummyValue.NUMBER }] })
  async succeed(id: string, outcome: ExportOutcome): Promise<ExportRow | undefined> {
    const [row] = await this.db
      .update(tenantExports)
      .set({ ...outcome, status: 'succeeded', errorCode: null, error: null, finishedAt: sql`now()`, updatedAt: sql`now()` })
      .where(eq(tenantExports.id, id))
      .returning();
    return row;
  }

  /** The attempt failed; `final`: no retry will follow (else it stays running for the queue's retry). */
  @GenerateSql({ params: [DummyValue.UUID, { code: DummyValue.STRING, message: DummyValue.STRING }, true] })
  async fail(id: string, error: { code: string; message: string }, final: boolean): Promise<void> {
    await this.db
      .update(tenantExports)
      .set({ status: final ? 'failed' : 'running', errorCode: error.code, error: error.message, finishedAt: final ? sql`now()` : null, updatedAt: sql`now()` })
      .where(and(eq(tenantExports.id, id), inArray(tenantExports.status, ['queued', 'running', 'failed'])));
  }
}
