import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { z } from 'zod';
import { PeriodicSweep, settledWithin } from '../common/async/periodic-sweep';
import { AppConfig } from '../config/app-config';
import type { Tenant } from '../tenancy/tenant';
import { TenantContext } from '../tenancy/tenant-context';
import { failureOf, JOB_FAILURES, JobFailure, JobInterruptedError } from './job-errors';
import { JobKind, JobKinds } from './job-kinds';
import { GivenUpPosition, JobQueue, QueuedJob } from './job-queue';
import { JOB_TENANTS, JobProgress, JobTenants } from './job-types';
import { JobsRepository } from './jobs.repository';

const queuedJobData = z.object({ tenantId: z.uuid(), jobId: z.uuid(), kind: z.string().min(1), payload: z.unknown() });

const progressSchema = z.strictObject({
  done: z.number().int().min(0).max(2_147_483_647),
  total: z.number().int().min(0).max(2_147_483_647).optional(),
  stage: z.string().max(200).optional(),
});

/** Given-up jobs read per query by the sweep (sweepGivenUp). */
const GIVEN_UP_PAGE = 100;

/** Bound on a start attempt's retry delay while the database is unreachable at boot. */
const MAX_START_RETRY_MS = 30_000;

/** One attempt in progress. Its outcome is recorded once: by the handler's return or throw, or by giving it up. */
class Run {
  private readonly controller = new AbortController();
  private settled = false;
  reason?: 'shutdown' | 'timeout';
  private markGivenUp!: () => void;
  /** Resolves once the run is given up: the loop moves on while a handler that ignores its signal finishes in the background. */
  readonly givenUp = new Promise<void>((resolve) => (this.markGivenUp = resolve));

  constructor(
    readonly job: QueuedJob,
    readonly attempt: number,
    /** Runs fn in the job's tenant context (the worker's way in; see JobsWorker.enter). */
    readonly inTenant: <T>(fn: () => Promise<T>) => Promise<T>,
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get jobId(): string {
    return this.job.data.jobId;
  }

  get lastAttempt(): boolean {
    return this.job.retryCount >= this.job.retryLimit;
  }

  get isSettled(): boolean {
    return this.settled;
  }

  abort(reason: 'shutdown' | 'timeout'): void {
    this.reason ??= reason;
    this.controller.abort(new JobInterruptedError(this.reason));
  }

  /** After the give-up's outcome is recorded. */
  released(): void {
    this.markGivenUp();
  }

  /** fn only if nothing settled this run before: the first outcome wins, a late one is dropped. */
  async settle(fn: () => Promise<void>): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    await fn();
  }
}

/**
 * Runs queued jobs: JOBS_CONCURRENCY loops, each fetching one job at a time from
 * the queue (pg-boss fetch: FOR UPDATE SKIP LOCKED, so instances share the queue
 * without running a job twice), polling every JOBS_POLL_INTERVAL_MS when it is
 * empty (an enqueue on this instance wakes them at once). Each job runs inside
 * its tenant's context, entered the way a script enters it (runForTenant), so
 * its handler sees that tenant's rows, cache keys and files only.
 *
 * Started after every module registered its kinds (onApplicationBootstrap), when
 * JOBS_WORKER=on; stopped before the pools close (beforeApplicationShutdown):
 * no new job is fetched, running ones get JOBS_SHUTDOWN_GRACE_MS to finish, then
 * they are given up (their signal aborts, the attempt is recorded as interrupted
 * and the queue retries it, on this instance's successor or another one).
 */
