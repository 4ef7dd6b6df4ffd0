import { INestApplication, Injectable, Module, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import PgBoss from 'pg-boss';
import { createApp } from '../../src/app.factory';
import { TENANT_JOBS_QUEUE } from '../../src/jobs/job-queue';
import { JobsService, JobView } from '../../src/jobs/jobs.service';
import { TenantResolver } from '../../src/tenants/tenant-resolver.service';
import { startTestApp, TestApp } from '../helpers/test-app';
import { until } from '../helpers/until';

/** What each worker instance saw of the job, by attempt. */
const seen = new Map<number, { progressAtStart: string }>();

/**
 * A long job that reports progress, then waits for its signal (the worker giving it up) on
 * its first attempt; later attempts finish at once. Registered in every instance.
 */
@Injectable()
class ResumableJobs implements OnModuleInit {
  constructor(private readonly jobs: JobsService) {}

  onModuleInit(): void {
    this.jobs.register(
      'test.long',
      async (_payload: object, { attempt, report, signal }) => {
        seen.set(attempt, { progressAtStart: 'reported' });
        await report({ done: 1, total: 2, stage: 'first half' });
        if (attempt === 1) {
          await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
          // A handler that tries to go on after being given up: its report is refused.
          await report({ done: 2, total: 2, stage: 'too late' });
          return { finishedBy: 'the interrupted attempt' };
        }
        await report({ done: 2, total: 2, stage: 'second half' });
        return { finishedBy: `attempt ${attempt}` };
      },
      { retryLimit: 2, retryDelaySeconds: 0 },
    );
    // The first attempt overruns its 1 s timeout (it waits for its signal); the second is quick.
    this.jobs.register(
      'test.slow',
      async (_payload: object, { attempt, signal }) => {
        if (attempt === 1) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        return { finishedBy: `attempt ${attempt}` };
      },
      { retryLimit: 1, retryDelaySeconds: 0, timeoutSeconds: 1 },
    );
    // Its attempts time out after 1 s: a worker that died with it is noticed 1 s after it started.
    this.jobs.register('test.short', async (_payload: object, { attempt }) => ({ finishedBy: `attempt ${attempt}` }), { retryLimit: 2, retryDelaySeconds: 0, timeoutSeconds: 1 });
  }
}

@Module({ providers: [ResumableJobs] })
class ResumableJobsModule {}

/**
 * Jobs outlive the worker that ran them: given back at a shutdown, or left behind by a
 * worker that died, they are picked up by the next one. The HTTP app (`t`) runs no worker;
 * worker instances on the same database come and go.
 */
describe('jobs resumed after a worker shutdown or crash', () => {
  let t: TestApp;
  let tenant: { id: string; slug: string };
  const workers: INestApplication[] = [];

  beforeAll(async () => {
    t = await startTestApp({ JOBS_WORKER: 'off' }, { imports: [ResumableJobsModule] });
    tenant = await t.createTenant(`resume-${randomUUID().slice(0, 6)}`);
  });

  afterAll(async () => {
    for (const worker of workers) await worker.close().catch(() => undefined);
    await t?.close();
  });

  const startWorker = async (env: Record<string, string> = {}) => {
    const app = await createApp({ ...t.env, JOBS_WORKER: 'on', JOBS_CONCURRENCY: '1', JOBS_POLL_INTERVAL_MS: '50', ...env }, { imports: [ResumableJobsModule] });
    workers.push(app);
    return app;
  };
  const enqueue = (kind: string) => t.app.get(TenantResolver).runForTenant(tenant.id, () => t.app.get(JobsService).enqueue(kind, {}));
  const jobOf = async (id: string) => (await t.request<JobView>('GET', `/jobs/${id}`, { tenant: tenant.slug })).body;

  it('gives a running job back at shutdown (after the grace period), and the next worker finishes it', async () => {
    seen.clear();
    const first = await startWorker({ JOBS_SHUTDOWN_GRACE_MS: '100' });
    const job = await enqueue('test.long');
    await until(() => jobOf(job.id), (view) => view.status === 'running' && view.progress.done === 1, 'the first attempt is running');

    await first.close();
    workers.splice(workers.indexOf(first), 1);
    const interrupted = await jobOf(job.id);
    expect(interrupted).toMatchObject({
      status: 'queued',
      attempts: 1,
      progress: { done: 1, total: 2, stage: 'first half' },
      lastError: { code: 'JOB_INTERRUPTED', message: 'The job was interrupted by a worker shutdown' },
    });

    await startWorker();
    const done = await until(() => jobOf(job.id), (view) => view.status === 'succeeded', 'the next worker finished it');
    expect(done).toMatchObject({ attempts: 2, result: { finishedBy: 'attempt 2' }, progress: { done: 2, total: 2, stage: 'second half' } });
    expect([...seen.keys()]).toEqual([1, 2]);
  });

  it('retries a job whose worker died with it, once its timeout has passed', async () => {
    for (const worker of workers.splice(0)) await worker.close();
    const job = await enqueue('test.short');
    // A worker takes the job (it is active in the queue) and dies: nothing completes or fails it.
    const dead = new PgBoss({ connectionString: t.db.appUrl, migrate: false, schedule: false, supervise: false });
    await dead.start();
    const [taken] = await dead.fetch(TENANT_JOBS_QUEUE);
    expect(taken.id).toBe(job.id);
    await dead.stop({ graceful: false, wait: true });
    expect(await jobOf(job.id)).toMatchObject({ status: 'queued', attempts: 0 });

    // A live worker: its maintenance (every second here) hands the dead worker's job back to the queue
    // once its 1 s timeout passed, and a loop runs it as its second attempt.
    await startWorker({ JOBS_MAINTENANCE_INTERVAL_SECONDS: '1' });
    const done = await until(() => jobOf(job.id), (view) => view.status === 'succeeded', 'the live worker finished it');
    expect(done).toMatchObject({ attempts: 2, result: { finishedBy: 'attempt 2' } });
  });

  it('gives up an attempt that overruns its timeout, records it and retries', async () => {
    if (workers.length === 0) await startWorker();
    const job = await enqueue('test.slow');
    const done = await until(() => jobOf(job.id), (view) => view.status === 'succeeded', 'the retry finished it');
    expect(done).toMatchObject({ attempts: 2, result: { finishedBy: 'attempt 2' }, lastError: { code: 'JOB_TIMED_OUT', message: 'The job ran longer than its timeout' } });
  });
});
