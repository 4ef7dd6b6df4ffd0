import { BeforeApplicationShutdown, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Readable } from 'node:stream';
import { CacheService } from '../cache/cache.service';
import { settledWithin } from '../common/async/periodic-sweep';
import { AppConfig } from '../config/app-config';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import { decodeCursor, Page, toPage } from '../common/http/cursor';
import { TenantDeletionRow, TenantDeletionStep, TenantDeletionStepName, TenantDeletionVerification } from '../database/schema';
import { TableCounts, TenantErasure, TenantPlacement } from '../database/tenant-erasure';
import { StorageService } from '../storage/storage.service';
import { entitlementsOf } from '../tenancy/entitlements';
import { Tenant, TenantContext } from '../tenancy/tenant-context';
import { parseTenantHeader } from '../tenancy/tenant-identifier';
import { TenantResolver } from '../tenants/tenant-resolver.service';
import { TenantsService, TenantView } from '../tenants/tenants.service';
import { TenantExporter } from '../exports/tenant-exporter';
import { TenantJobsDrain } from '../jobs/tenant-jobs-drain';
import { TenantDeletionsRepository } from './tenant-deletions.repository';
import { TenantMovesRepository } from './tenant-moves.repository';
import { TenantDeletionView } from './tenant-offboarding.schemas';

export type { TenantDeletionView };

/**
 * Not a pg-boss job (src/jobs), deliberately: a job's row lives in the tenant-scoped `jobs` table, a
 * tenant table the deletion itself erases (delete-rows), and verification demands zero rows there,
 * so the job would delete its own record mid-run (and a retry would find no row to attempt). The
 * deletion runs in the background of the instance that took the request instead (launch()), leased
 * on its platform-level report (tenant_deletions), which outlives the tenant; the resumer
 * (TenantDeletionResumer, on worker instances) takes over a report whose run died. README "Offboarding".
 */

/** What starts a deletion (HTTP, the CLI). */
export interface TenantDeletionRequest {
  /** The tenant, by id or slug (a tenant whose row is already gone: the id or slug its unfinished report names). */
  tenantId: string;
  /** Who asked: `admin-key:<fingerprint>` (HTTP) or `cli:<os user>`. Kept in the report. */
  requestedBy: string;
  reason?: string;
  /**
   * Export the tenant's data first (TenantExporter: every row and file), into a platform-level archive that
   * outlives the deletion. Fixed when the deletion starts; a resumed deletion does not export twice.
   */
  export?: boolean;
}

/** The jobs contract's progress and context (src/jobs, built separately): the same shape, so this registers as a handler unchanged. */
export interface OffboardingProgress {
  done: number;
  total?: number;
  stage?: string;
}
export interface OffboardingContext {
  report(progress: OffboardingProgress): Promise<void>;
  /**
   * The jobs contract's signal: aborted, the run is given up. It stops renewing its lease at once
   * and stops at the next step (or batch) boundary without recording anything, its lease left to
   * expire, exactly as if its process had died: the resumer then takes the report over.
   */
  signal?: AbortSignal;
}

const NO_PROGRESS: OffboardingContext = { report: async () => undefined };

/** Steps reported as progress (the export seam included). */
const STEP_COUNT = 8;

/** The deletion did not finish: its report (status failed, the error) says where it stopped; starting it again resumes. */
export class TenantDeletionFailedError extends AppError {
  constructor(
    readonly report: TenantDeletionView,
    cause: unknown,
  ) {
    super(ErrorCode.Internal, `The tenant deletion ${report.id} failed at a step; its report says which; start it again to resume`);
    this.name = 'TenantDeletionFailedError';
    this.cause = cause;
  }
}

/** Another run (this or another instance, the CLI) holds the report's live lease: nothing was started. */
export class TenantDeletionLeasedError extends AppError {
  constructor(readonly report: TenantDeletionView) {
    super(
      ErrorCode.Conflict,
      `The tenant deletion ${report.id} is running elsewhere (lease held by ${report.leaseOwner ?? 'a starting request'} until ${report.leaseExpiresAt}); ` +
        `follow it with GET /tenant-deletions/${report.id}, or start it again once that lease has expired`,
    );
    this.name = 'TenantDeletionLeasedError';
  }
}

/**
 * The run stopped at a step boundary without finishing and without recording a failure: shutdown
 * (its lease released: the next sweep of a worker instance resumes it), its lease lost to another
 * run, or given up through its signal (its lease left to expire). The report stays `running`.
 */
