import { Injectable, Logger, OnModuleInit, Optional } from '@nestjs/common';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import { decodeCursor, Page, toPage } from '../common/http/cursor';
import { SHARED_DATABASE } from '../config/env.schema';
import { TenantMoveRow, TenantMoveStep, TenantMoveVerification } from '../database/schema';
import {
  awaitWriteBarrierOn,
  checksumTenantRowsOn,
  memberUserIdsOn,
  pointTenantOn,
  setMoveStateOn,
  TableCheck,
  tenantEntryOn,
  usersById,
} from '../database/tenant-copy';
import { TenantDatabases } from '../database/tenant-databases';
import { TenantRows } from '../database/tenant-rows';
import { OwnerConnections } from '../database/owner-connections';
import { TenantVectorIndexes, VectorExtensionMissingError } from '../database/tenant-vector-indexes';
import { deleteTenantRecordOn, TenantErasure } from '../database/tenant-erasure';
import { JobsService } from '../jobs/jobs.service';
import type { JobContext } from '../jobs/job-types';
import { PlansService } from '../plans/plans.service';
import { TenantResolver } from '../tenants/tenant-resolver.service';
import { TenantsService } from '../tenants/tenants.service';
import { TenantMoveView } from './tenant-move.schemas';
import { TenantMovesRepository } from './tenant-moves.repository';

export type { TenantMoveView };

/** The job kind a move runs as (src/jobs): its payload names the move report, nothing else. */
export const TENANT_MOVE_JOB = 'tenants.move';

export interface TenantMoveRequest {
  /** The tenant, by id or slug. */
  tenant: string;
  /** "shared" or a TENANT_DATABASES name. */
  to: string;
  /** `admin-key:<fingerprint>` (HTTP) or `cli:<os user>`. */
  requestedBy: string;
}

export interface MoveProgress {
  done: number;
  total?: number;
  stage?: string;
}

export interface MoveRunOptions {
  report?: (progress: MoveProgress) => Promise<void>;
  /**
   * Stop (as a crash would) once this step is recorded: the report stays running, and a later
   * run resumes after it. For tests and drills of the resume path; not offered over HTTP.
   */
  stopAfter?: TenantMoveStep;
}

/** The steps counted by the progress bar: pause, barrier+copy, verify, switch, clean. */
const STEP_COUNT = 5;
const STEP_ORDER: readonly TenantMoveStep[] = ['requested', 'paused', 'copied', 'verified', 'switched', 'cleaned'];

/** The move did not finish: its report (status failed) says where it stopped; starting it again resumes there. */
export class TenantMoveFailedError extends AppError {
  constructor(
    readonly report: TenantMoveView,
    cause: unknown,
  ) {
    super(ErrorCode.Internal, `The tenant move ${report.id} failed after step ${report.step}; start it again to resume`);
    this.name = 'TenantMoveFailedError';
    this.cause = cause;
  }
}

/** Stopped on purpose (MoveRunOptions.stopAfter): not a failure, the report stays running. */
export class TenantMoveStoppedError extends Error {
  constructor(readonly report: TenantMoveView) {
    super(`move ${report.id} stopped after step ${report.step}`);
    this.name = 'TenantMoveStoppedError';
  }
}

/** An abort was asked for (tenant_moves.aborted_by) and the run reached a step boundary: it aborts instead of going on. */
class MoveAbortRequested extends Error {
  constructor() {
    super('abort requested');
  }
}

/** Steps after which the tenant is served from the target: too late to abort. */
const SWITCHED_STEPS: readonly TenantMoveStep[] = ['switched', 'cleaned'];

const iso = (date: Date | null) => (date ? date.toISOString() : null);

export function toTenantMoveView(row: TenantMoveRow): TenantMoveView {
  return {
    id: row.id,
    tenantId: row.tenantId,
    tenantSlug: row.tenantSlug,
    from: row.fromDatabase,
    to: row.toDatabase,
    status: row.status,
    step: row.step,
    attempts: row.attempts,
    copied: row.copied ?? null,
    verification: row.verification ?? null,
    cleaned: row.cleaned ?? null,
    error: row.error,
    requestedBy: row.requestedBy,
    abortedBy: row.abortedBy,
    jobId: row.jobId,
    startedAt: row.startedAt.toISOString(),
    pausedAt: iso(row.pausedAt),
    resumedAt: iso(row.resumedAt),
    finishedAt: iso(row.finishedAt),
  };
}

