import { Injectable, Logger } from '@nestjs/common';
import PgBoss from 'pg-boss';
import { AppConfig } from '../config/app-config';
import { QueueConnection } from '../database/queue-connection';

/** The one pg-boss queue every tenant job goes to (created by drizzle/0020_job_queue.sql). */
export const TENANT_JOBS_QUEUE = 'tenant-jobs';

/** What travels in a queued job: the tenant, the row that tracks it, the kind and the kind's own payload. */
export interface QueuedJobData {
  tenantId: string;
  jobId: string;
  kind: string;
  payload: unknown;
}

export interface QueuedJob {
  id: string;
  data: QueuedJobData;
  /** Failed attempts so far (0 on the first run). */
  retryCount: number;
  retryLimit: number;
}

/** Where a page of given-up jobs ended (JobQueue.givenUp). */
export interface GivenUpPosition {
  completedOn: Date;
  id: string;
}

export interface SendOptions {
  retryLimit: number;
  retryDelaySeconds: number;
  retryBackoff: boolean;
  timeoutSeconds: number;
  delaySeconds?: number;
}

/**
 * pg-boss 10 (README "Background jobs"), as this app uses it: one queue, on the
 * shared database, through the API's shared pool (QueueConnection), as the
 * runtime role. pg-boss neither installs nor migrates its schema here
 * (`migrate: false`: the owner did, in drizzle/0020_job_queue.sql; start() only
 * checks its version) and runs no cron (`schedule: false`: it would create a
 * queue, i.e. DDL). Its maintenance (retrying jobs whose worker died, archiving)
 * runs on worker instances only. The worker loop is ours (jobs.worker.ts), on
 * pg-boss's fetch/complete/fail, so every completion is awaited and a shutdown
 * can give a running job back.
 */
@Injectable()
export class JobQueue {
  private readonly logger = new Logger('JobQueue');
  private readonly boss: PgBoss;
  private started = false;

  constructor(
    private readonly connection: QueueConnection,
    config: AppConfig,
  ) {
    this.boss = new PgBoss({
      db: connection,
      migrate: false,
      schedule: false,
      supervise: config.jobs.worker,
      maintenanceIntervalSeconds: config.jobs.maintenanceIntervalSeconds,
    });
    // pg-boss reports maintenance failures as events; an EventEmitter's unheard 'error' would throw.
    this.boss.on('error', (error: Error) => this.logger.warn(`queue maintenance failed: ${error.message}`));
  }

  /** Checks the installed schema version (pg-boss's own check) and starts maintenance on worker instances. */
  async start(): Promise<void> {
    if (this.started) return;
    await this.boss.start();
    this.started = true;
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    // Our db: pg-boss closes nothing; no work() workers, so nothing of its own to wait for.
    await this.boss.stop({ graceful: false, close: false, wait: true });
  }

  /** The job's id is the tenant's row id: one id names both. */
  async send(data: QueuedJobData, options: SendOptions): Promise<void> {
    const id = await this.boss.send(TENANT_JOBS_QUEUE, data as unknown as object, {
      id: data.jobId,
      retryLimit: options.retryLimit,
      retryDelay: options.retryDelaySeconds,
      retryBackoff: options.retryBackoff,
      expireInSeconds: options.timeoutSeconds,
      ...(options.delaySeconds ? { startAfter: options.delaySeconds } : {}),
    });
    if (id !== data.jobId) throw new Error(`the queue did not take job ${data.jobId}`);
  }

  /** At most one job, now marked active for this worker (FOR UPDATE SKIP LOCKED: no two workers get it). */
  async fetchOne(): Promise<QueuedJob | undefined> {
    const [job] = await this.boss.fetch<QueuedJobData>(TENANT_JOBS_QUEUE, { batchSize: 1, includeMetadata: true });
    if (!job) return undefined;
    return { id: job.id, data: job.data, retryCount: job.retryCount, retryLimit: job.retryLimit };
  }

  /** `output` is stored in the queue's row (shared database, platform side): never tenant data. */
  async complete(id: string, output: Record<string, string> = {}): Promise<void> {
    await this.boss.complete(TENANT_JOBS_QUEUE, id, output);
  }

  /** pg-boss retries it (after the kind's delay) while retries are left, else marks it failed. */
  async fail(id: string, output: { code: string; message: string }): Promise<void> {
    await this.boss.fail(TENANT_JOBS_QUEUE, id, output);
  }

  /**
   * Jobs the queue gave up by itself: its maintenance found their last attempt active past the
   * timeout (the worker running it died) and failed them without any handler running again, so no
   * outcome was recorded on the tenant's side. Every failure this app writes (fail()) carries a
   * `code`; pg-boss's own ("job failed by timeout in active state") does not. Oldest first, a page
   * at a time after `after` (the last one of the previous page).
   */
  async givenUp(limit: number, after?: GivenUpPosition): Promise<Array<QueuedJob & { position: GivenUpPosition }>> {
    const { rows } = await this.connection.executeSql(
      `select id, data, retry_count, retry_limit, completed_on from pgboss.job
        where name = $1 and state = 'failed' and not (coalesce(output, '{}'::jsonb) ? 'code')
          and ($3::timestamptz is null or (completed_on, id) > ($3::timestamptz, $4::uuid))
        order by completed_on, id limit $2`,
      [TENANT_JOBS_QUEUE, limit, after?.completedOn ?? null, after?.id ?? null],
    );
    return rows.map((row) => ({
      id: row.id as string,
      data: row.data as QueuedJobData,
      retryCount: row.retry_count as number,
      retryLimit: row.retry_limit as number,
      position: { completedOn: row.completed_on as Date, id: row.id as string },
    }));
  }

  /** A given-up job's outcome, once recorded on the tenant's side: the same code and message, so givenUp() no longer lists it. */
  async settleGivenUp(id: string, output: { code: string; message: string }): Promise<void> {
    await this.connection.executeSql(`update pgboss.job set output = $3::jsonb where name = $1 and id = $2 and state = 'failed'`, [TENANT_JOBS_QUEUE, id, JSON.stringify(output)]);
  }

  /** The queue's view of one job (tests, ops): its state and counts. */
  async inspect(id: string): Promise<{ state: string; retryCount: number; retryLimit: number } | undefined> {
    const job = await this.boss.getJobById(TENANT_JOBS_QUEUE, id);
    return job ? { state: job.state, retryCount: job.retryCount, retryLimit: job.retryLimit } : undefined;
  }
}
