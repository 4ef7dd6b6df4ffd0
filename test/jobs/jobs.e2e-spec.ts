import { Injectable, Module, OnModuleInit } from '@nestjs/common';
import { desc } from 'drizzle-orm';
import { randomUUID } from 'node:crypto';
import { CacheService } from '../../src/cache/cache.service';
import { documents } from '../../src/database/schema';
import { TenantDb } from '../../src/database/tenant-db';
import { JobError } from '../../src/jobs/job-errors';
import { JobQueue } from '../../src/jobs/job-queue';
import { JobsService, JobView } from '../../src/jobs/jobs.service';
import { StorageService } from '../../src/storage/storage.service';
import { MissingTenantContextError, TenantContext } from '../../src/tenancy/tenant-context';
import { TenantResolver } from '../../src/tenants/tenant-resolver.service';
import { createApiKey } from '../identity/identity-fixtures';
import { startS3Server, TestS3Server } from '../helpers/s3-server';
import { startTestApp, TestApp } from '../helpers/test-app';
import { until } from '../helpers/until';
import { withClient } from '../helpers/pg-client';
import { TenantOffboardingService } from '../../src/lifecycle/tenant-offboarding.service';

/** What a probe job saw from inside its tenant context. */
interface Sight {
  tenant: string;
  documents: string[];
  cache: string;
  files: string[];
  /** How many probe handlers were running at once when this one started reading (>= 2: interleaved). */
  overlapping: number;
}

/**
 * Test-only job kinds, registered the way a feature registers its own (onModuleInit).
 * Every handler reads through the ordinary layers: TenantDb, CacheService, StorageService.
 */
@Injectable()
class TestJobs implements OnModuleInit {
  /** Probe handlers running now; each waits (bounded) for a second one before reading, so tenants interleave. */
  active = 0;
  /** Probes enqueued but not started: a probe waits for a partner only while one may still come. */
  pendingProbes = 0;
  flakyAttempts = new Map<string, number>();

  constructor(
    private readonly jobs: JobsService,
    private readonly db: TenantDb,
    private readonly cache: CacheService,
    private readonly storage: StorageService,
  ) {}

  private pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  onModuleInit(): void {
    this.jobs.register('test.probe', async (_payload: { n: number }, { report }): Promise<Record<string, unknown>> => {
      this.active++;
      this.pendingProbes--;
      try {
        for (let waited = 0; this.active < 2 && this.pendingProbes > 0 && waited < 3000; waited += 10) await this.pause(10);
        const overlapping = this.active;
        await report({ done: 0, total: 3, stage: 'documents' });
        const rows = await this.db.select({ title: documents.title }).from(documents).orderBy(desc(documents.createdAt));
        await this.pause(5); // yield: the other tenant's handler runs in between
        await report({ done: 1, total: 3, stage: 'cache' });
        const cache = await this.cache.getOrSet('job-probe', 'marker', async () => 'miss');
        await this.pause(5);
        await report({ done: 2, total: 3, stage: 'files' });
        const files: string[] = [];
        for await (const object of this.storage.listTenantObjects()) files.push(object.key);
        await report({ done: 3, total: 3, stage: 'done' });
        const sight: Sight = { tenant: TenantContext.currentId(), documents: rows.map((r) => r.title), cache, files, overlapping };
        return { ...sight };
      } finally {
        this.active--;
      }
    });
    // Fails its first attempt with a message for the tenant, then succeeds.
    this.jobs.register(
      'test.flaky',
      async (_payload: object, { jobId, attempt, report }) => {
        this.flakyAttempts.set(jobId, attempt);
        if (attempt === 1) throw new JobError('UPSTREAM_BUSY', 'The upstream service was busy; retrying');
        await report({ done: 1, total: 1 });
        return { attempt };
      },
      { retryLimit: 2, retryDelaySeconds: 0 },
    );
    // Always fails with an error whose text must never reach the tenant.
    this.jobs.register(
      'test.broken',
      async () => {
        throw new Error('select password_hash from users -- internal detail');
      },
      { retryLimit: 1, retryDelaySeconds: 0 },
    );
    // A failure a retry would not change: failed at once despite its retries.
    this.jobs.register(
      'test.refuses',
      async () => {
        throw new JobError('TOO_LARGE', 'The export is larger than the plan allows', false);
      },
      { retryLimit: 3, retryDelaySeconds: 0 },
    );
    this.jobs.register('test.noop', async () => ({ ok: true }), { retryLimit: 2, retryDelaySeconds: 0 });
  }
}

@Module({ providers: [TestJobs] })
class TestJobsModule {}