function compare(source: Record<string, TableCheck>, target: Record<string, TableCheck>): TenantMoveVerification {
  const tables = [...new Set([...Object.keys(source), ...Object.keys(target)])].sort();
  const mismatched = tables.filter((table) => source[table]?.rows !== target[table]?.rows || source[table]?.checksum !== target[table]?.checksum);
  return { ok: mismatched.length === 0, at: new Date().toISOString(), source, target, mismatched };
}

/**
 * A live move of one tenant between placements (README "Moving a tenant"): the shared database
 * and a dedicated one (TENANT_DATABASES), either way, or between two dedicated ones.
 *
 *   pause (source: tenants.move_state, writes refused, reads go on)
 *   -> barrier + copy (wait for in-flight writes, then every tenant table in one target transaction)
 *   -> verify (row counts and checksums per table, both sides)
 *   -> switch (the directory points at the target, writes resume there; a dedicated source's
 *      anchor points away) -> clean the source (its rows deleted by the erasure code)
 *   verification mismatch -> rollback: the copy deleted, the source resumed, status rolled-back.
 *
 * The report (tenant_moves) records each step once done; every step is idempotent, so a run
 * that failed or died (a crash, the target down) resumes after the last recorded step: a copy
 * starts over on a cleaned target. One run per move at a time, across processes: a session
 * advisory lock on the shared database, released by PostgreSQL if the process dies.
 */
@Injectable()
export class TenantMoveService implements OnModuleInit {
  private readonly logger = new Logger('TenantMove');

  constructor(
    private readonly moves: TenantMovesRepository,
    private readonly tenants: TenantsService,
    private readonly resolver: TenantResolver,
    private readonly erasure: TenantErasure,
    private readonly rows: TenantRows,
    private readonly owners: OwnerConnections,
    private readonly databases: TenantDatabases,
    private readonly plans: PlansService,
    private readonly vectorIndexes: TenantVectorIndexes,
    // Absent in the CLI's context: it runs moves itself, in the foreground.
    @Optional() private readonly jobs?: JobsService,
  ) {}

  onModuleInit(): void {
    this.jobs?.register<{ moveId: string }>(TENANT_MOVE_JOB, (payload, context) => this.runAsJob(payload, context), {
      // Each attempt resumes the same report; a retry after a failure (the target was down) continues it.
      retryLimit: 5,
      retryDelaySeconds: 15,
      retryBackoff: true,
      timeoutSeconds: 6 * 3600,
      runsOnSuspendedTenants: true,
      // Its last attempt's worker died: the report would stay running; failed, it can be resumed or aborted.
      onGivenUp: async (payload) => {
        const moveId = (payload as { moveId?: unknown } | null)?.moveId;
        if (typeof moveId === 'string') await this.markGivenUp(moveId);
      },
    });
  }

  /**
   * The tenant's per-tenant HNSW indexes (semantic search) follow it: built on the target before the
   * source's are dropped with its rows (TenantErasure), so a resumed run still sees what to carry.
   * A target without pgvector serves the tenant by the exact scan: said in the log, not a failure.
   */
  private async carryVectorIndexes(tenantId: string, from: string, to: string): Promise<void> {
    const carried = (await this.vectorIndexes.list(from)).filter((index) => index.tenantId === tenantId && index.valid);
    if (carried.length === 0) return;
    try {
      await this.vectorIndexes.create({ tenantId, database: to }, carried[0].dimension);
    } catch (error) {
      if (!(error instanceof VectorExtensionMissingError)) throw error;
      this.logger.warn(`tenant ${tenantId}: its HNSW indexes are not carried to "${to}" (${error.message})`);
    }
  }

  /**
   * The queue gave the move's job up (JobsWorker's sweep): a running report no run holds becomes
   * failed, so asking for the move again resumes it and an abort stops it. One a run holds (the
   * CLI took it over) is left to that run.
   */
  async markGivenUp(id: string): Promise<void> {
    await this.withRunLock(id, async () => {
      const row = await this.moves.findById(id);
      if (row?.status !== 'running') return;
      this.logger.error(`move ${id} of ${row.tenantSlug} (${row.tenantId}): its job was given up after step ${row.step}; marked failed`);
      await this.moves.finish(id, 'failed', `its job was given up (the worker running its last attempt died) after step ${row.step}: ask for the move again to resume it, or abort it`);
    });
  }