export class TenantDeletionInterruptedError extends AppError {
  constructor(
    readonly reportId: string,
    readonly reason: 'shutdown' | 'lease-lost' | 'abandoned',
  ) {
    super(ErrorCode.Conflict, `The tenant deletion ${reportId} was interrupted (${reason}); it stays running and is resumed by a worker instance once its lease expires`);
    this.name = 'TenantDeletionInterruptedError';
  }
}

/** Verification found something left: the deletion is not done (a straggling write, a purge that missed). */
class VerificationFailedError extends Error {
  constructor(verification: TenantDeletionVerification) {
    const left = [
      ...Object.entries(verification.rows).filter(([, n]) => n > 0).map(([table, n]) => `${n} row(s) in ${table}`),
      ...(verification.cacheKeys > 0 ? [`${verification.cacheKeys} cache key(s)`] : []),
      ...(verification.objects > 0 ? [`${verification.objects} storage object(s)`] : []),
    ];
    super(`verification found data left: ${left.join(', ')}`);
    this.name = 'VerificationFailedError';
  }
}

const sum = (counts: Record<string, number> | undefined) => Object.values(counts ?? {}).reduce((a, b) => a + b, 0);

/** What the report says, with the totals of every attempt. */
export function toTenantDeletionView(row: TenantDeletionRow): TenantDeletionView {
  const rows: Record<string, number> = {};
  let cacheKeys = 0;
  let objects = 0;
  let rowsBefore: Record<string, number> | null = null;
  for (const step of row.steps) {
    if (step.status !== 'done') continue;
    if (step.name === 'count-rows' && rowsBefore === null) rowsBefore = step.counts ?? {};
    if (step.name === 'delete-rows') for (const [table, n] of Object.entries(step.counts ?? {})) rows[table] = (rows[table] ?? 0) + n;
    if (step.name === 'purge-cache') cacheKeys += step.counts?.keys ?? 0;
    if (step.name === 'delete-objects') objects += step.counts?.objects ?? 0;
  }
  return {
    id: row.id,
    tenantId: row.tenantId,
    tenantSlug: row.tenantSlug,
    database: row.database,
    requestedBy: row.requestedBy,
    reason: row.reason,
    exportRequested: row.exportRequested,
    exportKey: row.exportKey,
    status: row.status,
    attempts: row.attempts,
    rowsBefore,
    deleted: { rows, cacheKeys, objects },
    steps: row.steps,
    verification: row.verification,
    error: row.error,
    startedAt: row.startedAt.toISOString(),
    finishedAt: row.finishedAt?.toISOString() ?? null,
    leaseOwner: row.leaseOwner,
    leaseExpiresAt: row.leaseExpiresAt?.toISOString() ?? null,
  };
}

/** A run of this process: the claim's outcome (known before the steps start), and the run's end. */
interface Running {
  claimed: Promise<TenantDeletionRow>;
  done: Promise<TenantDeletionView>;
}

/**
 * Offboarding, verified (README "Offboarding"): the platform admin deletes a tenant.
 *
 *   suspend -> export (when asked: every row and file into a platform-level archive) -> count rows -> delete rows (every tenant table of its
 *   database, batched, as the owner role) -> purge its cache keys -> delete its storage prefix ->
 *   verify (zero rows in every tenant table, zero keys, zero objects) -> delete its tenants row
 *   (and its anchor on a dedicated database) -> completed
 *
 * Each step is recorded in the report (tenant_deletions) before the next one starts; a failure
 * records the step and the error (status failed). Every step is idempotent, so starting the
 * deletion again resumes the same report and finishes the job: a tenant whose row a previous
 * attempt already deleted still gets its purge and verification.
 *
 * One run per report at a time, across instances and the CLI: a run first claims the report's
 * lease (one UPDATE: unleased, expired, or already this instance's), renews it between steps and
 * every third of TENANT_DELETION_LEASE_MS during long ones, writes its steps and its end only while
 * it holds it (fenced), and clears it at the end. A run whose process died leaves its lease to
 * expire; TenantDeletionResumer (worker instances) then claims the report and runs it again.
 *
 * The runtime role still cannot delete tenants: the rows go through TenantErasure's owner
 * connections (src/database/tenant-erasure.ts), named and logged like every platform operation.
 */
