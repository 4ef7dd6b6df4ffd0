import { INestApplication } from '@nestjs/common';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import PgBoss from 'pg-boss';
import { createApp } from '../../src/app.factory';
import { JobsWorker } from '../../src/jobs/jobs.worker';
import { TENANT_JOBS_QUEUE } from '../../src/jobs/job-queue';
import { withClient } from '../helpers/pg-client';
import { startTestApp, TestApp } from '../helpers/test-app';
import { until } from '../helpers/until';

/**
 * What happens to exports after they were requested (README "Export and import"): an export
 * whose job the queue gave up (its last attempt's worker died) does not stay running.
 * Files on local disk (DATA_DIR); the queue is the real pg-boss on the test database.
 */
describe('export lifecycle', () => {
  let t: TestApp;
  let dataDir: string;
  const workers: INestApplication[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'export-lifecycle-'));
    // The HTTP app runs no worker: the worker instances below come and go.
    t = await startTestApp({ DATA_DIR: dataDir, JOBS_WORKER: 'off', USAGE_FLUSH_INTERVAL_MS: '3600000' });
  }, 120_000);

  afterAll(async () => {
    for (const worker of workers) await worker.close().catch(() => undefined);
    await t?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const superuser = <T>(fn: (client: pg.Client) => Promise<T>) => withClient(t.db.superuserUrl, fn);

  describe('an export whose job the queue gave up', () => {
    it('is failed (EXPORT_ABANDONED) with its job (JOB_ABANDONED) by a worker sweep; a live running export is left alone', async () => {
      const a = await t.createTenant('abandoned-export');
      const dead = await t.request('POST', '/exports', { tenant: a.slug });
      const live = await t.request('POST', '/exports', { tenant: a.slug });
      expect([dead.status, live.status]).toEqual([202, 202]);

      // A worker takes both jobs and starts them (rows running, as the handler's first statements
      // make them), then dies: nothing completes or fails them in the queue.
      const boss = new PgBoss({ connectionString: t.db.appUrl, migrate: false, schedule: false, supervise: false });
      await boss.start();
      const taken = await boss.fetch(TENANT_JOBS_QUEUE, { batchSize: 2 });
      await boss.stop({ graceful: false, wait: true });
      expect(taken.map((job) => job.id).sort()).toEqual([dead.body.jobId, live.body.jobId].sort());
      await superuser(async (client) => {
        await client.query("update exports set status = 'running', started_at = now() where id = any($1::uuid[])", [[dead.body.id, live.body.id]]);
        await client.query("update jobs set status = 'running', attempts = max_attempts, started_at = now() where id = any($1::uuid[])", [[dead.body.jobId, live.body.jobId]]);
        // The dead one was on its last attempt and started longer ago than its timeout (an hour);
        // the live one is on its last attempt too, but within its timeout: its worker may be alive.
        await client.query(
          "update pgboss.job set retry_count = retry_limit, started_on = now() - interval '2 hours' where name = $1 and id = $2",
          [TENANT_JOBS_QUEUE, dead.body.jobId],
        );
        await client.query('update pgboss.job set retry_count = retry_limit where name = $1 and id = $2', [TENANT_JOBS_QUEUE, live.body.jobId]);
      });

      // A live worker: pg-boss's maintenance fails the expired job (no retry left, no handler
      // called), and the worker's sweep (same interval) records it on the tenant's side.
      const worker = await createApp({ ...t.env, JOBS_WORKER: 'on', JOBS_CONCURRENCY: '1', JOBS_POLL_INTERVAL_MS: '100', JOBS_MAINTENANCE_INTERVAL_SECONDS: '1' });
      workers.push(worker);
      const failed = await until(
        async () => (await t.request('GET', `/exports/${dead.body.id}`, { tenant: a.slug })).body,
        (view) => view.status === 'failed',
        'the sweep failed the abandoned export',
      );
      expect(failed).toMatchObject({ status: 'failed', error: { code: 'EXPORT_ABANDONED', message: expect.stringMatching(/request a new export/) }, finishedAt: expect.any(String) });
      const job = (await t.request('GET', `/jobs/${dead.body.jobId}`, { tenant: a.slug })).body;
      expect(job).toMatchObject({ status: 'failed', lastError: { code: 'JOB_ABANDONED' }, finishedAt: expect.any(String) });
      // The queue's row now carries the same code: later sweeps no longer list it.
      const output = await superuser(async (client) => (await client.query('select state, output from pgboss.job where id = $1', [dead.body.jobId])).rows[0]);
      expect(output).toEqual({ state: 'failed', output: { code: 'JOB_ABANDONED', message: expect.any(String) } });
      expect(await worker.get(JobsWorker).sweepGivenUp()).toBe(0);

      // Positive control: the live one (active, within its timeout) is untouched, on both sides.
      expect((await t.request('GET', `/exports/${live.body.id}`, { tenant: a.slug })).body).toMatchObject({ status: 'running', error: null, finishedAt: null });
      expect((await t.request('GET', `/jobs/${live.body.jobId}`, { tenant: a.slug })).body).toMatchObject({ status: 'running', lastError: null });
      expect(await superuser(async (client) => (await client.query('select state from pgboss.job where id = $1', [live.body.jobId])).rows[0].state)).toBe('active');

      await worker.close();
      workers.splice(workers.indexOf(worker), 1);
    }, 60_000);
  });
});