describe('tenant-aware background jobs', () => {
  let t: TestApp;
  let s3: TestS3Server;
  let jobs: JobsService;
  let resolver: TenantResolver;
  let a: { id: string; slug: string };
  let b: { id: string; slug: string };

  beforeAll(async () => {
    s3 = await startS3Server('jobs-test');
    t = await startTestApp(
      // One worker process, two loops, polling fast (tests only); Redis and S3 real.
      { JOBS_WORKER: 'on', JOBS_CONCURRENCY: '2', JOBS_POLL_INTERVAL_MS: '50', REDIS_URL: process.env.TEST_REDIS_URL!, ...s3.env },
      { imports: [TestJobsModule] },
    );
    jobs = t.app.get(JobsService);
    resolver = t.app.get(TenantResolver);
    a = await t.createTenant(`jobs-a-${randomUUID().slice(0, 6)}`);
    b = await t.createTenant(`jobs-b-${randomUUID().slice(0, 6)}`);
  });

  afterAll(async () => {
    await t?.close();
    await s3?.close();
  });

  const enqueueAs = (tenantId: string, kind: string, payload: unknown = {}) => resolver.runForTenant(tenantId, () => jobs.enqueue(kind, payload));
  const jobOf = async (tenant: string, id: string) => (await t.request<JobView>('GET', `/jobs/${id}`, { tenant })).body;
  const finished = (tenant: string, id: string) =>
    until(() => jobOf(tenant, id), (job) => job.status === 'succeeded' || job.status === 'failed', `job ${id} finished`);

  describe('interleaved jobs of two tenants on one worker', () => {
    const seed = async (tenant: { id: string; slug: string }, label: string) => {
      for (const n of [1, 2]) expect((await t.request('POST', '/documents', { tenant: tenant.slug, body: { title: `${label} doc ${n}` } })).status).toBe(201);
      const doc = (await t.request('GET', '/documents', { tenant: tenant.slug })).body.items[0].id;
      const upload = await t.request('POST', `/documents/${doc}/attachments?filename=${label}.txt`, { tenant: tenant.slug, rawBody: `${label} file`, headers: { 'content-type': 'text/plain' } });
      expect(upload.status).toBe(201);
      // The same cache key in both tenants, each with its own value.
      await resolver.runForTenant(tenant.id, () => t.app.get(CacheService).getOrSet('job-probe', 'marker', async () => `${label} marker`));
    };

    it('runs each handler in its own tenant: rows, cache keys and files of that tenant only', async () => {
      await seed(a, 'alpha');
      await seed(b, 'bravo');
      // A, B, A, B...: the two loops take them in turn, so handlers of both tenants run at the same time.
      const queued: Array<{ tenant: { id: string; slug: string }; job: JobView }> = [];
      t.app.get(TestJobs).pendingProbes = 6;
      for (let i = 0; i < 3; i++) {
        for (const tenant of [a, b]) queued.push({ tenant, job: await enqueueAs(tenant.id, 'test.probe', { n: i }) });
      }
      expect(queued.every(({ job }) => job.status === 'queued' && job.attempts === 0)).toBe(true);

      const sights: Array<{ label: 'alpha' | 'bravo'; tenantId: string; sight: Sight }> = [];
      for (const { tenant, job } of queued) {
        const done = await finished(tenant.slug, job.id);
        expect(done).toMatchObject({ status: 'succeeded', attempts: 1, progress: { done: 3, total: 3, stage: 'done' }, lastError: null });
        sights.push({ label: tenant === a ? 'alpha' : 'bravo', tenantId: tenant.id, sight: done.result as unknown as Sight });
      }
      // Interleaved for real: some handler started while the other loop's handler was running.
      expect(Math.max(...sights.map((s) => s.sight.overlapping))).toBe(2);

      for (const { label, tenantId, sight } of sights) {
        const other = label === 'alpha' ? 'bravo' : 'alpha';
        expect(sight.tenant).toBe(tenantId);
        // Positive controls: the tenant has rows, a cache entry and files, and the handler sees them...
        expect(sight.documents).toEqual([`${label} doc 2`, `${label} doc 1`]);
        expect(sight.cache).toBe(`${label} marker`);
        expect(sight.files.length).toBe(1);
        // ...and nothing of the other tenant.
        expect(sight.documents.some((title) => title.startsWith(other))).toBe(false);
        expect(sight.files.every((key) => key.startsWith(`tenants/${tenantId}/`))).toBe(true);
      }
    });
  });

  describe('enqueuing', () => {
    it('refuses tenant work outside a tenant context, before anything is written', async () => {
      const before = (await t.request('GET', '/jobs?limit=100', { tenant: a.slug })).body.items.length;
      await expect(TenantContext.exit(() => jobs.enqueue('test.noop', {}))).rejects.toBeInstanceOf(MissingTenantContextError);
      expect((await t.request('GET', '/jobs?limit=100', { tenant: a.slug })).body.items.length).toBe(before);
      // Positive control: the same call inside the tenant's context queues the job, and it runs.
      const job = await enqueueAs(a.id, 'test.noop');
      expect(job).toMatchObject({ kind: 'test.noop', status: 'queued', requestedBy: null });
      expect(await finished(a.slug, job.id)).toMatchObject({ status: 'succeeded', result: { ok: true } });
    });

    it('enqueues platform work for a named tenant that exists, from outside any tenant context', async () => {
      await expect(jobs.enqueueForTenant(randomUUID(), 'test.noop', {})).rejects.toMatchObject({ code: 'TENANT_NOT_FOUND' });
      await expect(jobs.enqueueForTenant('not-a-uuid', 'test.noop', {})).rejects.toMatchObject({ code: 'TENANT_NOT_FOUND' });
      // Inside another tenant's context it is refused: a request of A cannot queue work for B.
      await expect(resolver.runForTenant(a.id, () => jobs.enqueueForTenant(b.id, 'test.noop', {}))).rejects.toThrow(/another tenant/);
      // Positive control.
      const job = await jobs.enqueueForTenant(b.id, 'test.noop', {});
      expect(await finished(b.slug, job.id)).toMatchObject({ status: 'succeeded' });
      expect((await t.request('GET', `/jobs/${job.id}`, { tenant: a.slug })).status).toBe(404);
    });

    it('refuses an unknown kind and payloads that carry secrets or are not JSON', async () => {
      await expect(enqueueAs(a.id, 'test.unknown')).rejects.toThrow(/No job kind "test.unknown"/);
      await expect(enqueueAs(a.id, 'test.noop', { target: { apiKey: 'k' } })).rejects.toThrow(/apiKey look like secrets/);
      await expect(enqueueAs(a.id, 'test.noop', { password: 'x' })).rejects.toThrow(/password look like secrets/);
      await expect(enqueueAs(a.id, 'test.noop', { size: 10n })).rejects.toThrow(/not JSON/);
      // Positive control: an ordinary payload.
      expect((await enqueueAs(a.id, 'test.noop', { documentIds: [randomUUID()], format: 'csv' })).status).toBe('queued');
    });
  });

  describe('retries and failures', () => {
    it('retries a failed attempt, recording it, then succeeds', async () => {
      const job = await enqueueAs(a.id, 'test.flaky');
      const done = await finished(a.slug, job.id);
      expect(done).toMatchObject({
        status: 'succeeded',
        attempts: 2,
        maxAttempts: 3,
        result: { attempt: 2 },
        progress: { done: 1, total: 1 },
        // The failed first attempt stays visible.
        lastError: { code: 'UPSTREAM_BUSY', message: 'The upstream service was busy; retrying' },
      });
      expect(done.finishedAt).not.toBeNull();
    });

    it('fails a job that exhausts its retries, with a safe error and every attempt counted', async () => {
      const job = await enqueueAs(a.id, 'test.broken');
      const done = await finished(a.slug, job.id);
      expect(done).toMatchObject({ status: 'failed', attempts: 2, maxAttempts: 2, lastError: { code: 'JOB_FAILED', message: 'The job failed because of an internal error' } });
      expect(JSON.stringify(done)).not.toMatch(/password_hash|select/);
      // The queue agrees: failed after its one retry.
      expect(await t.app.get(JobQueue).inspect(job.id)).toMatchObject({ state: 'failed', retryCount: 1, retryLimit: 1 });
    });

    it('fails at once a job whose handler says a retry would not help', async () => {
      const job = await enqueueAs(a.id, 'test.refuses');
      const done = await finished(a.slug, job.id);
      expect(done).toMatchObject({ status: 'failed', attempts: 1, maxAttempts: 4, lastError: { code: 'TOO_LARGE' } });
      expect(await t.app.get(JobQueue).inspect(job.id)).toMatchObject({ state: 'completed', retryCount: 0 });
    });

    it("fails a suspended tenant's job without running or retrying it", async () => {
      const c = await t.createTenant(`jobs-c-${randomUUID().slice(0, 6)}`);
      const job = await resolver.runForTenant(c.id, () => jobs.enqueue('test.noop', {}, { delaySeconds: 1 }));
      expect((await t.request('PATCH', `/tenants/${c.id}`, { admin: true, body: { status: 'suspended' } })).status).toBe(200);
      const queue = t.app.get(JobQueue);
      await until(() => queue.inspect(job.id), (state) => state?.state === 'completed', 'the queue finished the job');
      expect(await t.request('PATCH', `/tenants/${c.id}`, { admin: true, body: { status: 'active' } })).toMatchObject({ status: 200 });
      const view = await jobOf(c.slug, job.id);
      expect(view).toMatchObject({ status: 'failed', attempts: 0, result: null, lastError: { code: 'TENANT_SUSPENDED', message: 'The tenant is suspended: the job was not run' } });
      expect(await queue.inspect(job.id)).toMatchObject({ retryCount: 0 });
      // Positive control: resumed, the tenant's next job of that kind runs.
      const next = await resolver.runForTenant(c.id, () => jobs.enqueue('test.noop', {}));
      expect(await finished(c.slug, next.id)).toMatchObject({ status: 'succeeded' });
    });
  });

  describe('a tenant being deleted', () => {
    it('starts none of its jobs and queues no platform work for it while its deletion is unfinished', async () => {
      const c = await t.createTenant(`jobs-del-${randomUUID().slice(0, 6)}`);
      // Positive control: before the deletion, its platform work is queued and runs.
      expect(await finished(c.slug, (await jobs.enqueueForTenant(c.id, 'test.noop', {})).id)).toMatchObject({ status: 'succeeded' });
      const queued = await resolver.runForTenant(c.id, () => jobs.enqueue('test.noop', {}, { delaySeconds: 1 }));
      // A deletion report opened (status running) but not run: the tenant is still active, its rows all there.
      const report = await t.app.get(TenantOffboardingService).start({ tenantId: c.slug, requestedBy: 'cli:test' });
      try {
        await expect(jobs.enqueueForTenant(c.id, 'test.noop', {})).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('being deleted') });
        const refused = await finished(c.slug, queued.id);
        expect(refused).toMatchObject({ status: 'failed', attempts: 0, result: null, lastError: { code: 'TENANT_DELETED' } });
        expect(await t.app.get(JobQueue).inspect(queued.id)).toMatchObject({ state: 'completed', retryCount: 0 });
        // Another tenant's work goes on.
        expect(await finished(b.slug, (await jobs.enqueueForTenant(b.id, 'test.noop', {})).id)).toMatchObject({ status: 'succeeded' });
      } finally {
        await withClient(t.db.superuserUrl, (client) => client.query('delete from tenant_deletions where id = $1', [report.id]));
      }
    });
  });

  describe('GET /jobs and GET /jobs/:id', () => {
    it("shows a tenant its own jobs with their progress, and another tenant's job as not found", async () => {
      const mine = await enqueueAs(a.id, 'test.noop');
      const theirs = await enqueueAs(b.id, 'test.noop');
      await finished(a.slug, mine.id);
      await finished(b.slug, theirs.id);

      const own = await t.request('GET', `/jobs/${mine.id}`, { tenant: a.slug });
      expect(own.status).toBe(200);
      expect(own.body).toMatchObject({ id: mine.id, kind: 'test.noop', status: 'succeeded', attempts: 1, progress: { done: 0, total: null, stage: null } });

      const foreign = await t.request('GET', `/jobs/${theirs.id}`, { tenant: a.slug });
      const random = await t.request('GET', `/jobs/${randomUUID()}`, { tenant: a.slug });
      expect(foreign.status).toBe(404);
      expect(foreign.body.error).toEqual(random.body.error);

      const list = await t.request('GET', '/jobs?limit=100', { tenant: a.slug });
      expect(list.status).toBe(200);
      const ids = list.body.items.map((job: JobView) => job.id);
      expect(ids).toContain(mine.id);
      expect(ids).not.toContain(theirs.id);
      expect((await t.request('GET', '/jobs?limit=100', { tenant: b.slug })).body.items.map((job: JobView) => job.id)).toContain(theirs.id);
    });

    it('pages newest first', async () => {
      const first = await t.request('GET', '/jobs?limit=2', { tenant: a.slug });
      expect(first.body.items).toHaveLength(2);
      expect(first.body.nextCursor).toEqual(expect.any(String));
      const second = await t.request('GET', `/jobs?limit=2&cursor=${first.body.nextCursor}`, { tenant: a.slug });
      expect(second.status).toBe(200);
      const all = [...first.body.items, ...second.body.items] as JobView[];
      expect(new Set(all.map((job) => job.id)).size).toBe(all.length);
      expect(all.map((job) => job.createdAt)).toEqual([...all.map((job) => job.createdAt)].sort().reverse());
    });

    it('is for admins and owners only', async () => {
      const member = await createApiKey(t, a.slug, 'member');
      const refused = await t.request('GET', '/jobs', { tenant: a.slug, auth: member.key });
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('INSUFFICIENT_ROLE');
      const admin = await createApiKey(t, a.slug, 'admin');
      expect((await t.request('GET', '/jobs', { tenant: a.slug, auth: admin.key })).status).toBe(200);
    });
  });
});