@Injectable()
export class TenantOffboardingService implements OnModuleDestroy, BeforeApplicationShutdown {
  private readonly logger = new Logger('TenantOffboarding');
  /**
   * This instance's name on the leases it holds: host, pid and a random part (two service
   * instances in one process, as in the tests, are two holders).
   */
  readonly leaseOwner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  /** Runs in progress in this instance, by report id: a second start joins instead of racing. */
  private readonly running = new Map<string, Running>();
  /** Shutdown began: no new run starts, running ones stop at their next step boundary. */
  private stopping = false;

  constructor(
    private readonly deletions: TenantDeletionsRepository,
    private readonly moves: TenantMovesRepository,
    private readonly tenants: TenantsService,
    private readonly resolver: TenantResolver,
    private readonly erasure: TenantErasure,
    private readonly cache: CacheService,
    private readonly storage: StorageService,
    private readonly exporter: TenantExporter,
    private readonly jobs: TenantJobsDrain,
    private readonly config: AppConfig,
  ) {}

  /**
   * Starts (or resumes) the tenant's deletion and runs it to the end, in the foreground (tests, the
   * jobs contract's shape). Resolves with the completed report; rejects with TenantDeletionFailedError
   * (its report: status failed), or TenantDeletionLeasedError when another run holds it.
   */
  async delete(payload: TenantDeletionRequest, context: OffboardingContext = NO_PROGRESS): Promise<TenantDeletionView> {
    const report = await this.start(payload);
    return this.run(report.id, context);
  }

  /**
   * Finds the tenant and its unfinished report, or starts one (status running, nothing done yet).
   * Refuses before anything changes: an unknown tenant (404), an export asked for on a deletion
   * that started without one (409), no owner connection for its database. The HTTP route calls this, then launch(); the CLI run().
   */
  async start(request: TenantDeletionRequest, confirmSlug?: string): Promise<TenantDeletionView> {
    const identifier = this.identifierOf(request.tenantId);
    const tenant = await this.tenants.find(request.tenantId);
    const unfinished = await this.deletions.findUnfinished(tenant ? { kind: 'id', value: tenant.id } : identifier);
    if (!tenant && !unfinished) throw AppError.notFound('Tenant');
    const slug = tenant?.slug ?? unfinished!.tenantSlug;
    if (confirmSlug !== undefined && confirmSlug !== slug) {
      throw AppError.validation([{ path: 'confirm', message: "must be the tenant's slug, typed out" }]);
    }
    const database = unfinished?.database ?? tenant!.database;
    if (!this.erasure.canErase(database)) {
      throw new AppError(ErrorCode.Internal, 'Tenant deletion is not configured on this instance (the owner connection of the tenant\'s database is missing)');
    }
    if (unfinished) {
      // An export asked for now cannot be added to a deletion that started without one: its rows may be gone already.
      if (request.export && !unfinished.exportRequested) {
        throw new AppError(ErrorCode.Conflict, 'An unfinished deletion of this tenant was started without export; resume it without export, or export the tenant first (POST /tenants/:idOrSlug/export)');
      }
      return toTenantDeletionView(unfinished);
    }
    // A move copies and switches the tenant's rows (with or without a job row the deletion could wait for): it ends first.
    const move = await this.moves.findUnfinished(tenant!.id);
    if (move) {
      throw new AppError(ErrorCode.Conflict, `The tenant has an unfinished move (${move.id}, ${move.status}): let it complete, or abort or roll it back (POST /tenant-moves/${move.id}/abort), before deleting the tenant`);
    }
    const created = await this.deletions.create(
      { tenantId: tenant!.id, tenantSlug: tenant!.slug, database, requestedBy: request.requestedBy, reason: request.reason, exportRequested: request.export ?? false },
      // Reserved for this starter for one lease: the resumer leaves it alone until then.
      this.config.offboarding.leaseMs,
    );
    // Lost a race with another start for this tenant: that report is the one.
    const report = created ?? (await this.deletions.findUnfinished({ kind: 'id', value: tenant!.id }));
    if (!report) throw new AppError(ErrorCode.Conflict, 'The tenant deletion was completed meanwhile');
    return toTenantDeletionView(report);
  }