  /**
   * Validates and records a move (or finds the tenant's failed one to the same target, which is
   * then resumed). Refuses before anything changes: unknown tenant or database (404), the tenant
   * already there, a move of it running, or one unfinished to another target (409).
   */
  async start(request: TenantMoveRequest, options: { resumeRunning?: boolean } = {}): Promise<TenantMoveView> {
    const tenant = await this.tenants.find(request.tenant);
    if (!tenant) throw AppError.notFound('Tenant');
    if (!this.databases.isRegistered(request.to)) throw AppError.notFound('Database');
    const unfinished = await this.moves.findUnfinished(tenant.id);
    if (unfinished) {
      if (unfinished.toDatabase !== request.to) {
        throw new AppError(ErrorCode.Conflict, `A move of this tenant to "${unfinished.toDatabase}" is not finished (${unfinished.id}): resume or finish it first`);
      }
      // A running one has its job (or a process) on it: the API does not queue a second. The CLI
      // may take over one whose process died (run() refuses it, 409, while another holds it).
      if (unfinished.status === 'running' && !options.resumeRunning) {
        throw new AppError(ErrorCode.Conflict, `A move of this tenant is running (${unfinished.id}): follow GET /tenant-moves/${unfinished.id}`);
      }
      return toTenantMoveView(unfinished);
    }
    if (tenant.database === request.to) throw new AppError(ErrorCode.Conflict, `The tenant is already on "${request.to}"`);
    for (const database of [tenant.database, request.to]) {
      if (!this.erasure.canErase(database)) {
        throw new AppError(ErrorCode.Internal, "Moving tenants is not configured on this instance (the owner connection of a database is missing: DATABASE_MIGRATION_URL, TENANT_DATABASES' migrationUrl)");
      }
    }
    const created = await this.moves.create({ tenantId: tenant.id, tenantSlug: tenant.slug, fromDatabase: tenant.database, toDatabase: request.to, requestedBy: request.requestedBy });
    if (!created) throw new AppError(ErrorCode.Conflict, 'Another move of this tenant was started meanwhile');
    return toTenantMoveView(created);
  }

  /**
   * Starts the move's run in the background: as a `tenants.move` job when the jobs module is
   * there. The job's row lives in the tenant's own database, which a paused tenant cannot write
   * (a failed move resumed while paused): then the run starts in this process instead.
   */
  async launch(move: TenantMoveView): Promise<TenantMoveView> {
    if (this.jobs) {
      try {
        const job = await this.jobs.enqueueForTenant(move.tenantId, TENANT_MOVE_JOB, { moveId: move.id });
        await this.moves.recordJob(move.id, job.id);
        return this.get(move.id);
      } catch (error) {
        if (!(error instanceof AppError && error.code === ErrorCode.TenantMoving) && !isReadOnlyRefusal(error)) throw error;
      }
    }
    void this.run(move.id).catch((error: unknown) => this.logger.error(`move ${move.id}: ${(error as Error).message}`));
    return move;
  }

  async get(id: string): Promise<TenantMoveView> {
    const row = await this.moves.findById(id);
    if (!row) throw AppError.notFound('Tenant move');
    return toTenantMoveView(row);
  }

  async list(limit: number, cursor?: string): Promise<Page<TenantMoveView>> {
    const after = decodeCursor(cursor);
    const rows = await this.moves.list(limit + 1, after && { startedAt: after.createdAt, id: after.id });
    return toPage(rows, limit, toTenantMoveView, (row) => ({ createdAt: row.startedAt, id: row.id }));
  }

  /**
   * The job handler. Progress goes to the job's row only while the tenant is writable: during the
   * pause that row (a tenant row) is read only, and the report (GET /tenant-moves/:id) is the
   * move's live progress. Recording the job's success may then meet the switch (the worker entered
   * the tenant on its old database): the queue retries, and the retry finds the move completed.
   */
  private async runAsJob(payload: { moveId: string }, context: JobContext): Promise<Record<string, unknown>> {
    const report = async (progress: MoveProgress) => {
      if (context.signal.aborted) throw context.signal.reason;
      await context.report(progress).catch((error: unknown) => {
        if (context.signal.aborted) throw error;
      });
    };
    const done = await this.run(payload.moveId, { report });
    return { moveId: done.id, status: done.status, step: done.step };
  }

  /**
   * Runs (or resumes) move `id` to its end. Resolves with the report (completed, or rolled-back
   * when verification failed); rejects with TenantMoveFailedError (status failed: resumable), or
   * 409 when another process is running it.
   */
  async run(id: string, options: MoveRunOptions = {}): Promise<TenantMoveView> {
    const outcome = await this.withRunLock(id, () => this.runSteps(id, options));
    if (!outcome) throw new AppError(ErrorCode.Conflict, 'This move is running (in this or another process)');
    return outcome.value;
  }

