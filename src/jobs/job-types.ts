import type { Tenant } from '../tenancy/tenant';

/** How far a job got, as its handler reports it. */
export interface JobProgress {
  done: number;
  total?: number;
  stage?: string;
}

/** What a handler gets besides its payload. */
export interface JobContext {
  jobId: string;
  /** 1 on the first run, 2 on the first retry... */
  attempt: number;
  /** Records progress on the job's row (what GET /jobs/:id shows). Throws JobInterruptedError once `signal` has aborted. */
  report(progress: JobProgress): Promise<void>;
  /**
   * Aborts when the run is given up: the worker shuts down past JOBS_SHUTDOWN_GRACE_MS, or the
   * kind's timeout passed. The run is then retried (or failed, past its retries) whatever the
   * handler still does: check it between steps, and keep every step idempotent.
   */
  signal: AbortSignal;
}

/**
 * A job kind's work. It runs inside the job's tenant context (TenantDb, CacheService and
 * StorageService see that tenant only), so it must not take a tenant id from its payload.
 * What it returns is stored as the job's `result`, visible to the tenant's admins: nothing
 * secret. It may run more than once (a retry, or a crash after it finished but before the
 * queue heard): make it idempotent, and resumable from what it already did.
 */
export type JobHandler<P> = (payload: P, context: JobContext) => Promise<Record<string, unknown> | void>;

/** Per kind, fixed at registration. */
export interface JobKindOptions {
  /** Retries after the first attempt (default 2: three attempts in all). 0: never retried. */
  retryLimit?: number;
  /** Seconds before a retry (default 10); with retryBackoff, the base of an exponential, jittered delay. */
  retryDelaySeconds?: number;
  retryBackoff?: boolean;
  /**
   * Longest an attempt may run (seconds, default 900, at most 86399). Past it the attempt is given up
   * (signal aborts, then it counts as failed); and a job whose worker died is retried once
   * this has passed since it started (the queue's maintenance).
   */
  timeoutSeconds?: number;
  /**
   * Platform work that must reach a suspended tenant's rows (offboarding, moves): runs whatever
   * the tenant's status. Default false: a suspended tenant's job fails at once, without retries.
   */
  runsOnSuspendedTenants?: boolean;
  /**
   * Called when the queue gave the job up without the handler recording an outcome: its last
   * attempt's worker died and the queue failed it past its timeout (JobsWorker's sweep). Runs in
   * the job's tenant context, before the job's row is marked failed, so the feature can fail its
   * own record too (an export that would otherwise stay `running`). Idempotent: a sweep that
   * failed part way calls it again.
   */
  onGivenUp?: (payload: unknown, context: { jobId: string; failure: { code: string; message: string } }) => Promise<void>;
}

export interface EnqueueOptions {
  /** Start no earlier than this many seconds from now. */
  delaySeconds?: number;
}

/**
 * How the worker enters a job's tenant: TenantResolver (src/tenants) in the app, given to
 * JobsModule.forRoot so this folder does not import the tenants feature (which may enqueue
 * jobs itself: offboarding).
 */
export interface JobTenants {
  /** Any status; undefined when no such tenant (deleted). */
  find(identifier: { kind: 'id'; value: string }): Promise<Tenant | undefined>;
  /** An unfinished deletion holds the tenant (offboarding): none of its jobs may start, nor be queued for it by the platform. */
  deletionUnfinished(tenantId: string): Promise<boolean>;
  /** fn as the (active) tenant: exactly what a request of that tenant gets. */
  runForTenant<T>(idOrSlug: string, fn: () => PromiseLike<T>, jobId?: string): Promise<T>;
}

export const JOB_TENANTS = Symbol('JobTenants');
