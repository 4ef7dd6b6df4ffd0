import { INestApplication } from '@nestjs/common';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import PgBoss from 'pg-boss';
import { createApp } from '../../src/app.factory';
import { TenantRows } from '../../src/database/tenant-rows';
import { ExportsService } from '../../src/exports/exports.service';
import { JobsWorker } from '../../src/jobs/jobs.worker';
import { TENANT_JOBS_QUEUE } from '../../src/jobs/job-queue';
import { seedSucceededExport } from '../helpers/isolation-harness';
import { withClient } from '../helpers/pg-client';
import { startTestApp, TestApp } from '../helpers/test-app';
import { until } from '../helpers/until';

/**
 * What happens to exports after they were requested (README "Export and import"): an export
 * whose job the queue gave up (its last attempt's worker died) does not stay running; exports
 * are deleted (DELETE, archive then row) and expire (EXPORT_RETENTION_DAYS).
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
  /** The archive object on local disk (DATA_DIR/files/<key>), looked at beside the storage layer. */
  const archiveStored = async (exportId: string) => {
    const [row] = await superuser(async (client) => (await client.query<{ archive_key: string | null }>('select archive_key from exports where id = $1', [exportId])).rows);
    return row?.archive_key ? existsSync(path.join(dataDir, 'files', row.archive_key)) : false;
  };
  const exportKey = async (exportId: string) =>
    (await superuser(async (client) => (await client.query<{ archive_key: string }>('select archive_key from exports where id = $1', [exportId])).rows[0])).archive_key;
  const rowCount = async (exportId: string) => Number((await superuser((client) => client.query('select count(*) from exports where id = $1', [exportId]))).rows[0].count);

  describe('DELETE /exports/:id and DELETE /tenants/:idOrSlug/exports/:id', () => {
    it("deletes the archive then the row (204, then 404); another tenant's id is 404 like a random one; a running export is 409", async () => {
      const a = await t.createTenant('delete-export-a');
      const b = await t.createTenant('delete-export-b');
      const doomed = await seedSucceededExport(t, a.id);
      const kept = await seedSucceededExport(t, a.id);
      const key = await exportKey(doomed);
      expect(await archiveStored(doomed)).toBe(true); // positive control: the archive is where the check looks

      // B cannot delete A's export: 404 exactly like a random id, and nothing changes.
      const foreign = await t.request('DELETE', `/exports/${doomed}`, { tenant: b.slug });
      const random = await t.request('DELETE', '/exports/00000000-0000-4000-8000-000000000000', { tenant: b.slug });
      expect([foreign.status, foreign.body.error.code]).toEqual([404, 'NOT_FOUND']);
      expect(foreign.body.error.message).toBe(random.body.error.message);
      expect([await rowCount(doomed), await archiveStored(doomed)]).toEqual([1, true]);

      const deleted = await t.request('DELETE', `/exports/${doomed}`, { tenant: a.slug });
      expect([deleted.status, deleted.body]).toEqual([204, undefined]);
      expect(existsSync(path.join(dataDir, 'files', key))).toBe(false);
      expect(await rowCount(doomed)).toBe(0);
      expect((await t.request('GET', `/exports/${doomed}`, { tenant: a.slug })).status).toBe(404);
      expect((await t.request('GET', `/exports/${doomed}/download`, { tenant: a.slug })).status).toBe(404);
      const again = await t.request('DELETE', `/exports/${doomed}`, { tenant: a.slug });
      expect([again.status, again.body.error.code]).toEqual([404, 'NOT_FOUND']);
      // The other export is untouched and still downloads.
      expect((await t.request('GET', `/exports/${kept}/download`, { tenant: a.slug, responseType: 'buffer' })).status).toBe(200);

      // Queued (no worker here) and running exports: their job would write the archive afterwards.
      const queued = await t.request('POST', '/exports', { tenant: a.slug });
      const refused = await t.request('DELETE', `/exports/${queued.body.id}`, { tenant: a.slug });
      expect([refused.status, refused.body.error.code]).toEqual([409, 'EXPORT_RUNNING']);
      expect(await rowCount(queued.body.id)).toBe(1);
      // Once failed (no archive), it can be deleted.
      await superuser((client) => client.query("update exports set status = 'failed', error_code = 'EXPORT_FAILED', error = 'x', finished_at = now() where id = $1", [queued.body.id]));
      expect((await t.request('DELETE', `/exports/${queued.body.id}`, { tenant: a.slug })).status).toBe(204);
      expect(await rowCount(queued.body.id)).toBe(0);

      // The platform admin's route: any tenant by id or slug; the export must be that tenant's.
      const platformKey = await exportKey(kept);
      const wrongTenant = await t.request('DELETE', `/tenants/${b.slug}/exports/${kept}`, { admin: true });
      expect([wrongTenant.status, wrongTenant.body.error.code]).toEqual([404, 'NOT_FOUND']);
      expect(await rowCount(kept)).toBe(1);
      expect((await t.request('DELETE', `/tenants/${a.slug}/exports/${kept}`, { tenant: a.slug })).status).toBeGreaterThanOrEqual(401); // not a platform admin
      expect((await t.request('DELETE', `/tenants/${a.slug}/exports/${kept}`, { admin: true })).status).toBe(204);
      expect(existsSync(path.join(dataDir, 'files', platformKey))).toBe(false);
      expect((await t.request('GET', `/tenants/${a.slug}/exports/${kept}`, { admin: true })).status).toBe(404);
      expect((await t.request('DELETE', `/tenants/${a.slug}/exports/${kept}`, { admin: true })).status).toBe(404);
    }, 60_000);
  });

  describe('retention (EXPORT_RETENTION_DAYS)', () => {
    it('a sweep deletes the archives and rows of exports finished longer ago than the retention, in every tenant; recent and running ones stay', async () => {
      const a = await t.createTenant('retention-a');
      const b = await t.createTenant('retention-b');
      const oldA = await seedSucceededExport(t, a.id);
      const recentA = await seedSucceededExport(t, a.id);
      const oldB = await seedSucceededExport(t, b.id);
      const running = await t.request('POST', '/exports', { tenant: a.slug });
      const oldKeys = [await exportKey(oldA), await exportKey(oldB)];
      await superuser(async (client) => {
        // Finished 31 days ago (default retention 30); the running one was created as long ago.
        await client.query("update exports set finished_at = now() - interval '31 days', created_at = now() - interval '31 days' where id = any($1::uuid[])", [[oldA, oldB]]);
        await client.query("update exports set status = 'running', created_at = now() - interval '40 days', started_at = now() - interval '40 days' where id = $1", [running.body.id]);
        // A deleted export's neighbour within the retention: 29 days.
        await client.query("update exports set finished_at = now() - interval '29 days' where id = $1", [recentA]);
      });

      // EXPORT_RETENTION_DAYS=0 (another instance on the same database): kept forever, nothing deleted.
      const keeper = await createApp({ ...t.env, EXPORT_RETENTION_DAYS: '0' });
      workers.push(keeper);
      expect(await keeper.get(ExportsService).sweepExpired()).toBe(0);
      expect(await Promise.all([oldA, oldB].map(archiveStored))).toEqual([true, true]);

      // The default 30 days: the two old ones go, archive and row; GET is then 404.
      expect(await t.app.get(ExportsService).sweepExpired()).toBe(2);
      for (const key of oldKeys) expect(existsSync(path.join(dataDir, 'files', key))).toBe(false);
      expect([await rowCount(oldA), await rowCount(oldB)]).toEqual([0, 0]);
      expect((await t.request('GET', `/exports/${oldA}`, { tenant: a.slug })).status).toBe(404);
      expect((await t.request('GET', `/exports/${oldB}`, { tenant: b.slug })).status).toBe(404);
      // Positive controls: the recent export is still there and downloads; the running one is left to its job.
      expect(await archiveStored(recentA)).toBe(true);
      expect((await t.request('GET', `/exports/${recentA}/download`, { tenant: a.slug, responseType: 'buffer' })).status).toBe(200);
      expect((await t.request('GET', `/exports/${running.body.id}`, { tenant: a.slug })).body.status).toBe('running');
      // Nothing left to delete: a second sweep deletes nothing.
      expect(await t.app.get(ExportsService).sweepExpired()).toBe(0);
      await keeper.close();
      workers.splice(workers.indexOf(keeper), 1);
    }, 60_000);
  });

  describe('copying rows (TenantRows.copy, restore): one trigger-skip mechanism', () => {
    it('refuses to copy while a tenant table has an enabled trigger not known to honour tenancy.copying; a disabled one is ignored', async () => {
      const a = await t.createTenant('copy-triggers');
      expect((await t.request('POST', '/documents', { tenant: a.slug, body: { title: 'kept', body: '', tags: [] } })).status).toBe(201);
      const before = await superuser(async (client) => (await client.query('select id, title from documents where tenant_id = $1 order by id', [a.id])).rows);
      const rows = t.app.get(TenantRows);
      await superuser((client) =>
        client.query(`create function test_noop() returns trigger language plpgsql as $$ begin return new; end $$;
                      create trigger test_noop_documents after insert on documents for each row execute function test_noop()`),
      );
      try {
        // The copy onto the tenant's own database (the simplest target): refused before anything is written.
        await expect(rows.copy({ tenantId: a.id, database: 'shared' }, 'shared')).rejects.toThrow(/documents have triggers that do not honour tenancy\.copying/);
        expect(await superuser(async (client) => (await client.query('select id, title from documents where tenant_id = $1 order by id', [a.id])).rows)).toEqual(before);
        // Positive control: the trigger disabled, the same copy runs (usage_events' trigger honours the setting) and keeps every row.
        await superuser((client) => client.query('alter table documents disable trigger test_noop_documents'));
        const copied = await rows.copy({ tenantId: a.id, database: 'shared' }, 'shared');
        expect(copied.documents).toBe(1);
        expect(await superuser(async (client) => (await client.query('select id, title from documents where tenant_id = $1 order by id', [a.id])).rows)).toEqual(before);
      } finally {
        await superuser((client) => client.query('drop trigger test_noop_documents on documents; drop function test_noop()'));
      }
    }, 60_000);
  });

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
      // (Other tests' queued exports are taken too: they stay active within their timeout, like the live one.)
      const taken = await boss.fetch(TENANT_JOBS_QUEUE, { batchSize: 20 });
      await boss.stop({ graceful: false, wait: true });
      expect(taken.map((job) => job.id)).toEqual(expect.arrayContaining([dead.body.jobId, live.body.jobId]));
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