@Injectable()
export class JobsWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('JobsWorker');
  private readonly runs = new Map<string, Run>();
  private readonly sleepers = new Set<() => void>();
  private loops: Promise<void>[] = [];
  /** False once shutdown began (main.ts, at SIGTERM): loops finish their job and fetch no other. */
  private fetching = true;
  private stopping = false;
  private starting?: Promise<void>;
  /** Beside pg-boss's maintenance (same instances, same interval): what it gives up, this records. */
  private readonly givenUpSweep = new PeriodicSweep(
    () => this.sweepOnce(),
    () => undefined, // settleGivenUp logs each failure; the next tick retries
  );

  constructor(
    private readonly queue: JobQueue,
    private readonly kinds: JobKinds,
    private readonly jobs: JobsRepository,
    @Inject(JOB_TENANTS) private readonly tenants: JobTenants,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.jobs.worker) return;
    this.starting = this.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  /**
   * SIGTERM (main.ts, while HTTP drains): take no new job; running ones go on. Called before
   * app.close(), whose stop() then gives them JOBS_SHUTDOWN_GRACE_MS more.
   */
  stopFetching(): void {
    if (!this.fetching) return;
    this.fetching = false;
    this.notify();
    if (this.config.jobs.worker) this.logger.log(`shutdown: no new job is taken; ${this.runs.size} running`);
  }

  /** An enqueue on this instance: fetch now instead of at the next poll. */
  notify(): void {
    for (const wake of this.sleepers) wake();
  }

  /** pg-boss's schema check (it fails when the migration is missing), retried while the database is unreachable; then the loops. */
  private async start(): Promise<void> {
    for (let delay = 1_000; this.fetching; delay = Math.min(delay * 2, MAX_START_RETRY_MS)) {
      try {
        await this.queue.start();
        break;
      } catch (error) {
        this.logger.error(`job queue not ready (${(error as Error).message}); retrying in ${delay} ms`);
        await this.sleep(delay);
      }
    }
    if (!this.fetching) return;
    this.loops = Array.from({ length: this.config.jobs.concurrency }, () => this.loop());
    this.givenUpSweep.start(this.config.jobs.maintenanceIntervalSeconds * 1000);
    this.logger.log(`worker started: concurrency ${this.config.jobs.concurrency}, polling every ${this.config.jobs.pollIntervalMs} ms`);
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.fetching = false;
    this.notify();
    await this.starting;
    await this.givenUpSweep.stop();
    const graceMs = this.config.jobs.shutdownGraceMs;
    if (!(await settledWithin(Promise.all(this.loops), graceMs))) {
      const left = [...this.runs.values()];
      this.logger.warn(`shutdown: ${left.length} job(s) still running after ${graceMs} ms; interrupting them (the queue retries them)`);
      await Promise.all(left.map((run) => this.giveUp(run, 'shutdown')));
    }
    await this.queue.stop().catch((error: unknown) => this.logger.warn(`stopping the queue failed: ${(error as Error).message}`));
    if (this.config.jobs.worker) this.logger.log('job worker stopped');
  }

  private async loop(): Promise<void> {
    while (this.fetching) {
      let job: QueuedJob | undefined;
      try {
        job = await this.queue.fetchOne();
      } catch (error) {
        this.logger.warn(`fetching a job failed: ${(error as Error).message}`);
      }
      if (job) await this.process(job);
      else await this.sleep(this.config.jobs.pollIntervalMs);
    }
  }

  /**
   * Records the outcome of jobs the queue gave up by itself (JobQueue.givenUp: the worker of
   * their last attempt died, and pg-boss's maintenance failed them past their timeout without
   * running anything again). Their row would otherwise stay `running` forever: the kind's
   * onGivenUp runs in the tenant's context (an export fails its own row, a move its report), the
   * row is marked failed (JOB_ABANDONED), and only then is the queue's row given the same code, which takes it off the
   * list. A tenant that cannot be entered now (paused by a move, its database down) is left for
   * the next sweep; a deleted tenant's job is only settled. Runs on worker instances every
   * JOBS_MAINTENANCE_INTERVAL_SECONDS; one sweep at a time per instance, and two instances
   * sweeping the same job write the same outcome. Resolves with the jobs settled.
   */
  sweepGivenUp(): Promise<number> {
    return this.givenUpSweep.runNow();
  }

  private async sweepOnce(): Promise<number> {
    let settled = 0;
    // Page by page to the end: jobs of a tenant that stays unwritable (left for later) never hide newer ones.
    let after: GivenUpPosition | undefined;
    for (;;) {
      const page = await this.queue.givenUp(GIVEN_UP_PAGE, after);
      for (const job of page) if (await this.settleGivenUp(job)) settled++;
      if (page.length < GIVEN_UP_PAGE) return settled;
      after = page[page.length - 1].position;
    }
  }

  /** One given-up job: the kind's record and the job row in the tenant, then the queue's row. False when it must wait for the next sweep. */
  private async settleGivenUp(job: QueuedJob): Promise<boolean> {
    const failure = JOB_FAILURES.abandoned;
    const parsed = queuedJobData.safeParse(job.data);
    try {
      if (parsed.success) {
        const { tenantId, jobId, kind, payload } = parsed.data;
        const tenant = await this.tenants.find({ kind: 'id', value: tenantId });
        if (tenant) {
          await this.enter(tenant, jobId, async () => {
            // The kind's record first: it may live elsewhere (a move's report, a platform table)
            // and stay writable while the tenant's own rows are not (a tenant paused by a move).
            await this.kinds.get(kind)?.options.onGivenUp(payload, { jobId, failure: { code: failure.code, message: failure.message } });
            await this.jobs.failAttempt(jobId, failure, 'failed');
          });
          this.logger.warn(`job ${jobId} (${kind}, tenant ${tenantId}): its last attempt's worker died; recorded as ${failure.code}`);
        }
      }
      await this.queue.settleGivenUp(job.id, { code: failure.code, message: failure.message });
      return true;
    } catch (error) {
      this.logger.warn(`queue job ${job.id}: recording that it was given up failed (${(error as Error).message}); the next sweep retries`);
      return false;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  /** One fetched job, start to finish; never throws (a loop must survive any job). */
  private async process(job: QueuedJob): Promise<void> {
    const parsed = queuedJobData.safeParse(job.data);
    if (!parsed.success) {
      this.logger.error(`queue job ${job.id}: malformed data; dropped`);
      await this.queue.complete(job.id, { outcome: 'malformed' }).catch(() => undefined);
      return;
    }
    const { tenantId, jobId, kind } = parsed.data;
    const label = `job ${jobId} (${kind}, tenant ${tenantId}, attempt ${job.retryCount + 1})`;
    try {
      const registered = this.kinds.get(kind);
      const tenant = await this.tenants.find({ kind: 'id', value: tenantId });
      if (!tenant) {
        // Deleted (its rows went with it): nothing to run, nothing to record, nothing to retry.
        this.logger.warn(`${label}: the tenant no longer exists; dropped`);
        await this.queue.complete(job.id, { outcome: 'tenant-gone' });
        return;
      }
      const run = new Run(job, job.retryCount + 1, (fn) => this.enter(tenant, jobId, fn));
      if (await this.tenants.deletionUnfinished(tenant.id)) {
        // Offboarding cancelled its queued jobs; this one was queued again by a retry, or came up meanwhile: never run while the tenant's rows go.
        this.logger.warn(`${label}: the tenant is being deleted; failed without running`);
        await this.record(run, JOB_FAILURES.tenantDeleted);
        return;
      }
      if (tenant.status !== 'active' && !registered?.options.runsOnSuspendedTenants) {
        // Failed for good: retrying would only meet the suspension again (no retry storm); a new job can be enqueued once it is resumed.
        this.logger.warn(`${label}: the tenant is ${tenant.status}; failed without running`);
        await this.record(run, JOB_FAILURES.tenantSuspended);
        return;
      }
      if (!registered) {
        // Another instance (a newer build during a rolling deploy) may know it: the queue retries it.
        this.logger.error(`${label}: no handler for this kind on this instance`);
        await this.record(run, JOB_FAILURES.unknownKind);
        return;
      }
      await this.execute(run, registered, parsed.data.payload, label);
    } catch (error) {
      // Not the handler's failure: entering the tenant or recording an outcome (database unavailable, tenant moving).
      this.logger.error(`${label}: ${(error as Error)?.stack ?? error}`);
      await this.queue.fail(job.id, JOB_FAILURES.unavailable).catch(() => undefined);
    }
  }

  /**
   * The tenant's context for the job: runForTenant (active tenants only, as for a request);
   * for a suspended tenant (its failure is recorded, or its kind runs on suspended tenants)
   * the same scope, entered with the tenant found.
   */
  private enter<T>(tenant: Tenant, jobId: string, fn: () => Promise<T>): Promise<T> {
    if (tenant.status === 'active') return this.tenants.runForTenant(tenant.id, fn, jobId);
    return TenantContext.run({ tenant, requestId: jobId }, async () => await fn());
  }

  private async execute(run: Run, registered: JobKind, payload: unknown, label: string): Promise<void> {
    this.runs.set(run.job.id, run);
    const timer = setTimeout(() => void this.giveUp(run, 'timeout'), registered.options.timeoutSeconds * 1000);
    try {
      await run.inTenant(async () => {
        const row = await this.jobs.startAttempt(run.jobId, run.attempt);
        if (!row) {
          this.logger.warn(`${label}: no longer runnable (cancelled, finished or gone); dropped`);
          await run.settle(() => this.queue.complete(run.job.id, { outcome: 'not-runnable' }));
          return;
        }
        const attempt = (async () => {
          try {
            const result = await registered.handler(payload, {
              jobId: run.jobId,
              attempt: run.attempt,
              signal: run.signal,
              report: (progress) => this.report(run, progress),
            });
            await run.settle(async () => {
              await this.jobs.succeed(run.jobId, result ?? null);
              await this.queue.complete(run.job.id);
            });
          } catch (error) {
            if (run.isSettled) return; // given up meanwhile: already recorded
            const failure = failureOf(run.reason ? new JobInterruptedError(run.reason) : error);
            if (failure === JOB_FAILURES.failed) this.logger.error(`${label} failed: ${(error as Error)?.stack ?? error}`);
            else this.logger.warn(`${label} failed: ${failure.code}: ${(error as Error)?.message ?? error}`);
            await run.settle(() => this.recordInTenant(run, failure));
          }
        })();
        await Promise.race([attempt, run.givenUp]);
      });
    } finally {
      clearTimeout(timer);
      this.runs.delete(run.job.id);
    }
  }

  private async report(run: Run, progress: JobProgress): Promise<void> {
    if (run.signal.aborted) throw new JobInterruptedError(run.reason ?? 'shutdown');
    const checked = progressSchema.safeParse(progress);
    if (!checked.success) throw new Error(`job ${run.jobId}: invalid progress ${JSON.stringify(progress)}`);
    await this.jobs.reportProgress(run.jobId, checked.data);
  }

  /** The run is given up (shutdown past the grace period, or its timeout): its signal aborts, and the failure is recorded now, whatever the handler still does. */
  private async giveUp(run: Run, reason: 'shutdown' | 'timeout'): Promise<void> {
    if (run.isSettled) return;
    run.abort(reason);
    const failure = reason === 'shutdown' ? JOB_FAILURES.interrupted : JOB_FAILURES.timedOut;
    this.logger.warn(`job ${run.jobId}: given up (${failure.code})`);
    await run
      .settle(() => this.record(run, failure))
      .catch((error: unknown) => this.logger.error(`job ${run.jobId}: recording ${failure.code} failed: ${(error as Error).message}`))
      .finally(() => run.released());
  }

  /** Records a failed attempt from outside the tenant context. */
  private record(run: Run, failure: JobFailure): Promise<void> {
    return run.inTenant(() => this.recordInTenant(run, failure));
  }

  /**
   * The row (queued again, or failed) and the queue (fail: retried while retries are left,
   * else failed; a failure that is not retryable before its last attempt is completed in
   * the queue, so pg-boss does not retry it). The queue's copy of the error is the same
   * safe code and message: pg-boss keeps it in the shared database.
   */
  private async recordInTenant(run: Run, failure: JobFailure): Promise<void> {
    const retried = failure.retryable && !run.lastAttempt;
    await this.jobs.failAttempt(run.jobId, failure, retried ? 'queued' : 'failed');
    const output = { code: failure.code, message: failure.message };
    if (retried || run.lastAttempt) await this.queue.fail(run.job.id, output);
    else await this.queue.complete(run.job.id, { outcome: 'failed', ...output });
  }
}
