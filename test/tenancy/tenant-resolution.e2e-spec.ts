import http from 'node:http';
import { startTestApp, TestApp } from '../helpers/test-app';

/** How a request names its tenant, and every way that can go wrong. */
describe('tenant resolution', () => {
  let t: TestApp;
  let acme: { id: string; slug: string };
  let globex: { id: string; slug: string };

  beforeAll(async () => {
    t = await startTestApp();
    acme = await t.createTenant('acme');
    globex = await t.createTenant('globex');
  });
  afterAll(() => t?.close());

  const list = (options: Parameters<TestApp['request']>[2]) => t.request('GET', '/documents', options);

  it('accepts the tenant by slug, by id (any case) and by subdomain', async () => {
    for (const options of [
      { tenant: 'acme' },
      { tenant: acme.id },
      { tenant: acme.id.toUpperCase() },
      { host: 'acme.example.test' },
      { host: 'ACME.Example.TEST.:8080' },
      { host: 'acme.example.test', tenant: 'acme' },
      { host: 'acme.example.test', tenant: acme.id },
    ]) {
      const response = await list(options);
      expect({ options, status: response.status }).toEqual({ options, status: 200 });
    }
  });

  it('answers 400 TENANT_REQUIRED when nothing names a tenant, including hosts outside the base domain', async () => {
    // Positive control for the host check just below.
    expect((await list({ host: 'acme.example.test' })).status).toBe(200);
    for (const options of [{}, { host: 'acme.other.test' }, { host: 'example.test' }, { host: 'www.example.test' }, { host: 'a.acme.example.test' }]) {
      const response = await list(options);
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('TENANT_REQUIRED');
    }
  });

  it('answers 400 TENANT_HEADER_INVALID for malformed identifiers and for two values', async () => {
    for (const tenant of ['Acme', 'a', '-acme', 'acme-', 'acme_corp', 'acme, globex', `${acme.id},${globex.id}`, ' ', '../acme']) {
      const response = await list({ tenant });
      expect({ tenant, status: response.status, code: response.body.error?.code }).toEqual({ tenant, status: 400, code: 'TENANT_HEADER_INVALID' });
    }
    // Two separate header lines (Node joins them with ", ").
    const status = await new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = http.request(`${t.baseUrl}/documents`, { headers: { 'x-tenant-id': ['acme', 'acme'] } }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(body) }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(status.status).toBe(400);
    expect(status.body.error.code).toBe('TENANT_HEADER_INVALID');
  });

  it('answers 400 TENANT_AMBIGUOUS when header and subdomain name different tenants', async () => {
    const response = await list({ host: 'acme.example.test', tenant: 'globex' });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('TENANT_AMBIGUOUS');
    const byId = await list({ host: 'acme.example.test', tenant: globex.id });
    expect(byId.body.error.code).toBe('TENANT_AMBIGUOUS');
  });

  it('answers 404 TENANT_NOT_FOUND for an unknown tenant, by slug, id or subdomain', async () => {
    for (const options of [{ tenant: 'initech' }, { tenant: '6f1c2b1e-1111-4222-8333-444455556666' }, { host: 'initech.example.test' }]) {
      const response = await list(options);
      expect({ options, status: response.status, code: response.body.error?.code }).toEqual({ options, status: 404, code: 'TENANT_NOT_FOUND' });
    }
  });

  it('answers 403 TENANT_SUSPENDED at once on the instance that suspended it, and 200 again after reactivation', async () => {
    await t.createTenant('hooli');
    expect((await list({ tenant: 'hooli' })).status).toBe(200);
    expect((await t.request('PATCH', '/tenants/hooli', { admin: true, body: { status: 'suspended' } })).status).toBe(200);
    const suspended = await list({ tenant: 'hooli' });
    expect(suspended.status).toBe(403);
    expect(suspended.body.error.code).toBe('TENANT_SUSPENDED');
    expect((await t.request('PATCH', '/tenants/hooli', { admin: true, body: { status: 'active' } })).status).toBe(200);
    expect((await list({ tenant: 'hooli' })).status).toBe(200);
  });

  it('lets a suspension made elsewhere take effect within the lookup cache TTL', async () => {
    const other = await startTestAppOnSameDatabase(t);
    try {
      await t.createTenant('umbrella');
      // Warm the other instance's cache while the tenant is active.
      expect((await other.request('GET', '/documents', { tenant: 'umbrella' })).status).toBe(200);
      expect((await t.request('PATCH', '/tenants/umbrella', { admin: true, body: { status: 'suspended' } })).status).toBe(200);
      // TENANT_CACHE_TTL_MS is 1000 in tests: after it, the other instance must refuse.
      await new Promise((r) => setTimeout(r, 1100));
      const response = await other.request('GET', '/documents', { tenant: 'umbrella' });
      expect(response.status).toBe(403);
      expect(response.body.error.code).toBe('TENANT_SUSPENDED');
    } finally {
      await other.app.close();
    }
  });

  it('returns one error envelope with a request id that matches the x-request-id header', async () => {
    const response = await list({});
    expect(response.body).toEqual({
      error: { code: 'TENANT_REQUIRED', message: expect.any(String) },
      statusCode: 400,
      requestId: expect.any(String),
      timestamp: expect.any(String),
      path: '/documents',
    });
    expect(response.headers.get('x-request-id')).toBe(response.body.requestId);
    const echoed = await list({ headers: { 'x-request-id': 'trace-abc-123' } });
    expect(echoed.body.requestId).toBe('trace-abc-123');
    const unsafe = await list({ headers: { 'x-request-id': 'bad id with spaces' } });
    expect(unsafe.body.requestId).not.toBe('bad id with spaces');
  });
});

/** A second API instance on the same database, to observe cross-instance cache behaviour. */
async function startTestAppOnSameDatabase(t: TestApp): Promise<Pick<TestApp, 'app' | 'request'>> {
  const { createApp } = await import('../../src/app.factory');
  const app = await createApp(t.env);
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as { port: number }).port;
  const base = `http://127.0.0.1:${port}`;
  return {
    app,
    request: (method, path, options = {}) =>
      t.request(method, path, { ...options, baseUrl: base }),
  };
}
