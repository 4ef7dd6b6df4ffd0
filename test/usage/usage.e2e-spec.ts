import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { StorageDriver } from '../../src/storage/storage-driver';
import { S3StorageDriver } from '../../src/storage/s3-storage.driver';
import { DocumentsService } from '../../src/documents/documents.service';
import { TenantDb } from '../../src/database/tenant-db';
import { TenantResolver } from '../../src/tenants/tenant-resolver.service';
import { RequestUsage } from '../../src/usage/request-usage';
import { UsageLedger } from '../../src/usage/usage-ledger.service';
import { billingPeriodOf } from '../../src/usage/billing-period';
import { csvField } from '../../src/usage/usage-csv';
import { startS3Server, TestS3Server } from '../helpers/s3-server';
import { startTestApp, TestApp } from '../helpers/test-app';
import { acceptInvitation, addMember, expectStatus, invite } from '../identity/identity-fixtures';

type Tenant = { id: string; slug: string };

/** A chunked body of `total` bytes made on demand; `pulled` says how much of it the client was asked for. */
function countingBody(total: number, chunkSize = 16 * 1024): { body: ReadableStream<Uint8Array>; pulled: () => number } {
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= total) return controller.close();
      const size = Math.min(chunkSize, total - sent);
      sent += size;
      controller.enqueue(new Uint8Array(randomBytes(size)));
    },
  });
  return { body, pulled: () => sent };
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/**
 * The usage ledger and quotas (README "Plans, quotas and usage"), on real
 * PostgreSQL and S3 (s3rver): limits hold under concurrency, deletes give the
 * allowance back, uploads are cut off while streaming and leave nothing
 * behind, counters always equal the ledger's sums and the rows, and usage is
 * read and exported per billing period.
 */