  /**
   * Runs (or resumes) the steps of report `id` in the foreground (the CLI). Joins this instance's
   * run of it when there is one. Resolves with the completed report; rejects with
   * TenantDeletionFailedError (status failed), TenantDeletionLeasedError (another run holds its live
   * lease: nothing was done) or TenantDeletionInterruptedError (shutdown, or the lease lost).
   */
  run(id: string, context: OffboardingContext = NO_PROGRESS): Promise<TenantDeletionView> {
    return this.begin(id, context).done;
  }

  /**
   * The HTTP route's start: claims the report's lease, then runs the steps in the background of
   * this instance (not awaited: a big tenant's deletion outlives any HTTP timeout). Resolves once
   * the claim is made with the report as it then is: running with this instance's lease; or as it
   * was, when another run holds it (a second DELETE while one runs starts nothing), when it is
   * completed, or during shutdown (the resumer of a worker instance takes it once its start
   * reservation expires). The run's outcome is in its report (GET /tenant-deletions/:id) and the
   * log; its errors never escape as unhandled rejections.
   */
  async launch(id: string): Promise<TenantDeletionView> {
    if (this.stopping) return this.get(id);
    const { claimed, done, joined } = this.begin(id, NO_PROGRESS);
    done.catch((error: unknown) => {
      if (error instanceof TenantDeletionLeasedError) this.logger.log(`tenant deletion ${id}: ${error.message}`);
      else if (error instanceof TenantDeletionFailedError) return; // logged and recorded by the run
      else if (error instanceof TenantDeletionInterruptedError) this.logger.warn(error.message);
      else this.logger.error(`tenant deletion ${id}: ${(error as Error)?.stack ?? error}`);
    });
    if (joined) return this.get(id);
    try {
      return toTenantDeletionView(await claimed);
    } catch (error) {
      // Another run holds it (another instance, the CLI): that run is the one; the caller follows its report.
      if (error instanceof TenantDeletionLeasedError) return error.report;
      throw error;
    }
  }

  /** Running reports whose lease expired (or that have none), oldest lease first: what the resumer takes over. Failed ones are not. */
  findResumable(limit: number): Promise<string[]> {
    return this.deletions.findResumable(limit);
  }

  /** Whether this instance runs report `id` now (the resumer skips those). */
  isRunning(id: string): boolean {
    return this.running.has(id);
  }

  /**
   * Shutdown (main.ts at SIGTERM, then Nest's hook): no new run starts; running ones stop at their
   * next step or batch boundary and release their lease (status stays running), so a worker
   * instance's resumer takes them over at once. Waits for them at most JOBS_SHUTDOWN_GRACE_MS; a run
   * still in a long step after that keeps its lease until it expires (TENANT_DELETION_LEASE_MS).
   */
  stopRuns(): void {
    if (this.stopping) return;
    this.stopping = true;
    if (this.running.size > 0) this.logger.log(`shutdown: ${this.running.size} tenant deletion(s) stop at their next step boundary`);
  }

  /** app.close() without a SIGTERM first (tests, the CLI's context): the first hook Nest calls. */
  onModuleDestroy(): void {
    this.stopRuns();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopRuns();
    if (this.running.size === 0) return;
    const graceMs = this.config.jobs.shutdownGraceMs;
    const finished = await settledWithin(Promise.allSettled([...this.running.values()].map((run) => run.done)), graceMs);
    if (!finished) this.logger.warn(`shutdown: ${this.running.size} tenant deletion(s) still in a step after ${graceMs} ms; their leases expire and a worker instance resumes them`);
  }

  /** The run of report `id` in this instance: the one running, or a new one (claim, then the steps). */
  private begin(id: string, context: OffboardingContext): Running & { joined: boolean } {
    const current = this.running.get(id);
    if (current) return { ...current, joined: true };
    // Registered before the first await: a second start in this instance joins, never claims again.
    const claimed = this.claim(id);
    const done = claimed
      .then((row) => this.runClaimed(row, context))
      .finally(() => this.running.delete(id));
    // The claim's rejection reaches the caller through `done`; this copy is only awaited by launch().
    claimed.catch(() => undefined);
    const run = { claimed, done };
    this.running.set(id, run);
    return { ...run, joined: false };
  }

  /** The lease, or why not: completed (resolves with nothing to run), another holder (409), unknown (404). */
  private async claim(id: string): Promise<TenantDeletionRow> {
    const claimed = await this.deletions.claim(id, this.leaseOwner, this.config.offboarding.leaseMs);
    if (claimed) return claimed;
    const row = await this.deletions.findById(id);
    if (!row) throw AppError.notFound('Tenant deletion');
    if (row.status === 'completed') return row;
    throw new TenantDeletionLeasedError(toTenantDeletionView(row));
  }

