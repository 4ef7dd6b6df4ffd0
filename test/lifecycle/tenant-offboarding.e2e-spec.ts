import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import pg from 'pg';
import { withClient } from '../helpers/pg-client';
import { createStandInVectorIndexes, vectorIndexTenantsOn } from '../helpers/vector-indexes';
import { CacheService } from '../../src/cache/cache.service';
import { TenantErasure } from '../../src/database/tenant-erasure';
import { StorageService } from '../../src/storage/storage.service';
import { TenantResolver } from '../../src/tenants/tenant-resolver.service';
import { TenantDeletionFailedError, TenantDeletionInterruptedError, TenantDeletionLeasedError, TenantOffboardingService } from '../../src/lifecycle/tenant-offboarding.service';
import { adminKeyFingerprint } from '../../src/access/platform-admin';
import { seedTenantData } from '../helpers/isolation-harness';
import { startS3Server, TestS3Server } from '../helpers/s3-server';
import { INestApplication } from '@nestjs/common';
import { createApp } from '../../src/app.factory';
import { TenantDeletionResumer } from '../../src/lifecycle/tenant-deletion-resumer';
import { settledDeletion } from '../helpers/tenant-deletions';
import { startOtherInstance, startTestApp, TestApp } from '../helpers/test-app';
import { tenantTables } from '../helpers/test-database';
import { TEST_ADMIN_KEY } from '../helpers/test-env';
import { dedicatedDatabase, DedicatedDatabase } from '../scale-out/dedicated-helpers';

/**
 * Offboarding, verified (README "Offboarding"), on real PostgreSQL (two servers: a dedicated
 * database on the second), Redis and an S3-protocol server. Every count the test trusts is taken
 * beside the application: rows as the superuser (RLS cannot hide them), keys by SCAN on Redis,
 * objects by ListObjectsV2 on S3. DELETE answers 202 at once and deletes in the background: the
 * tests poll the report (settledDeletion). A short lease and a fast sweep (this app is a worker
 * instance) make a dead run's takeover a matter of seconds.
 */
const LEASE_MS = 2_000;

/** A run that did every step once, without export (the report's steps as name:status). */
const EVERY_STEP_ONCE = ['suspend:done', 'export:skipped', 'count-rows:done', 'delete-rows:done', 'purge-cache:done', 'delete-objects:done', 'verify:done', 'delete-tenant:done'];