  /**
   * `fn` under the move's run lock (a session advisory lock on the shared database, released by
   * PostgreSQL if the process dies); undefined, without calling it, when another holds the lock.
   */
  private async withRunLock<T>(id: string, fn: () => Promise<T>): Promise<{ value: T } | undefined> {
    const shared = this.owners.pool(SHARED_DATABASE);
    const guard = await shared.connect();
    let broken: Error | undefined;
    try {
      const { rows } = await guard.query<{ locked: boolean }>("select pg_catalog.pg_try_advisory_lock(pg_catalog.hashtext('tenancy.move.run'), pg_catalog.hashtext($1)) as locked", [id]);
      if (!rows[0].locked) return undefined;
      try {
        return { value: await fn() };
      } finally {
        await guard.query("select pg_catalog.pg_advisory_unlock(pg_catalog.hashtext('tenancy.move.run'), pg_catalog.hashtext($1))", [id]).catch((error: Error) => (broken = error));
      }
    } finally {
      guard.release(broken);
    }
  }

  /**
   * Aborts move `id` before its switch (POST /tenant-moves/:id/abort, `tenants move-abort`): the
   * copy on the target is deleted, the tenant's writes resume on the source, status aborted with
   * who asked (aborted_by). When no run holds the move (queued, failed, stopped between steps, its
   * process dead) that happens here at once; when one does, it is asked to stop at its next step
   * boundary and the report is returned still running, aborted_by set (follow it with GET). A
   * move that switched (or completed) is 409 TENANT_MOVE_SWITCHED, one rolled back 409
   * TENANT_MOVE_FINISHED; an aborted one is returned as it is.
   */
  async abort(id: string, abortedBy: string): Promise<TenantMoveView> {
    // A few rounds: the run may end (fail, finish) between our lock attempt and the request to it.
    for (let round = 0; round < 5; round++) {
      const current = await this.moves.findById(id);
      if (!current) throw AppError.notFound('Tenant move');
      if (current.status === 'aborted') return toTenantMoveView(current);
      assertAbortable(current);
      const now = await this.withRunLock(id, async () => {
        // Re-read under the lock: the run that held it may have moved on before releasing it.
        const row = (await this.moves.findById(id))!;
        if (row.status === 'aborted') return toTenantMoveView(row);
        assertAbortable(row);
        return this.abortNow(row, abortedBy);
      });
      if (now) return now.value;
      const asked = await this.moves.requestAbort(id, abortedBy);
      if (asked) {
        this.logger.warn(`move ${id} of ${asked.tenantSlug} (${asked.tenantId}): abort asked by ${abortedBy}; its run stops at the next step boundary`);
        return toTenantMoveView(asked);
      }
      // Not recorded: the run recorded 'verified' first (it is switching now), or it ended meanwhile.
      const moved = (await this.moves.findById(id))!;
      if (moved.status === 'running' && moved.step === 'verified') {
        throw new AppError(ErrorCode.TenantMoveSwitched, `The move ${id} passed verification and is switching the tenant to "${moved.toDatabase}": too late to abort; move the tenant back instead`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new AppError(ErrorCode.Conflict, 'The move changed state while being aborted; ask again');
  }

  /** Under the run lock, before the switch: the copy goes, the source resumes, the report says aborted. */
  private async abortNow(row: TenantMoveRow, abortedBy: string): Promise<TenantMoveView> {
    // A run that failed inside the switch step (after verified) may have pointed the directory at
    // the target before recording 'switched': the tenant is served there, its copy is its data now.
    const directory = await tenantEntryOn(this.owners.pool(SHARED_DATABASE), row.tenantId);
    if (directory?.database === row.toDatabase) {
      throw new AppError(ErrorCode.TenantMoveSwitched, `The move ${row.id} already pointed the tenant at "${row.toDatabase}": it cannot be aborted; run it to its end, then move the tenant back`);
    }
    // Or it pointed a dedicated source's anchor away (the switch's first half): back to the source.
    if (row.fromDatabase !== SHARED_DATABASE) await pointTenantOn(this.owners.pool(row.fromDatabase), row.tenantId, row.fromDatabase, false);
    this.logger.warn(`move ${row.id} of ${row.tenantSlug} (${row.tenantId}) from ${row.fromDatabase} to ${row.toDatabase}: aborted by ${abortedBy} after step ${row.step}`);
    await this.removeCopy(row);
    const finished = await this.moves.finish(row.id, 'aborted', `aborted by ${abortedBy} after step ${row.step}`, abortedBy);
    return toTenantMoveView(finished!);
  }

  /**
   * Undoes a move that did not switch: the target's rows of the tenant and a dedicated target's
   * anchor deleted, the source's pause lifted. Before the copy step began (step requested) the
   * target was never touched; a dedicated target never provisioned (3D000) has nothing to delete.
   */
  private async removeCopy(row: TenantMoveRow): Promise<void> {
    if (row.step !== 'requested') {
      try {
        await this.erasure.deleteRows({ tenantId: row.tenantId, database: row.toDatabase });
        if (row.toDatabase !== SHARED_DATABASE) await deleteTenantRecordOn(this.owners.pool(row.toDatabase), row.tenantId);
      } catch (error) {
        if ((error as { code?: string }).code !== '3D000') throw error;
      }
    }
    await setMoveStateOn(this.owners.pool(row.fromDatabase), row.tenantId, null);
  }

  private async runSteps(id: string, options: MoveRunOptions): Promise<TenantMoveView> {
    const begun = await this.moves.resume(id);
    if (!begun) return this.get(id); // finished already (a job's retry after the switch, or aborted while queued): nothing to do
    // Asked to abort while no run held it to act on that (its process died, or it failed meanwhile).
    if (begun.abortedBy && !SWITCHED_STEPS.includes(begun.step)) return this.abortNow(begun, begun.abortedBy);
    const { tenantId, fromDatabase: from, toDatabase: to } = begun;
    const source = this.owners.pool(from);
    const target = this.owners.pool(to);
    const sharedPool = this.owners.pool(SHARED_DATABASE);
    let row: TenantMoveRow = begun;
    const report = async (stage: string) => options.report?.({ done: Math.max(0, STEP_ORDER.indexOf(row.step)), total: STEP_COUNT, stage });
    const record = async (step: TenantMoveStep, progress: Parameters<TenantMovesRepository['recordStep']>[2] = {}) => {
      row = (await this.moves.recordStep(id, step, progress))!;
      // A step boundary: an abort asked for meanwhile (POST /tenant-moves/:id/abort) stops the run here.
      if (row.abortedBy && !SWITCHED_STEPS.includes(step)) throw new MoveAbortRequested();
      if (options.stopAfter === step) throw new TenantMoveStoppedError(toTenantMoveView(row));
    };
    const after = (step: TenantMoveStep) => STEP_ORDER.indexOf(row.step) >= STEP_ORDER.indexOf(step);

    try {
      this.logger.log(`move ${id} of ${begun.tenantSlug} (${tenantId}) from ${from} to ${to}: attempt ${begun.attempts}, after step ${begun.step}, asked by ${begun.requestedBy}`);
      if (!after('paused')) {
        await report('pause');
        if (!(await setMoveStateOn(source, tenantId, 'paused'))) throw new Error(`the tenant has no row on its source database "${from}"`);
        await record('paused', { pausedAt: new Date() });
      }
      if (!after('copied')) {
        await report('barrier');
        await awaitWriteBarrierOn(source, tenantId);
        if (to !== SHARED_DATABASE) {
          // The target's anchor (tenants row, its plan) before any of its rows (their foreign keys); provisions the database on first use.
          const tenant = await this.tenants.find(tenantId);
          if (!tenant) throw new Error('the tenant row is gone');
          await this.databases.place(to, tenantId, await this.plans.get(tenant.plan));
        }
        // Memberships point at users: on a dedicated target, the users' copies (no password) come first.
        const users = to === SHARED_DATABASE ? [] : await usersById(sharedPool, await memberUserIdsOn(source, tenantId));
        let rows = 0;
        const copied = await this.rows.copy({ tenantId, database: from }, to, {
          users,
          onTable: async (table, n) => {
            rows += n;
            await report(`copy: ${rows} rows (${table})`);
          },
        });
        await record('copied', { copied });
      }
      if (!after('verified')) {
        await report('verify');
        const verification = compare(await checksumTenantRowsOn(source, tenantId), await checksumTenantRowsOn(target, tenantId));
        await this.moves.recordVerification(id, verification);
        if (!verification.ok) return await this.rollBack(row, `verification failed: ${verification.mismatched.join(', ')} differ between ${from} and ${to}`);
        // The last boundary before the switch, and a conditional one: either this records verified
        // (then an abort is refused, 409) or an abort was recorded first (then the run aborts).
        const verified = await this.moves.recordVerified(id, verification);
        if (!verified) throw new MoveAbortRequested();
        row = verified;
        if (options.stopAfter === 'verified') throw new TenantMoveStoppedError(toTenantMoveView(row));
      }
      if (!after('switched')) {
        await report('switch');
        // A dedicated source first stops admitting the tenant (its anchor points at the target),
        // then the directory points at the target and the pause ends there. Between the two the
        // tenant's requests get 503 TENANT_MOVING for a moment: never a write on the old copy.
        if (from !== SHARED_DATABASE) await pointTenantOn(source, tenantId, to, false);
        if (!(await pointTenantOn(sharedPool, tenantId, to, true))) throw new Error('the tenant row is gone');
        // Every instance sharing Redis routes to the target at once; others within TENANT_CACHE_TTL_MS (and meanwhile are refused, TA421).
        await this.resolver.forget({ id: tenantId, slug: begun.tenantSlug });
        await record('switched', { resumedAt: new Date() });
      }
      if (!after('cleaned')) {
        await this.carryVectorIndexes(tenantId, from, to);
        let deletedSoFar = 0;
        await report('clean source');
        const cleaned = await this.erasure.deleteRows(
          { tenantId, database: from },
          {
            onBatch: async (table, n) => {
              deletedSoFar += n;
              await report(`clean source: ${deletedSoFar} rows (${table})`);
            },
          },
        );
        // A dedicated source no longer knows the tenant at all. The shared row is the directory: it stays.
        if (from !== SHARED_DATABASE) await deleteTenantRecordOn(source, tenantId);
        else await setMoveStateOn(source, tenantId, null);
        await record('cleaned', { cleaned });
      }
      await options.report?.({ done: STEP_COUNT, total: STEP_COUNT, stage: 'completed' });
      const finished = await this.moves.finish(id, 'completed');
      this.logger.log(`move ${id} of ${begun.tenantSlug} (${tenantId}) from ${from} to ${to} completed and verified`);
      return toTenantMoveView(finished!);
    } catch (caught) {
      if (caught instanceof TenantMoveStoppedError) throw caught;
      let error = caught;
      if (caught instanceof MoveAbortRequested) {
        try {
          const asked = (await this.moves.findById(id))!;
          return await this.abortNow(asked, asked.abortedBy ?? 'unknown');
        } catch (abortFailure) {
          // Recorded as failed below (aborted_by stays): running it or aborting it again finishes the abort.
          error = abortFailure;
        }
      }
      const message = error instanceof Error ? error.message : String(error);
      this.logger.error(`move ${id} of ${begun.tenantSlug} (${tenantId}) failed after step ${row.step}: ${message}`);
      const failed = await this.moves.finish(id, 'failed', message);
      throw new TenantMoveFailedError(toTenantMoveView(failed!), error);
    }
  }

  /**
   * Verification found a difference: the copy goes (the target's rows of the tenant, and a
   * dedicated target's anchor), the source is resumed, the report says rolled-back and why. The
   * directory never pointed at the target, so the tenant was served from the source throughout.
   */
  private async rollBack(row: TenantMoveRow, reason: string): Promise<TenantMoveView> {
    this.logger.error(`move ${row.id} of ${row.tenantSlug} (${row.tenantId}): ${reason}; rolling back`);
    await this.removeCopy(row);
    const finished = await this.moves.finish(row.id, 'rolled-back', reason);
    return toTenantMoveView(finished!);
  }
}

/** 409 unless the move can still be aborted: not switched, not ended otherwise. */
function assertAbortable(row: TenantMoveRow): void {
  if (row.status === 'completed' || SWITCHED_STEPS.includes(row.step)) {
    throw new AppError(ErrorCode.TenantMoveSwitched, `The move ${row.id} already switched the tenant to "${row.toDatabase}": it cannot be aborted; move the tenant back instead`);
  }
  if (row.status === 'rolled-back') throw new AppError(ErrorCode.TenantMoveFinished, `The move ${row.id} already ended (${row.status}): there is nothing to abort`);
}

/** A write refused because the tenant is paused, as the database reports it (before the error filter maps it). */
function isReadOnlyRefusal(error: unknown): boolean {
  const code = (error as { code?: unknown; cause?: { code?: unknown } } | undefined)?.code ?? (error as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  return code === '25006' || code === 'TA421';
}