  async get(id: string): Promise<TenantDeletionView> {
    const row = await this.deletions.findById(id);
    if (!row) throw AppError.notFound('Tenant deletion');
    return toTenantDeletionView(row);
  }

  async list(limit: number, cursor?: string): Promise<Page<TenantDeletionView>> {
    const after = decodeCursor(cursor);
    const rows = await this.deletions.list(limit + 1, after && { startedAt: after.createdAt, id: after.id });
    return toPage(rows, limit, toTenantDeletionView, (row) => ({ createdAt: row.startedAt, id: row.id }));
  }

  private identifierOf(idOrSlug: string): { kind: 'id' | 'slug'; value: string } {
    let identifier;
    try {
      identifier = parseTenantHeader(idOrSlug);
    } catch {
      identifier = undefined;
    }
    if (!identifier) throw AppError.notFound('Tenant');
    return identifier;
  }

  private async runClaimed(begun: TenantDeletionRow, context: OffboardingContext): Promise<TenantDeletionView> {
    // Completed already (a re-run of a finished deletion): nothing to do.
    if (begun.status === 'completed') return toTenantDeletionView(begun);
    const id = begun.id;
    const leaseMs = this.config.offboarding.leaseMs;
    let lost = false;
    const renew = async () => {
      if (context.signal?.aborted || lost) return;
      try {
        if (!(await this.deletions.renewLease(id, this.leaseOwner, leaseMs))) lost = true;
      } catch (error) {
        // The database unreachable: the lease may expire meanwhile; the next fenced write tells.
        this.logger.warn(`tenant deletion ${id}: renewing its lease failed: ${(error as Error).message}`);
      }
    };
    // Renewed during long steps too (delete-rows on a big tenant, the export): every third of the lease.
    const renewal = setInterval(() => void renew(), Math.max(100, Math.floor(leaseMs / 3)));
    const onAbort = () => clearInterval(renewal);
    context.signal?.addEventListener('abort', onAbort, { once: true });
    /** At every step and batch boundary: stop here when shutting down, given up, or the lease is lost. */
    const checkpoint = () => {
      if (context.signal?.aborted) throw new TenantDeletionInterruptedError(id, 'abandoned');
      if (lost) throw new TenantDeletionInterruptedError(id, 'lease-lost');
      if (this.stopping) throw new TenantDeletionInterruptedError(id, 'shutdown');
    };
    try {
      return await this.runSteps(begun, context, checkpoint);
    } catch (error) {
      const interrupted =
        error instanceof TenantDeletionInterruptedError
          ? error
          : context.signal?.aborted
            ? new TenantDeletionInterruptedError(id, 'abandoned')
            : // A step that failed while the application closes (its pools, Redis) is shutdown's doing, not the step's.
              this.stopping
              ? new TenantDeletionInterruptedError(id, 'shutdown')
              : undefined;
      if (!interrupted) throw error;
      if (interrupted.reason === 'shutdown') {
        await this.deletions.releaseLease(id, this.leaseOwner).catch((release: unknown) => this.logger.warn(`tenant deletion ${id}: releasing its lease failed (${(release as Error).message}); it is resumed once it expires`));
      }
      throw interrupted;
    } finally {
      clearInterval(renewal);
      context.signal?.removeEventListener('abort', onAbort);
    }
  }

