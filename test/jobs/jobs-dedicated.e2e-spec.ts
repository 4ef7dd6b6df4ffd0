import { Injectable, Module, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { documents } from '../../src/database/schema';
import { TenantDb } from '../../src/database/tenant-db';
import { JobsService, JobView } from '../../src/jobs/jobs.service';
import { TenantContext } from '../../src/tenancy/tenant-context';
import { TenantResolver } from '../../src/tenants/tenant-resolver.service';
import { dedicatedDatabase, DedicatedDatabase } from '../scale-out/dedicated-helpers';
import { startTestApp, TestApp } from '../helpers/test-app';
import { until } from '../helpers/until';

@Injectable()
class TitleJobs implements OnModuleInit {
  constructor(
    private readonly jobs: JobsService,
    private readonly db: TenantDb,
  ) {}

  onModuleInit(): void {
    this.jobs.register('test.titles', async (_payload: object, { report }) => {
      const rows = await this.db.select({ title: documents.title }).from(documents);
      await report({ done: rows.length, total: rows.length });
      return { tenant: TenantContext.currentId(), titles: rows.map((r) => r.title).sort() };
    });
  }
}

@Module({ providers: [TitleJobs] })
class TitleJobsModule {}

/**
 * A tenant placed on a dedicated database (second PostgreSQL server): its job is queued on the
 * shared database (the only queue), while its status row and everything the handler reads live
 * on the tenant's database, where TenantDb routes them; beside a tenant on the shared database.
 */
describe('background jobs of a tenant on a dedicated database', () => {
  let dedicated: DedicatedDatabase;
  let t: TestApp;

  beforeAll(async () => {
    dedicated = dedicatedDatabase('jobs');
    t = await startTestApp(
      { TENANT_DATABASES: JSON.stringify({ big1: dedicated.settings }), JOBS_WORKER: 'on', JOBS_POLL_INTERVAL_MS: '50' },
      { imports: [TitleJobsModule] },
    );
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await dedicated?.drop();
  });

  const count = async (url: string, sql: string, values: unknown[]) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query(sql, values)).rows[0].n as number;
    } finally {
      await client.end();
    }
  };

  it("runs the job against the tenant's own database; the queue stays on the shared one", async () => {
    const big = await t.createTenant(`jobs-big-${randomUUID().slice(0, 6)}`, { database: 'big1' });
    const small = await t.createTenant(`jobs-small-${randomUUID().slice(0, 6)}`);
    for (const [tenant, title] of [[big, 'big doc'], [small, 'small doc']] as const) {
      expect((await t.request('POST', '/documents', { tenant: tenant.slug, body: { title } })).status).toBe(201);
    }
    const resolver = t.app.get(TenantResolver);
    const enqueue = (tenantId: string) => resolver.runForTenant(tenantId, () => t.app.get(JobsService).enqueue('test.titles', {}));
    const bigJob = await enqueue(big.id);
    const smallJob = await enqueue(small.id);
    const finished = (slug: string, id: string) =>
      until(async () => (await t.request<JobView>('GET', `/jobs/${id}`, { tenant: slug })).body, (job) => job.status === 'succeeded', `job ${id}`);

    expect(await finished(big.slug, bigJob.id)).toMatchObject({ result: { tenant: big.id, titles: ['big doc'] }, progress: { done: 1, total: 1 } });
    expect(await finished(small.slug, smallJob.id)).toMatchObject({ result: { tenant: small.id, titles: ['small doc'] } });

    // The big tenant's row is on its database only; the queue's copy of both jobs on the shared one.
    const jobRows = 'select count(*)::int as n from jobs where id = $1';
    expect(await count(dedicated.superuserUrl, jobRows, [bigJob.id])).toBe(1);
    expect(await count(t.db.superuserUrl, jobRows, [bigJob.id])).toBe(0);
    expect(await count(t.db.superuserUrl, jobRows, [smallJob.id])).toBe(1); // positive control
    const queued = 'select count(*)::int as n from pgboss.job where id = $1';
    expect(await count(t.db.superuserUrl, queued, [bigJob.id])).toBe(1);
    expect(await count(dedicated.superuserUrl, queued, [bigJob.id])).toBe(0);
  });
});
