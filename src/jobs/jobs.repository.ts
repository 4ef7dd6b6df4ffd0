import { Injectable } from '@nestjs/common';
import { and, desc, eq, inArray, sql, SQL } from 'drizzle-orm';
import { Cursor } from '../common/http/cursor';
import { DummyValue, GenerateSql } from '../database/generate-sql.decorator';
import { JobRow, jobs, JobStatus } from '../database/schema';
import { TenantDb, TenantQueryBuilder } from '../database/tenant-db';
import type { JobFailure } from './job-errors';
import type { JobProgress } from './job-types';

const newestFirst = (db: TenantQueryBuilder, where?: SQL) => db.select().from(jobs).where(where).orderBy(desc(jobs.createdAt), desc(jobs.id));

/** A job the worker may (still) run: queued, or running (a previous attempt died or was interrupted). */
const RUNNABLE: JobStatus[] = ['queued', 'running'];

/**
 * The tenant's job rows, through TenantDb (the tenant is never a parameter here).
 * The worker writes them inside the job's tenant context, exactly like a request.
 */
@Injectable()
export class JobsRepository {
  constructor(private readonly db: TenantDb) {}

  @GenerateSql({ params: [{ id: DummyValue.UUID, kind: DummyValue.STRING, maxAttempts: DummyValue.NUMBER, requestedBy: DummyValue.UUID_2 }] })
  async create(input: { id: string; kind: string; maxAttempts: number; requestedBy: string | null }): Promise<JobRow> {
    const [row] = await this.db.insert(jobs).values(input).returning();
    return row;
  }

  @GenerateSql({ params: [DummyValue.UUID] })
  async findById(id: string): Promise<JobRow | undefined> {
    const [row] = await this.db.select().from(jobs).where(eq(jobs.id, id)).limit(1);
    return row;
  }

  @GenerateSql({ name: 'first page', params: [{ limit: DummyValue.NUMBER }] }, { name: 'after a cursor', params: [{ limit: DummyValue.NUMBER, after: { createdAt: DummyValue.DATE, id: DummyValue.UUID_2 } }] })
  async list(options: { limit: number; after?: Cursor }): Promise<JobRow[]> {
    const after = options.after ? sql`(${jobs.createdAt}, ${jobs.id}) < (${options.after.createdAt}, ${options.after.id})` : undefined;
    return await newestFirst(this.db, after).limit(options.limit);
  }

  /**
   * An attempt starts. Undefined when the job is no longer runnable (cancelled, already
   * finished: a duplicate delivery after a crash) or its row is gone: the worker then
   * drops it without running the handler.
   */
  @GenerateSql({ params: [DummyValue.UUID, DummyValue.NUMBER] })
  async startAttempt(id: string, attempt: number): Promise<JobRow | undefined> {
    const [row] = await this.db
      .update(jobs)
      .set({ status: 'running', attempts: attempt, startedAt: sql`coalesce(${jobs.startedAt}, now())`, updatedAt: sql`now()` })
      .where(and(eq(jobs.id, id), inArray(jobs.status, RUNNABLE)))
      .returning();
    return row;
  }

  /** Only while it runs: a late report of an attempt already given up changes nothing. */
  @GenerateSql({ params: [DummyValue.UUID, { done: DummyValue.NUMBER, total: DummyValue.NUMBER, stage: DummyValue.STRING }] })
  async reportProgress(id: string, progress: JobProgress): Promise<boolean> {
    const rows = await this.db
      .update(jobs)
      .set({ progressDone: progress.done, progressTotal: progress.total ?? null, progressStage: progress.stage ?? null, updatedAt: sql`now()` })
      .where(and(eq(jobs.id, id), eq(jobs.status, 'running')))
      .returning({ id: jobs.id });
    return rows.length > 0;
  }

  @GenerateSql({ params: [DummyValue.UUID, { files: DummyValue.NUMBER }] })
  async succeed(id: string, result: Record<string, unknown> | null): Promise<void> {
    await this.db
      .update(jobs)
      .set({ status: 'succeeded', result, finishedAt: sql`now()`, updatedAt: sql`now()` })
      .where(and(eq(jobs.id, id), eq(jobs.status, 'running')));
  }

  /**
   * The tenant is being deleted (offboarding): its queued jobs are cancelled with `failure`, so a
   * worker that fetches one later drops it (startAttempt finds it not runnable). Returns their ids.
   */
  @GenerateSql({ params: [{ code: DummyValue.STRING, message: DummyValue.STRING }] })
  async cancelQueued(failure: Pick<JobFailure, 'code' | 'message'>): Promise<string[]> {
    const rows = await this.db
      .update(jobs)
      .set({ status: 'cancelled', lastErrorCode: failure.code, lastError: failure.message, finishedAt: sql`now()`, updatedAt: sql`now()` })
      .where(eq(jobs.status, 'queued'))
      .returning({ id: jobs.id });
    return rows.map((row) => row.id);
  }

  /** The tenant's jobs with an attempt in progress (or whose worker died mid-attempt, until the queue gives them up). */
  @GenerateSql()
  async listRunning(): Promise<string[]> {
    const rows = await this.db.select({ id: jobs.id }).from(jobs).where(eq(jobs.status, 'running'));
    return rows.map((row) => row.id);
  }

  /**
   * An attempt failed: back to queued when the queue will retry it, failed otherwise.
   * `attempts` is raised to at least `attempt` (a job failed before it ever ran, e.g. its
   * tenant suspended, records no attempt).
   */
  @GenerateSql({ params: [DummyValue.UUID, { code: DummyValue.STRING, message: DummyValue.STRING }, 'queued'] })
  async failAttempt(id: string, failure: Pick<JobFailure, 'code' | 'message'>, next: 'queued' | 'failed'): Promise<void> {
    await this.db
      .update(jobs)
      .set({
        status: next,
        lastErrorCode: failure.code,
        lastError: failure.message,
        finishedAt: next === 'failed' ? sql`now()` : null,
        updatedAt: sql`now()`,
      })
      .where(and(eq(jobs.id, id), inArray(jobs.status, RUNNABLE)));
  }
}