  private async runSteps(begun: TenantDeletionRow, context: OffboardingContext, checkpoint: () => void): Promise<TenantDeletionView> {
    const id = begun.id;
    const owner = this.leaseOwner;
    const leaseMs = this.config.offboarding.leaseMs;
    const attempt = begun.attempts;
    const placement: TenantPlacement = { tenantId: begun.tenantId, database: begun.database };
    const countedBefore = begun.steps.some((step) => step.name === 'count-rows' && step.status === 'done');
    let done = 0;
    /** A fenced write: only while this run holds the lease; otherwise it stops (another run took over). */
    const append = async (entry: TenantDeletionStep) => {
      if (!(await this.deletions.appendStep(id, entry, owner, leaseMs))) throw new TenantDeletionInterruptedError(id, 'lease-lost');
    };
    const step = async (name: TenantDeletionStepName, fn: () => Promise<Pick<TenantDeletionStep, 'counts' | 'note'> & { skipped?: boolean }>) => {
      checkpoint();
      const startedAt = new Date().toISOString();
      await context.report({ done, total: STEP_COUNT, stage: name });
      checkpoint();
      let outcome;
      try {
        outcome = await fn();
      } catch (error) {
        // Interrupted (shutdown, given up, the lease lost): not the step's failure; nothing recorded.
        if (error instanceof TenantDeletionInterruptedError || context.signal?.aborted || this.stopping) throw error;
        const note = error instanceof Error ? error.message : String(error);
        await append({ name, attempt, status: 'failed', startedAt, finishedAt: new Date().toISOString(), note });
        throw error;
      }
      const { skipped, ...rest } = outcome;
      await append({ name, attempt, status: skipped ? 'skipped' : 'done', startedAt, finishedAt: new Date().toISOString(), ...rest });
      done++;
    };

    try {
      this.logger.log(`tenant deletion ${id} of ${begun.tenantSlug} (${begun.tenantId}) on ${begun.database}: attempt ${attempt}, asked by ${begun.requestedBy}`);
      const tenant = await this.tenants.find(begun.tenantId);
      // Suspension first: every request of the tenant is refused from now on (its cached lookup is
      // forgotten, at once on every instance sharing Redis), sessions and API keys included.
      const scope = this.scopeOf(begun, tenant);
      await step('suspend', async () => {
        if (!tenant) return { skipped: true, note: 'the tenant row is already deleted' };
        if (tenant.status !== 'suspended') await this.tenants.update(tenant.id, { status: 'suspended' });
        // No job may write after delete-rows / delete-objects: queued ones cancelled, running ones waited for.
        const jobs = await TenantContext.run(scope, () => this.jobs.forDeletion({ waitMs: this.config.offboarding.jobsWaitMs, checkpoint }));
        return { counts: { jobsCancelled: jobs.cancelled, jobsWaitedFor: jobs.waitedFor } };
      });
      await step('export', async () => this.exportBeforeDeletion(begun, scope));
      await step('count-rows', async () => {
        if (countedBefore) return { skipped: true, note: 'counted by an earlier attempt' };
        return { counts: await this.erasure.countRows(placement) };
      });
      let deletedSoFar = 0;
      await step('delete-rows', async () => ({
        counts: await this.erasure.deleteRows(placement, {
          onBatch: (table, deleted) => {
            // A batch is a boundary too: a big tenant's delete-rows stops here at shutdown (the next attempt sweeps the rest).
            checkpoint();
            deletedSoFar += deleted;
            return context.report({ done, total: STEP_COUNT, stage: `delete-rows: ${deletedSoFar} rows (${table})` });
          },
        }),
      }));
      await step('purge-cache', async () => ({ counts: { keys: await TenantContext.run(scope, () => this.cache.purgeTenant()) } }));
      await step('delete-objects', async () => ({ counts: { objects: await TenantContext.run(scope, () => this.storage.deleteTenantObjects()) } }));
      await step('verify', async () => {
        const verification = await this.verify(placement, scope);
        await this.deletions.recordVerification(id, verification);
        if (!verification.ok) throw new VerificationFailedError(verification);
        return { counts: { rows: sum(verification.rows), cacheKeys: verification.cacheKeys, objects: verification.objects } };
      });
      await step('delete-tenant', async () => {
        const deleted = await this.erasure.deleteTenantRecords(placement);
        // Its lookups (by id and slug) cached as "suspended" must go too: the tenant is unknown now.
        await this.resolver.forget({ id: begun.tenantId, slug: begun.tenantSlug });
        const left = await this.erasure.tenantRecordsLeft(placement);
        if (left.tenant || left.anchor) throw new Error(`the tenant's ${left.tenant ? 'row' : 'anchor'} is still there after its deletion`);
        return { counts: { tenant: deleted.tenant ? 1 : 0, anchor: deleted.anchor ? 1 : 0 } };
      });
      await context.report({ done: STEP_COUNT, total: STEP_COUNT, stage: 'completed' });
      const finished = await this.deletions.finish(id, owner, 'completed');
      if (!finished) throw new TenantDeletionInterruptedError(id, 'lease-lost');
      this.logger.log(`tenant deletion ${id} of ${begun.tenantSlug} (${begun.tenantId}) completed and verified`);
      return toTenantDeletionView(finished);
    } catch (error) {
      if (error instanceof TenantDeletionInterruptedError || context.signal?.aborted || this.stopping) throw error;
      const message = error instanceof Error ? error.message : String(error);
      this.logger.error(`tenant deletion ${id} of ${begun.tenantSlug} (${begun.tenantId}) failed: ${message}`);
      const failed = await this.deletions.finish(id, owner, 'failed', message);
      if (!failed) throw new TenantDeletionInterruptedError(id, 'lease-lost');
      throw new TenantDeletionFailedError(toTenantDeletionView(failed), error);
    }
  }