describe('usage ledger and quotas', () => {
  let t: TestApp;
  let s3: TestS3Server;
  let inspector: StorageDriver;
  let sql: pg.Client;

  beforeAll(async () => {
    s3 = await startS3Server();
    // The flush interval is long: tests flush the request counts themselves.
    t = await startTestApp({ ...s3.env, USAGE_FLUSH_INTERVAL_MS: '3600000' });
    inspector = new S3StorageDriver({ bucket: s3.bucket, endpoint: s3.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, forcePathStyle: true, requestTimeoutMs: 5000 });
    // Superuser: sees every tenant's rows (RLS does not apply), to check what the API cannot show.
    sql = new pg.Client({ connectionString: t.db.superuserUrl });
    await sql.connect();
  });
  afterAll(async () => {
    await sql?.end();
    await t?.close();
    await inspector?.close();
    await s3?.close();
  });

  const setPlan = async (tenant: Tenant, plan: string, limits: Record<string, number | null> = {}) =>
    expectStatus(await t.request('PUT', `/tenants/${tenant.id}/plan`, { admin: true, body: { plan, overrides: { limits } } }), 200);
  const createDocument = (tenant: Tenant) => t.request('POST', '/documents', { tenant: tenant.slug, body: { title: `doc ${randomUUID()}` } });
  const upload = (tenant: Tenant, documentId: string, body: Uint8Array | ReadableStream<Uint8Array>) =>
    t.request('POST', `/documents/${documentId}/attachments?filename=f.bin`, { tenant: tenant.slug, rawBody: body, headers: { 'content-type': 'application/octet-stream' } });
  const count = async (query: string, params: unknown[]) => Number((await sql.query(query, params)).rows[0].n);
  const counters = async (tenantId: string) =>
    Object.fromEntries((await sql.query('select metric, value from usage_counters where tenant_id = $1', [tenantId])).rows.map((r) => [r.metric, Number(r.value)]));
  const ledgerSums = async (tenantId: string) =>
    Object.fromEntries((await sql.query('select metric, sum(delta) as v from usage_events where tenant_id = $1 group by metric', [tenantId])).rows.map((r) => [r.metric, Number(r.v)]));
  const actual = async (tenantId: string) => ({
    documents: await count('select count(*) as n from documents where tenant_id = $1', [tenantId]),
    storage_bytes: await count("select coalesce(sum(size_bytes), 0) as n from attachments where tenant_id = $1 and status = 'ready'", [tenantId]),
    members: await count('select count(*) as n from memberships where tenant_id = $1', [tenantId]),
    api_keys: await count('select count(*) as n from api_keys where tenant_id = $1 and revoked_at is null', [tenantId]),
  });
  /** Counters = ledger sums = the rows themselves, for every counted metric. */
  const expectConsistent = async (tenantId: string) => {
    const rows = await actual(tenantId);
    const c = await counters(tenantId);
    const l = await ledgerSums(tenantId);
    for (const metric of Object.keys(rows) as Array<keyof typeof rows>) {
      expect({ metric, counter: c[metric] ?? 0, ledger: l[metric] ?? 0 }).toEqual({ metric, counter: rows[metric], ledger: rows[metric] });
    }
    return rows;
  };

  it('holds the documents limit under 50 parallel creates: exactly one 201, 49 × 403 QUOTA_EXCEEDED (positive control: the creates below the limit)', async () => {
    const tenant = await t.createTenant('quota-docs');
    await setPlan(tenant, 'free', { documents: 5 });
    for (let i = 0; i < 4; i++) expectStatus(await createDocument(tenant), 201);

    const answers = await Promise.all(Array.from({ length: 50 }, () => createDocument(tenant)));
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    const refused = answers.filter((a) => a.status !== 201);
    expect(refused).toHaveLength(49);
    for (const r of refused) expectStatus(r, 403, 'QUOTA_EXCEEDED');
    expect(refused[0].body.error.details).toEqual([expect.objectContaining({ path: 'documents', limit: 5, used: 5 })]);
    expect(await count('select count(*) as n from documents where tenant_id = $1', [tenant.id])).toBe(5);
    await expectConsistent(tenant.id);

    // A delete gives the allowance back: one more create fits, and only one.
    const list = await t.request('GET', '/documents', { tenant: tenant.slug });
    expectStatus(await t.request('DELETE', `/documents/${list.body.items[0].id}`, { tenant: tenant.slug }), 204);
    expectStatus(await createDocument(tenant), 201);
    expectStatus(await createDocument(tenant), 403, 'QUOTA_EXCEEDED');

    // A downgrade below current use keeps the data and blocks new writes (grace: nothing is deleted).
    await setPlan(tenant, 'free', { documents: 2 });
    expect(await count('select count(*) as n from documents where tenant_id = $1', [tenant.id])).toBe(5);
    expectStatus(await createDocument(tenant), 403, 'QUOTA_EXCEEDED');
    expectStatus(await t.request('GET', '/documents', { tenant: tenant.slug }), 200);
    await expectConsistent(tenant.id);
  });

  it('counts a replayed event (same idempotency key) once', async () => {
    const tenant = await t.createTenant('usage-replay');
    const ledger = t.app.get(UsageLedger);
    const db = t.app.get(TenantDb);
    const before = (await counters(tenant.id)).documents ?? 0;
    const change = { metric: 'documents' as const, delta: 3, reason: 'test', key: `replay:${randomUUID()}` };
    const first = await t.app.get(TenantResolver).runForTenant(tenant.id, () => ledger.record(change, db));
    const again = await t.app.get(TenantResolver).runForTenant(tenant.id, () => ledger.record(change, db));
    expect([first, again]).toEqual([true, false]);
    expect((await counters(tenant.id)).documents).toBe(before + 3);
    expect(await count('select count(*) as n from usage_events where tenant_id = $1 and idempotency_key = $2', [tenant.id, change.key])).toBe(1);
    // Positive control: another key counts.
    await t.app.get(TenantResolver).runForTenant(tenant.id, () => ledger.record({ ...change, delta: -3, key: `replay:${randomUUID()}` }, db));
    expect((await counters(tenant.id)).documents).toBe(before);
  });

  it('refuses UPDATE and DELETE on the ledger to the runtime role (append-only), INSERT and SELECT work', async () => {
    const tenant = await t.createTenant('usage-append-only');
    const app = new pg.Client({ connectionString: t.db.appUrl });
    await app.connect();
    try {
      await app.query('begin');
      await app.query("select set_config('app.tenant_id', $1, true)", [tenant.id]);
      expect(Number((await app.query('select count(*) as n from usage_events')).rows[0].n)).toBeGreaterThan(0);
      await app.query("insert into usage_events (tenant_id, metric, delta, reason, idempotency_key) values ($1, 'requests', 1, 'test', $2)", [tenant.id, randomUUID()]);
      await app.query('savepoint s');
      await expect(app.query('update usage_events set delta = 0')).rejects.toMatchObject({ code: '42501' });
      await app.query('rollback to savepoint s');
      await expect(app.query('delete from usage_events')).rejects.toMatchObject({ code: '42501' });
      await app.query('rollback');
    } finally {
      await app.end();
    }
  });

  it('cuts an upload off while streaming once it passes the storage allowance, leaving no object and no row (positive control: one that fits)', async () => {
    const tenant = await t.createTenant('quota-storage', { plan: 'pro' });
    await setPlan(tenant, 'pro', { storage_bytes: 100_000 });
    const documentId = (await createDocument(tenant)).body.id as string;
    expectStatus(await upload(tenant, documentId, new Uint8Array(randomBytes(60_000))), 201);
    const objectsBefore = (await collect(inspector.list(`tenants/${tenant.id}/`))).map((o) => o.key);
    expect(objectsBefore).toHaveLength(1);

    // Declared too large: refused before storage is touched.
    const declared = await upload(tenant, documentId, new Uint8Array(randomBytes(50_000)));
    expectStatus(declared, 403, 'QUOTA_EXCEEDED');
    expect(declared.body.error.details).toEqual([expect.objectContaining({ path: 'storage_bytes', limit: 100_000, used: 60_000 })]);

    // Streamed (no Content-Length), far larger than what is left: stopped long before its end.
    const total = 64 * 1024 * 1024;
    const stream = countingBody(total);
    const streamed = await upload(tenant, documentId, stream.body);
    expectStatus(streamed, 403, 'QUOTA_EXCEEDED');
    expect(stream.pulled()).toBeLessThan(total);

    expect((await collect(inspector.list(`tenants/${tenant.id}/`))).map((o) => o.key)).toEqual(objectsBefore);
    expect(await count('select count(*) as n from attachments where tenant_id = $1', [tenant.id])).toBe(1);
    expect((await expectConsistent(tenant.id)).storage_bytes).toBe(60_000);

    // Two uploads at once that fit alone but not together: exactly one is stored.
    const [x, y] = await Promise.all([upload(tenant, documentId, new Uint8Array(randomBytes(30_000))), upload(tenant, documentId, new Uint8Array(randomBytes(30_000)))]);
    expect([x.status, y.status].sort()).toEqual([201, 403]);
    expect((await collect(inspector.list(`tenants/${tenant.id}/`))).length).toBe(2);
    expect((await expectConsistent(tenant.id)).storage_bytes).toBe(90_000);

    // Deletes give the bytes back: an attachment's, then a whole document's.
    const stored = (await t.request('GET', `/documents/${documentId}/attachments`, { tenant: tenant.slug })).body.items as Array<{ id: string; sizeBytes: number }>;
    expectStatus(await t.request('DELETE', `/documents/${documentId}/attachments/${stored[0].id}`, { tenant: tenant.slug }), 204);
    expect((await expectConsistent(tenant.id)).storage_bytes).toBe(90_000 - stored[0].sizeBytes);
    expectStatus(await t.request('DELETE', `/documents/${documentId}`, { tenant: tenant.slug }), 204);
    expect(await expectConsistent(tenant.id)).toMatchObject({ storage_bytes: 0, documents: 0 });
  });

  it('holds the members limit on invitation acceptance and the API keys limit on create; removal and revocation give back', async () => {
    const tenant = await t.createTenant('quota-people', { plan: 'pro' });
    await setPlan(tenant, 'pro', { members: 2, api_keys: 1 });
    const second = await addMember(t, tenant.slug, 'member'); // owner + 1 = 2: fits (positive control)
    const pending = await invite(t, tenant.slug, `third-${randomUUID().slice(0, 8)}@people.test`, 'viewer');
    const refused = await acceptInvitation(t, tenant.slug, pending.token, 'a-long-password-123');
    expectStatus(refused, 403, 'QUOTA_EXCEEDED');
    expect(refused.body.error.details).toEqual([expect.objectContaining({ path: 'members', limit: 2, used: 2 })]);
    expectStatus(await t.request('DELETE', `/members/${second.userId}`, { tenant: tenant.slug }), 204);
    expectStatus(await acceptInvitation(t, tenant.slug, pending.token, 'a-long-password-123'), 200);

    const first = await t.request('POST', '/api-keys', { tenant: tenant.slug, body: { name: 'k1', role: 'member' } });
    expectStatus(first, 201);
    expectStatus(await t.request('POST', '/api-keys', { tenant: tenant.slug, body: { name: 'k2', role: 'member' } }), 403, 'QUOTA_EXCEEDED');
    expectStatus(await t.request('DELETE', `/api-keys/${first.body.id}`, { tenant: tenant.slug }), 204);
    expectStatus(await t.request('DELETE', `/api-keys/${first.body.id}`, { tenant: tenant.slug }), 204); // idempotent: gives back once
    expectStatus(await t.request('POST', '/api-keys', { tenant: tenant.slug, body: { name: 'k3', role: 'member' } }), 201);
    expect(await expectConsistent(tenant.id)).toMatchObject({ members: 2, api_keys: 1 });
  });

  it('keeps every tenant counters equal to its ledger sums and its rows after a concurrent soak, and no tenant sees another one usage', async () => {
    const tenants = await Promise.all(['soak-a', 'soak-b', 'soak-c'].map((slug) => t.createTenant(slug, { plan: 'pro' })));
    await setPlan(tenants[0], 'pro', { documents: 15, storage_bytes: 200_000 });
    const work = tenants.flatMap((tenant) =>
      Array.from({ length: 12 }, async (_, i) => {
        const created = await createDocument(tenant);
        if (created.status !== 201) return;
        const id = created.body.id as string;
        if (i % 3 === 0) await upload(tenant, id, new Uint8Array(randomBytes(20_000 + i)));
        if (i % 4 === 0) await t.request('DELETE', `/documents/${id}`, { tenant: tenant.slug });
        else if (i % 3 === 0) await upload(tenant, id, new Uint8Array(randomBytes(5_000)));
      }),
    );
    // A second wave on the limited tenant, past its limit.
    work.push(...Array.from({ length: 10 }, () => createDocument(tenants[0]).then(() => undefined)));
    await Promise.all(work);

    const views = [];
    for (const tenant of tenants) {
      const rows = await expectConsistent(tenant.id);
      const usage = await t.request('GET', '/usage', { tenant: tenant.slug });
      expectStatus(usage, 200);
      expect(usage.body.metrics.documents.value).toBe(rows.documents);
      expect(usage.body.metrics.storage_bytes.value).toBe(rows.storage_bytes);
      views.push(usage.body);
    }
    expect(views[0].metrics.documents.value).toBeLessThanOrEqual(15);
    // Every event row belongs to a tenant that exists, and each tenant's ledger names only its own documents.
    for (const tenant of tenants) {
      const foreign = await count(
        "select count(*) as n from usage_events e where e.tenant_id = $1 and e.idempotency_key like 'documents.create:%' and exists (select 1 from documents d where d.id::text = substr(e.idempotency_key, 18) and d.tenant_id <> $1)",
        [tenant.id],
      );
      expect(foreign).toBe(0);
    }
  });

  it('GET /usage: admins see the billing period against the limits; members are refused (403 INSUFFICIENT_ROLE)', async () => {
    const tenant = await t.createTenant('usage-read');
    await setPlan(tenant, 'free');
    expectStatus(await createDocument(tenant), 201);
    const second = await createDocument(tenant);
    expectStatus(await t.request('DELETE', `/documents/${second.body.id}`, { tenant: tenant.slug }), 204);
    const usage = await t.request('GET', '/usage', { tenant: tenant.slug });
    expectStatus(usage, 200);
    const period = billingPeriodOf(new Date());
    expect(usage.body.period).toEqual({ id: period.id, start: period.start.toISOString(), end: period.end.toISOString() });
    expect(usage.body.plan).toBe('free');
    expect(usage.body.metrics.documents).toEqual({ value: 1, limit: 1000, added: 2, removed: 1 });
    expect(usage.body.metrics.members).toMatchObject({ value: 1, limit: 5 });
    expect(usage.body.metrics.requests).toMatchObject({ limit: null });

    const member = await addMember(t, tenant.slug, 'member');
    expectStatus(await t.request('GET', '/usage', { tenant: tenant.slug, auth: member.token }), 403, 'INSUFFICIENT_ROLE');
    // GET /plan (any member) carries the current use beside the limits.
    const plan = await t.request('GET', '/plan', { tenant: tenant.slug, auth: member.token });
    expectStatus(plan, 200);
    expect(plan.body).toMatchObject({ plan: 'free', limits: { documents: 1000 }, usage: { documents: 1, members: 2, storage_bytes: 0, api_keys: 0 } });
  });

  it('counts requests in memory and writes them per interval with instance + interval keys; a flush retried counts once', async () => {
    const tenant = await t.createTenant('usage-requests');
    const requests = t.app.get(RequestUsage);
    await requests.flush(); // what creating the tenant counted (its owner's sign-in) is written first
    const before = (await counters(tenant.id)).requests ?? 0;
    for (let i = 0; i < 7; i++) expectStatus(await t.request('GET', '/documents', { tenant: tenant.slug }), 200);
    expect((await counters(tenant.id)).requests ?? 0).toBe(before); // nothing written on the request path
    await requests.flush();
    const { rows } = await sql.query(
      "select delta, idempotency_key from usage_events where tenant_id = $1 and metric = 'requests' and reason = 'requests' order by occurred_at desc, idempotency_key desc limit 1",
      [tenant.id],
    );
    expect(Number(rows[0].delta)).toBe(7);
    expect(rows[0].idempotency_key).toMatch(new RegExp(`^requests:${requests.instanceId}:\\d+$`));
    expect((await counters(tenant.id)).requests).toBe(before + 7);
    // The same batch recorded again (a retry after a lost answer) counts nothing.
    const again = await t.app.get(TenantResolver).runForTenant(tenant.id, () =>
      t.app.get(UsageLedger).record({ metric: 'requests', delta: 7, reason: 'requests', key: rows[0].idempotency_key }, t.app.get(TenantDb)),
    );
    expect(again).toBe(false);
    expect((await counters(tenant.id)).requests).toBe(before + 7);
    await requests.flush();
    expect((await counters(tenant.id)).requests).toBe(before + 7);
  });

  it('GET /usage/export: every tenant for a period as JSON or CSV (platform admin only); bad period or format is 400', async () => {
    const tenant = await t.createTenant('usage-export', { name: 'Export, "Inc"' });
    const service = t.app.get(DocumentsService);
    await t.app.get(TenantResolver).runForTenant(tenant.id, () => service.create({ title: 'x', body: '', tags: [] }));
    const period = billingPeriodOf(new Date()).id;

    const json = await t.request('GET', `/usage/export?period=${period}&format=json`, { admin: true });
    expectStatus(json, 200);
    const own = json.body.rows.filter((r: { tenant_id: string }) => r.tenant_id === tenant.id);
    expect(own.map((r: { metric: string }) => r.metric).sort()).toEqual(['api_keys', 'documents', 'members', 'requests', 'storage_bytes']);
    expect(own.find((r: { metric: string }) => r.metric === 'documents')).toMatchObject({ period, tenant_slug: 'usage-export', plan: 'enterprise', opening: 0, added: 1, removed: 0, closing: 1, limit: null });

    const csv = await t.request('GET', `/usage/export?period=${period}&format=csv`, { admin: true });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = (csv.body as string).split('\r\n');
    expect(lines[0]).toBe('period,tenant_id,tenant_slug,plan,metric,opening,added,removed,closing,limit');
    expect(lines).toContain(`${period},${tenant.id},usage-export,enterprise,documents,0,1,0,1,`);
    expect(lines.length - 2).toBe(json.body.rows.length); // header + rows + the final CRLF

    // An earlier period: nothing added yet, opening = closing = 0 for a tenant created now.
    const old = await t.request('GET', '/usage/export?period=2020-01', { admin: true });
    expect(old.body.rows.find((r: { tenant_id: string; metric: string }) => r.tenant_id === tenant.id && r.metric === 'documents')).toMatchObject({ opening: 0, added: 0, closing: 0 });

    for (const bad of ['period=2026-13', 'period=26-01', 'period=2026-01&format=xml', 'format=csv']) {
      expectStatus(await t.request('GET', `/usage/export?${bad}`, { admin: true }), 400, 'VALIDATION_FAILED');
    }
    // A tenant owner's token is not the platform admin key.
    expect([401, 403]).toContain((await t.request('GET', `/usage/export?period=${period}`, { tenant: tenant.slug })).status);
  });

  it('escapes CSV fields (quotes, commas, newlines) and neutralises formulas', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('=HYPERLINK("x")')).toBe('"\'=HYPERLINK(""x"")"');
    expect(csvField(42)).toBe('42');
    expect(csvField(null)).toBe('');
  });
});