describe('tenant offboarding', () => {
  let s3: TestS3Server;
  let t: TestApp;
  let dedicated: DedicatedDatabase;
  let redis: Redis;
  let s3Client: S3Client;

  beforeAll(async () => {
    s3 = await startS3Server();
    dedicated = dedicatedDatabase('offboard');
    redis = new Redis(process.env.TEST_REDIS_URL!);
    s3Client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    t = await startTestApp({
      ...s3.env,
      S3_REQUEST_TIMEOUT_MS: '2000',
      REDIS_URL: process.env.TEST_REDIS_URL!,
      TENANT_DATABASES: JSON.stringify({ big1: dedicated.settings }),
      // No periodic flush of counted requests: it would add ledger rows to the control tenant mid-test.
      USAGE_FLUSH_INTERVAL_MS: '3600000',
      // A lease lasts 2 s (renewed every ~666 ms); a worker instance (startWorker) sweeps every 200 ms. This one runs no
      // worker (JOBS_WORKER off): the seeded export jobs stay queued, so each tenant keeps exactly its two files.
      TENANT_DELETION_LEASE_MS: String(LEASE_MS),
      TENANT_DELETION_SWEEP_INTERVAL_MS: '200',
    });
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    redis?.disconnect();
    s3Client?.destroy();
    await s3?.close();
    await dedicated?.drop();
  });

  /** Rows of the tenant in every tenant table of the database, as the superuser (no RLS). */
  const rowsOf = (url: string, tenantId: string) =>
    withClient(url, async (client) => {
      const counts: Record<string, number> = {};
      for (const table of await tenantTables(client)) {
        counts[table] = (await client.query<{ n: number }>(`select count(*)::int as n from "${table}" where tenant_id = $1`, [tenantId])).rows[0].n;
      }
      return counts;
    });
  const tenantRowExists = (url: string, tenantId: string) =>
    withClient(url, async (client) => (await client.query('select 1 from tenants where id = $1', [tenantId])).rowCount === 1);

  const redisKeysOf = async (tenantId: string) => {
    const keys = new Set<string>();
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `t:{${tenantId}}:*`, 'COUNT', 1000);
      cursor = next;
      found.forEach((key) => keys.add(key));
    } while (cursor !== '0');
    return keys.size;
  };
  const objectsOf = async (tenantId: string) => {
    const listed = await s3Client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `tenants/${tenantId}/` }));
    return listed.KeyCount ?? 0;
  };

  /** Rows in every tenant table (seedTenantData), cached reads (keys in Redis) and files (objects in S3). */
  async function seeded(slug: string, extra: Record<string, unknown> = {}) {
    const tenant = await t.createTenant(slug, extra);
    await seedTenantData(t, slug);
    const documents = await t.request('GET', '/documents', { tenant: slug });
    expect(documents.status).toBe(200);
    for (const doc of documents.body.items) expect((await t.request('GET', `/documents/${doc.id}`, { tenant: slug })).status).toBe(200);
    return tenant;
  }

  /**
   * Another instance on the same database with JOBS_WORKER=on: its resumer sweeps for expired leases.
   * Started once the test's tenant is suspended (its queued export job then fails without running).
   */
  async function startWorker(): Promise<INestApplication> {
    return createApp({ ...t.env, JOBS_WORKER: 'on' });
  }

  const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

  it('deletes a shared tenant through DELETE /tenants/:idOrSlug, verified, and leaves the other tenant untouched', async () => {
    const a = await seeded('offboard-a');
    const b = await seeded('offboard-b');
    const aRows = await rowsOf(t.db.superuserUrl, a.id);
    const bRows = await rowsOf(t.db.superuserUrl, b.id);
    // Positive controls: both tenants have rows in every tenant table, keys and objects.
    for (const counts of [aRows, bRows]) for (const [table, n] of Object.entries(counts)) expect([table, n > 0]).toEqual([table, true]);
    expect(await redisKeysOf(a.id)).toBeGreaterThan(0);
    expect(await objectsOf(a.id)).toBe(2);
    const bKeys = await redisKeysOf(b.id);
    expect(bKeys).toBeGreaterThan(0);
    expect(await objectsOf(b.id)).toBe(2);
    // The owner connection's count (what verification reads) sees rows that exist.
    expect(await t.app.get(TenantErasure).countRows({ tenantId: a.id, database: 'shared' })).toEqual(aRows);
    // Both have their own vector indexes (stand-ins: no pgvector here); the deletion drops A's only.
    await createStandInVectorIndexes(t.db.superuserUrl, a.id);
    await createStandInVectorIndexes(t.db.superuserUrl, b.id);
    expect(await vectorIndexTenantsOn(t.db.superuserUrl)).toEqual(expect.arrayContaining([a.id, a.id, b.id, b.id]));
    // So do the cache's and storage's counts (verification's keys and objects).
    const [appKeys, appObjects] = await t.app.get(TenantResolver).runForTenant(a.id, () => Promise.all([t.app.get(CacheService).countTenantKeys(), t.app.get(StorageService).countTenantObjects()]));
    expect(appKeys).toBe(await redisKeysOf(a.id));
    expect(appObjects).toBe(2);
    const aToken = t.tokenFor(a.slug)!;

    // Refusals first, each with nothing changed: a wrong confirmation, no confirmation, no admin key.
    const wrong = await t.request('DELETE', `/tenants/${a.id}?confirm=${b.slug}`, { admin: true });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.details[0].path).toBe('confirm');
    expect((await t.request('DELETE', `/tenants/${a.id}`, { admin: true })).status).toBe(400);
    expect((await t.request('DELETE', `/tenants/${a.slug}?confirm=${a.slug}`, { auth: aToken })).status).toBe(401);
    expect((await t.request('GET', '/documents', { tenant: a.slug })).status).toBe(200);
    expect(await rowsOf(t.db.superuserUrl, a.id)).toEqual(aRows);

    const deleted = await t.request('DELETE', `/tenants/${a.slug}?confirm=${a.slug}&reason=${encodeURIComponent('customer left')}`, { admin: true });
    // At once: the report as the run starts (claimed by this instance, no step yet), and where to follow it.
    expect(deleted.status).toBe(202);
    expect(deleted.body).toMatchObject({ status: 'running', location: `/tenant-deletions/${deleted.body.id}` });
    expect(deleted.headers.get('location')).toBe(`/tenant-deletions/${deleted.body.id}`);
    expect(deleted.body.report).toMatchObject({ id: deleted.body.id, status: 'running', attempts: 1, steps: [], finishedAt: null, leaseOwner: t.app.get(TenantOffboardingService).leaseOwner });
    const report = await settledDeletion(t, deleted.body.id);
    expect(report).toMatchObject({
      status: 'completed',
      leaseOwner: null,
      leaseExpiresAt: null,
      id: deleted.body.id,
      tenantId: a.id,
      tenantSlug: a.slug,
      database: 'shared',
      requestedBy: adminKeyFingerprint(`Bearer ${TEST_ADMIN_KEY}`),
      reason: 'customer left',
      attempts: 1,
      rowsBefore: aRows,
      deleted: { rows: aRows, objects: 2 },
      verification: { ok: true, cacheKeys: 0, objects: 0 },
      error: null,
    });
    expect(report.requestedBy).toMatch(/^admin-key:[0-9a-f]{12}$/);
    expect(report.deleted.cacheKeys).toBeGreaterThan(0);
    expect(total(report.verification.rows)).toBe(0);
    expect(Object.keys(report.verification.rows).sort()).toEqual(Object.keys(aRows).sort());
    expect(report.steps.map((step: { name: string; status: string }) => `${step.name}:${step.status}`)).toEqual(EVERY_STEP_ONCE);
    expect(report.finishedAt).not.toBeNull();

    // Checked beside the application: no row in any tenant table, no tenant row, no key, no object.
    expect(total(await rowsOf(t.db.superuserUrl, a.id))).toBe(0);
    expect(await tenantRowExists(t.db.superuserUrl, a.id)).toBe(false);
    expect(await redisKeysOf(a.id)).toBe(0);
    expect(await objectsOf(a.id)).toBe(0);
    const indexed = await vectorIndexTenantsOn(t.db.superuserUrl);
    expect(indexed).not.toContain(a.id);
    expect(indexed.filter((id) => id === b.id)).toHaveLength(2);
    // B untouched (its keys may only have grown: nothing of B was read meanwhile, so equal).
    expect(await rowsOf(t.db.superuserUrl, b.id)).toEqual(bRows);
    expect(await redisKeysOf(b.id)).toBe(bKeys);
    expect(await objectsOf(b.id)).toBe(2);
    expect((await t.request('GET', '/documents', { tenant: b.slug })).status).toBe(200);

    // A is gone for clients and admins; its old session gets nothing.
    expect((await t.request('GET', `/tenants/${a.id}`, { admin: true })).status).toBe(404);
    const withOldToken = await t.request('GET', '/documents', { tenant: a.id, auth: aToken });
    // The token names a tenant that no longer exists: refused as a credential (401), like any token of an unknown tenant.
    expect(withOldToken.status).toBe(401);
    expect(withOldToken.body.error.code).toBe('UNAUTHENTICATED');
    expect((await t.request('GET', '/documents', { tenant: a.id, auth: false })).status).toBe(404);

    // The report outlives the tenant.
    const fetched = await t.request('GET', `/tenant-deletions/${report.id}`, { admin: true });
    expect(fetched.status).toBe(200);
    expect(fetched.body).toEqual(report);
    const listed = await t.request('GET', '/tenant-deletions?limit=100', { admin: true });
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((item: { id: string }) => item.id)).toContain(report.id);
    expect((await t.request('GET', `/tenant-deletions/${report.id}`)).status).toBe(401);
    expect((await t.request('GET', '/tenant-deletions/00000000-0000-4000-8000-000000000009', { admin: true })).status).toBe(404);
    // Deleting it again: the tenant is unknown now (its report is complete).
    expect((await t.request('DELETE', `/tenants/${a.slug}?confirm=${a.slug}`, { admin: true })).status).toBe(404);
  }, 120_000);

  it('fails half way (storage down after the rows are gone), keeps the tenant suspended, and a re-run finishes and verifies', async () => {
    const d = await seeded('offboard-d');
    const control = await seeded('offboard-e');
    const dRows = await rowsOf(t.db.superuserUrl, d.id);
    const controlRows = await rowsOf(t.db.superuserUrl, control.id);
    expect(await objectsOf(d.id)).toBe(2);
    const offboarding = t.app.get(TenantOffboardingService);
    const stages: string[] = [];

    let failure: unknown;
    try {
      await offboarding.delete(
        { tenantId: d.slug, requestedBy: 'cli:test' },
        {
          // The job context's progress callback: storage goes down once the rows are deleted.
          report: async (progress) => {
            stages.push(progress.stage ?? '');
            if (progress.stage === 'purge-cache') await s3.stop();
          },
        },
      );
    } catch (error) {
      failure = error;
    } finally {
      await s3.restart();
    }
    expect(failure).toBeInstanceOf(TenantDeletionFailedError);
    const failed = (failure as TenantDeletionFailedError).report;
    expect(failed).toMatchObject({ status: 'failed', attempts: 1, requestedBy: 'cli:test', deleted: { rows: dRows, objects: 0 } });
    expect(failed.error).toBeTruthy();
    expect(failed.steps.map((step) => `${step.name}:${step.status}`)).toEqual([
      'suspend:done',
      'export:skipped',
      'count-rows:done',
      'delete-rows:done',
      'purge-cache:done',
      'delete-objects:failed',
    ]);
    expect(stages).toContain('delete-rows');
    // Half way: rows gone, objects still there, the tenant row kept and suspended (its sessions refused at once).
    expect(total(await rowsOf(t.db.superuserUrl, d.id))).toBe(0);
    expect(await objectsOf(d.id)).toBe(2);
    expect(await tenantRowExists(t.db.superuserUrl, d.id)).toBe(true);
    const refused = await t.request('GET', '/documents', { tenant: d.slug });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('TENANT_SUSPENDED');
    const stored = await t.request('GET', `/tenant-deletions/${failed.id}`, { admin: true });
    expect(stored.body).toMatchObject({ status: 'failed', leaseOwner: null });
    // Failed deletions are not resumed by the sweep (an operator reads the error first): past its start reservation, swept, still failed.
    await new Promise((resolve) => setTimeout(resolve, LEASE_MS + 500));
    await t.app.get(TenantDeletionResumer).sweep();
    expect((await t.request('GET', `/tenant-deletions/${failed.id}`, { admin: true })).body).toMatchObject({ status: 'failed', attempts: 1 });

    // The re-run (through the API, as an operator would) resumes the same report and finishes.
    const rerun = await t.request('DELETE', `/tenants/${d.id}?confirm=${d.slug}`, { admin: true });
    expect(rerun.status).toBe(202);
    expect(rerun.body.id).toBe(failed.id);
    // Claimed before the answer: running again, its second attempt, the old error cleared.
    expect(rerun.body.report).toMatchObject({ status: 'running', attempts: 2, error: null });
    const resumed = await settledDeletion(t, failed.id);
    expect(resumed).toMatchObject({ status: 'completed', attempts: 2, requestedBy: 'cli:test', rowsBefore: dRows, deleted: { rows: dRows, objects: 2 }, verification: { ok: true, cacheKeys: 0, objects: 0 }, error: null });
    const secondAttempt = resumed.steps.filter((step: { attempt: number }) => step.attempt === 2).map((step: { name: string; status: string }) => `${step.name}:${step.status}`);
    expect(secondAttempt).toEqual(['suspend:done', 'export:skipped', 'count-rows:skipped', 'delete-rows:done', 'purge-cache:done', 'delete-objects:done', 'verify:done', 'delete-tenant:done']);
    expect(total(await rowsOf(t.db.superuserUrl, d.id))).toBe(0);
    expect(await objectsOf(d.id)).toBe(0);
    expect(await redisKeysOf(d.id)).toBe(0);
    expect(await tenantRowExists(t.db.superuserUrl, d.id)).toBe(false);
    expect(await rowsOf(t.db.superuserUrl, control.id)).toEqual(controlRows);
    expect(await objectsOf(control.id)).toBe(2);
  }, 120_000);

  it("cancels the tenant's queued jobs and waits for its running ones before deleting anything; past the wait it fails with nothing deleted", async () => {
    const j = await seeded('offboard-jobs');
    const control = await seeded('offboard-jobs-control');
    const jobStatuses = (tenantId: string) =>
      withClient(t.db.superuserUrl, async (client) => (await client.query<{ id: string; status: string; last_error_code: string | null }>('select id, status, last_error_code from jobs where tenant_id = $1 order by created_at, id', [tenantId])).rows);
    // seedTenantData queued jobs (no worker here); one more stands for a job a worker is running right now.
    const queued = await jobStatuses(j.id);
    expect(queued.length).toBeGreaterThan(0);
    for (const job of queued) expect(job).toMatchObject({ status: 'queued' });
    const runningId = '00000000-0000-4000-8000-00000000a001';
    await withClient(t.db.superuserUrl, (client) =>
      client.query(`insert into jobs (tenant_id, id, kind, status, attempts, max_attempts, started_at) values ($1, $2, 'tenants.export', 'running', 1, 3, now())`, [j.id, runningId]),
    );
    const jRows = await rowsOf(t.db.superuserUrl, j.id);
    const controlJobs = await jobStatuses(control.id);

    // An instance that waits 300 ms only: the job still runs, so the deletion fails at suspend, before any row is deleted.
    const impatient = await createApp({ ...t.env, TENANT_DELETION_JOBS_WAIT_MS: '300' });
    let failure: unknown;
    try {
      failure = await impatient.get(TenantOffboardingService).delete({ tenantId: j.slug, requestedBy: 'cli:test' }).catch((error: unknown) => error);
    } finally {
      await impatient.close();
    }
    expect(failure).toBeInstanceOf(TenantDeletionFailedError);
    const failed = (failure as TenantDeletionFailedError).report;
    expect(stepsOf(failed, 1)).toEqual(['suspend:failed']);
    expect(failed.error).toContain('1 job(s) of the tenant still running after 300 ms');
    expect(failed.error).toContain(runningId);
    // Nothing deleted (the running job's row included); the queued jobs are cancelled, and stay so.
    expect(await rowsOf(t.db.superuserUrl, j.id)).toEqual(jRows);
    expect(await jobStatuses(j.id)).toEqual([
      ...queued.map((job) => ({ id: job.id, status: 'cancelled', last_error_code: 'TENANT_DELETED' })),
      { id: runningId, status: 'running', last_error_code: null },
    ]);

    // The re-run waits (60 s by default) while the job runs; it ends after ~1 s, and the deletion goes on and completes.
    const rerun = t.app.get(TenantOffboardingService).delete({ tenantId: j.slug, requestedBy: 'cli:test' });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(total(await rowsOf(t.db.superuserUrl, j.id))).toBe(total(jRows));
    await withClient(t.db.superuserUrl, (client) => client.query(`update jobs set status = 'succeeded', finished_at = now() where tenant_id = $1 and id = $2`, [j.id, runningId]));
    const completed = await rerun;
    expect(completed).toMatchObject({ id: failed.id, status: 'completed', attempts: 2, verification: { ok: true, cacheKeys: 0, objects: 0 } });
    expect(completed.steps.find((step) => step.name === 'suspend' && step.attempt === 2)).toMatchObject({ status: 'done', counts: { jobsCancelled: 0, jobsWaitedFor: 1 } });
    await expectGone(j.id);
    // The other tenant's queued jobs were neither cancelled nor waited for.
    expect(await jobStatuses(control.id)).toEqual(controlJobs);
    expect(controlJobs.length).toBe(queued.length);
    for (const job of controlJobs) expect(job).toMatchObject({ status: 'queued' });
  }, 120_000);

  it('refuses to delete a tenant with an unfinished move (409, naming it), and deletes it once the move ended', async () => {
    const m = await t.createTenant('offboard-moving');
    const moveId = '00000000-0000-4000-8000-00000000b001';
    await withClient(t.db.superuserUrl, (client) =>
      client.query(`insert into tenant_moves (id, moved_tenant_id, tenant_slug, from_database, to_database, requested_by) values ($1, $2, $3, 'shared', 'big1', 'cli:test')`, [moveId, m.id, m.slug]),
    );
    const refused = await t.request('DELETE', `/tenants/${m.slug}?confirm=${m.slug}`, { admin: true });
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toContain(moveId);
    expect(await tenantRowExists(t.db.superuserUrl, m.id)).toBe(true);
    // Positive control: the move ended (here: marked completed by hand), the deletion starts and completes.
    await withClient(t.db.superuserUrl, (client) => client.query(`update tenant_moves set status = 'completed', finished_at = now() where id = $1`, [moveId]));
    const accepted = await t.request('DELETE', `/tenants/${m.slug}?confirm=${m.slug}`, { admin: true });
    expect(accepted.status).toBe(202);
    expect(await settledDeletion(t, accepted.body.id)).toMatchObject({ status: 'completed' });
    await withClient(t.db.superuserUrl, (client) => client.query('delete from tenant_moves where id = $1', [moveId]));
  }, 60_000);

  it('finishes a deletion whose tenant row is already gone (purge and verification still run)', async () => {
    const f = await seeded('offboard-f');
    const offboarding = t.app.get(TenantOffboardingService);
    const started = await offboarding.start({ tenantId: f.slug, requestedBy: 'cli:test' });
    // A crash after the tenant row went but before the report was completed: the row deleted by hand here.
    await t.app.get(TenantErasure).deleteRows({ tenantId: f.id, database: 'shared' });
    await t.app.get(TenantErasure).deleteTenantRecords({ tenantId: f.id, database: 'shared' });
    expect(await objectsOf(f.id)).toBe(2);
    expect(await redisKeysOf(f.id)).toBeGreaterThan(0);
    const finished = await offboarding.delete({ tenantId: f.slug, requestedBy: 'cli:someone-else' });
    expect(finished).toMatchObject({ id: started.id, status: 'completed', requestedBy: 'cli:test', verification: { ok: true, cacheKeys: 0, objects: 0 } });
    expect(finished.steps.find((step) => step.name === 'suspend')).toMatchObject({ status: 'skipped' });
    expect(await objectsOf(f.id)).toBe(0);
    expect(await redisKeysOf(f.id)).toBe(0);
  }, 120_000);

  it('deletes a tenant placed on a dedicated database: its rows there and its anchor, then its row', async () => {
    const c = await seeded('offboard-c', { database: 'big1' });
    const other = await seeded('offboard-g', { database: 'big1' });
    const cRows = await rowsOf(dedicated.superuserUrl, c.id);
    const otherRows = await rowsOf(dedicated.superuserUrl, other.id);
    for (const [table, n] of Object.entries(cRows)) expect([table, n > 0]).toEqual([table, true]);
    // Its rows are on the dedicated database, none on the shared one.
    expect(total(await rowsOf(t.db.superuserUrl, c.id))).toBe(0);
    expect(await tenantRowExists(dedicated.superuserUrl, c.id)).toBe(true);

    const deleted = await t.request('DELETE', `/tenants/${c.slug}?confirm=${c.slug}`, { admin: true });
    expect(deleted.status).toBe(202);
    const report = await settledDeletion(t, deleted.body.id);
    expect(report).toMatchObject({ status: 'completed', database: 'big1', rowsBefore: cRows, deleted: { rows: cRows, objects: 2 }, verification: { ok: true } });
    expect(report.steps.find((step: { name: string }) => step.name === 'delete-tenant').counts).toEqual({ tenant: 1, anchor: 1 });
    expect(total(await rowsOf(dedicated.superuserUrl, c.id))).toBe(0);
    expect(await tenantRowExists(dedicated.superuserUrl, c.id)).toBe(false);
    expect(await tenantRowExists(t.db.superuserUrl, c.id)).toBe(false);
    expect(await objectsOf(c.id)).toBe(0);
    // The other tenant on that database: untouched.
    expect(await rowsOf(dedicated.superuserUrl, other.id)).toEqual(otherRows);
    expect(await tenantRowExists(dedicated.superuserUrl, other.id)).toBe(true);
    expect((await t.request('GET', '/documents', { tenant: other.slug })).status).toBe(200);
  }, 120_000);

  const stepsOf = (report: { steps: Array<{ name: string; status: string; attempt: number }> }, attempt: number) =>
    report.steps.filter((step) => step.attempt === attempt).map((step) => `${step.name}:${step.status}`);
  const ALL_STEPS_RESUMED = ['suspend:done', 'export:skipped', 'count-rows:skipped', 'delete-rows:done', 'purge-cache:done', 'delete-objects:done', 'verify:done', 'delete-tenant:done'];

  /** Checked beside the application: nothing of the tenant left. */
  async function expectGone(tenantId: string) {
    expect(total(await rowsOf(t.db.superuserUrl, tenantId))).toBe(0);
    expect(await tenantRowExists(t.db.superuserUrl, tenantId)).toBe(false);
    expect(await redisKeysOf(tenantId)).toBe(0);
    expect(await objectsOf(tenantId)).toBe(0);
  }

  /** A progress callback that parks the run at `stage` (before that step runs) until released. */
  function parkAt(stage: string) {
    let reached!: () => void;
    let release!: () => void;
    const parked = new Promise<void>((resolve) => (reached = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    const report = async (progress: { stage?: string }) => {
      if (progress.stage !== stage) return;
      reached();
      await released;
    };
    return { parked, release, report };
  }

  it('a run that dies half way keeps its lease until it expires, then a worker instance resumes it: two attempts, verified', async () => {
    const x = await seeded('offboard-x');
    const xRows = await rowsOf(t.db.superuserUrl, x.id);
    // Positive control: the tenant has rows in every tenant table, and files.
    for (const [table, n] of Object.entries(xRows)) expect([table, n > 0]).toEqual([table, true]);
    expect(await objectsOf(x.id)).toBe(2);
    const other = await startOtherInstance(t);
    const main = t.app.get(TenantOffboardingService);
    let worker: INestApplication | undefined;
    try {
      const dying = other.app.get(TenantOffboardingService);
      expect(dying.leaseOwner).not.toBe(main.leaseOwner);
      const started = await dying.start({ tenantId: x.slug, requestedBy: 'cli:test' });
      // The crash: once the rows are deleted, the run's process freezes for good. Its signal aborts (the
      // renewals stop at once) and the run never gets past purge-cache; its lease is left to expire.
      const death = new AbortController();
      const park = parkAt('purge-cache');
      const dead = dying.run(started.id, {
        signal: death.signal,
        report: async (progress) => {
          if (progress.stage === 'purge-cache') death.abort();
          await park.report(progress);
        },
      });
      dead.catch(() => undefined);
      await park.parked;
      const held = (await t.request('GET', `/tenant-deletions/${started.id}`, { admin: true })).body;
      expect(held).toMatchObject({ status: 'running', attempts: 1, leaseOwner: dying.leaseOwner });
      expect(stepsOf(held, 1)).toEqual(['suspend:done', 'export:skipped', 'count-rows:done', 'delete-rows:done']);
      expect(total(await rowsOf(t.db.superuserUrl, x.id))).toBe(0);
      expect(await objectsOf(x.id)).toBe(2);

      // While that lease is live nobody else runs the report: DELETE answers with it (202) and starts
      // nothing; a foreground run (the CLI's way) is refused, naming the holder.
      const again = await t.request('DELETE', `/tenants/${x.slug}?confirm=${x.slug}`, { admin: true });
      expect(again.status).toBe(202);
      expect(again.body.report).toMatchObject({ id: started.id, status: 'running', attempts: 1, leaseOwner: dying.leaseOwner });
      const refused = await main.run(started.id).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(TenantDeletionLeasedError);
      expect((refused as Error).message).toContain(dying.leaseOwner);
      // Neither does a sweep, while the lease is live.
      await t.app.get(TenantDeletionResumer).sweep();
      expect((await t.request('GET', `/tenant-deletions/${started.id}`, { admin: true })).body).toMatchObject({ attempts: 1, leaseOwner: dying.leaseOwner });

      // No renewal: the lease expires, and a worker instance's resumer (a sweep every 200 ms) takes the report over.
      worker = await startWorker();
      const resumed = await settledDeletion(t, started.id);
      expect(resumed.leaseOwner).toBeNull();
      expect(resumed).toMatchObject({
        status: 'completed',
        attempts: 2,
        requestedBy: 'cli:test',
        rowsBefore: xRows,
        deleted: { rows: xRows, objects: 2 },
        verification: { ok: true, cacheKeys: 0, objects: 0 },
        error: null,
        leaseOwner: null,
      });
      expect(resumed.deleted.cacheKeys).toBeGreaterThan(0);
      expect(stepsOf(resumed, 1)).toEqual(['suspend:done', 'export:skipped', 'count-rows:done', 'delete-rows:done']);
      expect(stepsOf(resumed, 2)).toEqual(ALL_STEPS_RESUMED);
      await expectGone(x.id);

      // The frozen run wakes up: it stops without writing anything (no step, no status over the completed report).
      park.release();
      await expect(dead).rejects.toBeInstanceOf(TenantDeletionInterruptedError);
      await expect(dead).rejects.toMatchObject({ reason: 'abandoned' });
      expect((await t.request('GET', `/tenant-deletions/${started.id}`, { admin: true })).body).toEqual(resumed);
    } finally {
      await other.app.close();
      await worker?.close();
    }
  }, 120_000);

  it('two DELETEs at once, on two instances, run the deletion once: the same report, one attempt', async () => {
    const y = await seeded('offboard-y');
    const yRows = await rowsOf(t.db.superuserUrl, y.id);
    for (const [table, n] of Object.entries(yRows)) expect([table, n > 0]).toEqual([table, true]);
    const other = await startOtherInstance(t);
    try {
      const [first, second] = await Promise.all([
        t.request('DELETE', `/tenants/${y.slug}?confirm=${y.slug}`, { admin: true }),
        t.request('DELETE', `/tenants/${y.slug}?confirm=${y.slug}`, { admin: true, baseUrl: other.baseUrl }),
      ]);
      expect([first.status, second.status]).toEqual([202, 202]);
      expect(second.body.id).toBe(first.body.id);
      expect(second.body.location).toBe(first.body.location);
      const report = await settledDeletion(t, first.body.id);
      expect(report).toMatchObject({ status: 'completed', attempts: 1, rowsBefore: yRows, deleted: { rows: yRows, objects: 2 }, verification: { ok: true } });
      // One run: each step once.
      expect(report.steps.map((step: { name: string; status: string }) => `${step.name}:${step.status}`)).toEqual(EVERY_STEP_ONCE);
      await expectGone(y.id);
    } finally {
      await other.app.close();
    }
  }, 120_000);

  it('at shutdown a run stops at its next step boundary and releases its lease; a worker instance resumes it', async () => {
    const z = await seeded('offboard-z');
    const zRows = await rowsOf(t.db.superuserUrl, z.id);
    expect(total(zRows)).toBeGreaterThan(0);
    const other = await startOtherInstance(t);
    let closing: Promise<void> | undefined;
    let worker: INestApplication | undefined;
    try {
      const leaving = other.app.get(TenantOffboardingService);
      const started = await leaving.start({ tenantId: z.slug, requestedBy: 'cli:test' });
      const park = parkAt('purge-cache');
      const run = leaving.run(started.id, { report: park.report });
      run.catch(() => undefined);
      await park.parked;
      // SIGTERM while the run is between delete-rows and purge-cache: main.ts stops the runs, then closes the
      // application, whose shutdown hook waits for them (within JOBS_SHUTDOWN_GRACE_MS).
      worker = await startWorker();
      leaving.stopRuns();
      closing = other.app.close();
      park.release();
      await expect(run).rejects.toMatchObject({ reason: 'shutdown' });
      // Released before the run returned: no longer this instance's (no owner, or already this worker instance's resumer).
      const afterStop = (await t.request('GET', `/tenant-deletions/${started.id}`, { admin: true })).body;
      expect(afterStop.leaseOwner).not.toBe(leaving.leaseOwner);
      expect(afterStop.status).not.toBe('failed');
      await closing;
      const released = await settledDeletion(t, started.id);
      expect(released).toMatchObject({ status: 'completed', attempts: 2, rowsBefore: zRows, deleted: { rows: zRows }, verification: { ok: true, cacheKeys: 0, objects: 0 }, leaseOwner: null });
      // The interrupted attempt recorded its steps up to the boundary, and no failure.
      expect(stepsOf(released, 1)).toEqual(['suspend:done', 'export:skipped', 'count-rows:done', 'delete-rows:done']);
      expect(stepsOf(released, 2)).toEqual(ALL_STEPS_RESUMED);
      await expectGone(z.id);
    } finally {
      await (closing ?? other.app.close()).catch(() => undefined);
      await worker?.close();
    }
  }, 120_000);

  it('deletes in batches, each its own transaction, and a second run finds nothing left', async () => {
    const i = await seeded('offboard-i');
    const before = await rowsOf(t.db.superuserUrl, i.id);
    const erasure = t.app.get(TenantErasure);
    const batches: Array<[string, number]> = [];
    const deleted = await erasure.deleteRows({ tenantId: i.id, database: 'shared' }, { batchSize: 1, onBatch: (table, n) => void batches.push([table, n]) });
    expect(deleted).toEqual(before);
    expect(batches).toHaveLength(total(before));
    expect(batches.every(([, n]) => n === 1)).toBe(true);
    // Children before parents: comments and attachments before documents.
    const order = [...new Set(batches.map(([table]) => table))];
    expect(order.indexOf('comments')).toBeLessThan(order.indexOf('documents'));
    expect(total(await erasure.deleteRows({ tenantId: i.id, database: 'shared' }))).toBe(0);
    expect(total(await rowsOf(t.db.superuserUrl, i.id))).toBe(0);
  });

  it('the runtime role still cannot delete tenants nor ledger rows; the owner sees one tenant only with it set', async () => {
    const h = await t.createTenant('offboard-h');
    const runtime = new pg.Client({ connectionString: t.db.appUrl });
    await runtime.connect();
    try {
      // Positive control: the runtime role reads the row it may not delete.
      expect((await runtime.query('select id from tenants where id = $1', [h.id])).rowCount).toBe(1);
      await expect(runtime.query('delete from tenants where id = $1', [h.id])).rejects.toMatchObject({ code: '42501' });
      await runtime.query('begin');
      try {
        await runtime.query("select set_config('app.tenant_id', $1, true)", [h.id]);
        expect((await runtime.query('select 1 from usage_events')).rowCount).toBeGreaterThan(0);
        await expect(runtime.query('delete from usage_events')).rejects.toMatchObject({ code: '42501' });
      } finally {
        await runtime.query('rollback');
      }
    } finally {
      await runtime.end();
    }
    const owner = new pg.Client({ connectionString: t.db.ownerUrl });
    await owner.connect();
    try {
      // Without a tenant the owner sees no tenant row (FORCE); with one set, that tenant's rows only.
      expect((await owner.query('select count(*)::int as n from usage_events')).rows[0].n).toBe(0);
      await owner.query('begin');
      await owner.query("select set_config('app.tenant_id', $1, true)", [h.id]);
      const { rows } = await owner.query<{ tenant_id: string }>('select distinct tenant_id from usage_events');
      await owner.query('rollback');
      expect(rows).toEqual([{ tenant_id: h.id }]);
    } finally {
      await owner.end();
    }
    expect(await tenantRowExists(t.db.superuserUrl, h.id)).toBe(true);
  });
});