  /**
   * The export before deletion (README "Offboarding", "Export and import"): after suspension (nothing
   * changes under it) and before any row is deleted, the tenant's rows and files are written into one
   * archive at a platform-level key (offboarding-exports/<tenantId>/<deletionId>.tar.gz), outside the
   * tenant's prefix, so delete-objects leaves it for the operator to fetch (GET /tenant-deletions/:id/export).
   * The key is recorded once the archive is stored; a resumed deletion with it recorded does not export
   * again (the rows may be gone by then). A failed export fails the deletion before anything is deleted.
   */
  private async exportBeforeDeletion(report: TenantDeletionRow, scope: { tenant: Tenant; requestId: string }): Promise<Pick<TenantDeletionStep, 'counts' | 'note'> & { skipped?: boolean }> {
    if (!report.exportRequested) return { skipped: true, note: 'not requested' };
    if (report.exportKey) return { skipped: true, note: `exported by an earlier attempt: ${report.exportKey}` };
    const archive = await TenantContext.run(scope, () => this.exporter.writeArchive((body) => this.storage.putOffboardingExport(report.tenantId, report.id, body)));
    await this.deletions.recordExport(report.id, archive.key);
    const rows = archive.manifest.tables.reduce((total, table) => total + table.count, 0);
    return { counts: { rows, files: archive.manifest.files.length, bytes: archive.sizeBytes }, note: `${archive.key} sha256 ${archive.sha256}` };
  }

  /** The archive the deletion's export wrote (platform admin: GET /tenant-deletions/:id/export); 409 EXPORT_NOT_READY without one. */
  async openExport(id: string): Promise<{ body: Readable; size: number; filename: string }> {
    const report = await this.deletions.findById(id);
    if (!report) throw AppError.notFound('Tenant deletion');
    if (!report.exportKey) throw new AppError(ErrorCode.ExportNotReady, report.exportRequested ? 'The export before deletion has not been written yet' : 'This deletion did not export the tenant');
    const { body, size } = await this.storage.openOffboardingExport(report.exportKey);
    return { body, size, filename: `${report.tenantSlug}-offboarding-${report.id}.tar.gz` };
  }

  /** Zero rows in every tenant table of its database, zero cache keys and zero objects under its prefixes. */
  private async verify(placement: TenantPlacement, scope: { tenant: Tenant; requestId: string }): Promise<TenantDeletionVerification> {
    const rows: TableCounts = await this.erasure.countRows(placement);
    const [cacheKeys, objects] = await TenantContext.run(scope, () => Promise.all([this.cache.countTenantKeys(), this.storage.countTenantObjects()]));
    return { ok: sum(rows) === 0 && cacheKeys === 0 && objects === 0, at: new Date().toISOString(), rows, cacheKeys, objects };
  }

  /**
   * The tenant context the cache and storage layers build their keys from. Not through
   * TenantResolver.runForTenant, which admits active tenants only: this one is suspended, or
   * already gone (a resumed deletion), and only its id reaches those layers.
   */
  private scopeOf(report: TenantDeletionRow, tenant: TenantView | undefined): { tenant: Tenant; requestId: string } {
    const plan = tenant?.plan ?? 'deleted';
    return {
      requestId: `tenant-deletion:${report.id}`,
      tenant: {
        id: report.tenantId,
        slug: report.tenantSlug,
        name: tenant?.name ?? report.tenantSlug,
        status: 'suspended',
        plan,
        // Nothing of the plan is used by a purge; none is granted.
        entitlements: entitlementsOf({ id: plan, name: plan, features: [], limits: { documents: 0, storage_bytes: 0, members: 0, api_keys: 0, requests_per_minute: 0 } }),
        database: report.database,
      },
    };
  }
}
