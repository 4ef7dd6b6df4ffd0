import http from 'node:http';
import { startOtherInstance, startTestApp, TestApp } from '../helpers/test-app';
import { TEST_OWNER_PASSWORD } from '../helpers/test-env';

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
  const { app, baseUrl: base } = await startOtherInstance(t);
  return {
    app,
    request: (method, path, options = {}) =>
      t.request(method, path, { ...options, baseUrl: base }),
  };
}

/**
 * The tenant subdomain behind a reverse proxy: X-Forwarded-Host is read only
 * from proxies TRUST_PROXY trusts (the test client, like a proxy on the same
 * host, connects from 127.0.0.1), and only the entry the outermost trusted
 * proxy wrote; without trust, or from an untrusted address, the Host header
 * decides and a client cannot pick a tenant with it. Both adapters: Fastify's
 * and Express's own request.host disagree on which entry to take.
 */
describe.each(['fastify', 'express'])('tenant subdomain from X-Forwarded-Host (%s)', (adapter) => {
  interface Proxied {
    forwardedHost?: string;
    forwardedFor?: string;
    host?: string;
    tenant?: string;
    /** The token of this tenant (slug) is sent; false: none. */
    as: string | false;
  }
  async function boot(trustProxy?: string) {
    const t = await startTestApp({ HTTP_ADAPTER: adapter, ...(trustProxy === undefined ? {} : { TRUST_PROXY: trustProxy }) });
    await t.createTenant('xfh-acme');
    await t.createTenant('xfh-globex');
    /** GET /me through the "proxy": the status and the tenant the request landed in. */
    const me = async ({ forwardedHost, forwardedFor, host, tenant, as }: Proxied) => {
      const headers: Record<string, string> = {};
      if (forwardedHost !== undefined) headers['x-forwarded-host'] = forwardedHost;
      if (forwardedFor !== undefined) headers['x-forwarded-for'] = forwardedFor;
      const response = await t.request('GET', '/me', { host, tenant, headers, auth: as === false ? false : t.tokenFor(as) });
      return { status: response.status, code: response.body?.error?.code, tenant: response.body?.tenant?.slug };
    };
    return { t, me };
  }
  const landed = (tenant: string) => ({ status: 200, code: undefined, tenant });
  const refused = (status: number, code: string) => ({ status, code, tenant: undefined });

  describe('TRUST_PROXY names the proxies (127.0.0.1 and 10.0.0.0/8)', () => {
    let t: TestApp;
    let me: Awaited<ReturnType<typeof boot>>['me'];
    beforeAll(async () => ({ t, me } = await boot('127.0.0.1, 10.0.0.0/8')));
    afterAll(() => t?.close());

    it('resolves the tenant from X-Forwarded-Host sent by a trusted proxy, whatever Host says', async () => {
      expect(await me({ forwardedHost: 'xfh-acme.example.test', as: 'xfh-acme' })).toEqual(landed('xfh-acme'));
      expect(await me({ forwardedHost: 'XFH-ACME.example.test:8443', as: 'xfh-acme' })).toEqual(landed('xfh-acme'));
      // The proxy's upstream Host (here another tenant's name) is not what the client asked for.
      expect(await me({ forwardedHost: 'xfh-acme.example.test', host: 'xfh-globex.example.test', as: 'xfh-acme' })).toEqual(landed('xfh-acme'));
      expect(await me({ forwardedHost: 'api.example.test', host: 'xfh-acme.example.test', as: 'xfh-acme' })).toEqual(refused(400, 'TENANT_REQUIRED'));
      // Positive control: without X-Forwarded-Host the Host header still works.
      expect(await me({ host: 'xfh-acme.example.test', as: 'xfh-acme' })).toEqual(landed('xfh-acme'));
    });

    it('ignores the entries a client put before the ones trusted proxies appended', async () => {
      // One trusted proxy (the peer): its own entry is the last one.
      expect(await me({ forwardedHost: 'xfh-globex.example.test, xfh-acme.example.test', as: 'xfh-acme' })).toEqual(landed('xfh-acme'));
      expect(await me({ forwardedHost: 'xfh-globex.example.test, xfh-acme.example.test', as: 'xfh-globex' })).toEqual(refused(403, 'TENANT_ACCESS_DENIED'));
      // Two trusted proxies (peer 127.0.0.1, then 10.0.0.5; the client 203.0.113.9 is not trusted):
      // the outer proxy's entry, neither the inner one's (its upstream name) nor the client's.
      const twoHops = { forwardedFor: '203.0.113.9, 10.0.0.5', forwardedHost: 'xfh-globex.example.test, xfh-acme.example.test, backend.internal' };
      expect(await me({ ...twoHops, as: 'xfh-acme' })).toEqual(landed('xfh-acme'));
      // The same chain with the middle address untrusted: one proxy, so the last entry (not a tenant host).
      expect(await me({ ...twoHops, forwardedFor: '203.0.113.9, 198.51.100.5', as: 'xfh-acme' })).toEqual(refused(400, 'TENANT_REQUIRED'));
    });

    it('keeps the header-vs-subdomain rules with the forwarded host', async () => {
      expect(await me({ forwardedHost: 'xfh-acme.example.test', tenant: 'xfh-acme', as: 'xfh-acme' })).toEqual(landed('xfh-acme'));
      expect(await me({ forwardedHost: 'xfh-acme.example.test', tenant: 'xfh-globex', as: 'xfh-acme' })).toEqual(refused(400, 'TENANT_AMBIGUOUS'));
      expect(await me({ forwardedHost: 'xfh-acme.example.test', tenant: 'xfh-globex', as: false })).toEqual(refused(400, 'TENANT_AMBIGUOUS'));
      expect(await me({ forwardedHost: 'xfh-initech.example.test', as: false })).toEqual(refused(404, 'TENANT_NOT_FOUND'));
      expect(await me({ forwardedHost: 'xfh-acme.example.test', as: false })).toEqual(refused(401, 'UNAUTHENTICATED'));
    });

    it('signs in to the tenant the forwarded host names', async () => {
      const login = await t.request('POST', '/auth/login', {
        auth: false,
        headers: { 'x-forwarded-host': 'xfh-acme.example.test' },
        body: { email: 'owner@xfh-acme.test', password: TEST_OWNER_PASSWORD },
      });
      expect({ status: login.status, tenant: login.body.tenant?.slug }).toEqual({ status: 200, tenant: 'xfh-acme' });
    });
  });

  describe('TRUST_PROXY as a hop count (2)', () => {
    let t: TestApp;
    let me: Awaited<ReturnType<typeof boot>>['me'];
    beforeAll(async () => ({ t, me } = await boot('2')));
    afterAll(() => t?.close());

    it('takes the entry of the outermost of the trusted hops', async () => {
      expect(await me({ forwardedHost: 'xfh-acme.example.test', as: 'xfh-acme' })).toEqual(landed('xfh-acme'));
      const twoHops = { forwardedFor: '203.0.113.9, 10.0.0.5', forwardedHost: 'xfh-globex.example.test, xfh-acme.example.test, backend.internal' };
      expect(await me({ ...twoHops, as: 'xfh-acme' })).toEqual(landed('xfh-acme'));
    });
  });

  for (const [title, trustProxy] of [
    ['TRUST_PROXY unset', undefined],
    ['TRUST_PROXY names other addresses (192.0.2.0/24, 10.0.0.1)', '192.0.2.0/24, 10.0.0.1'],
  ] as const) {
    describe(title, () => {
      let t: TestApp;
      let me: Awaited<ReturnType<typeof boot>>['me'];
      beforeAll(async () => ({ t, me } = await boot(trustProxy)));
      afterAll(() => t?.close());

      it('ignores X-Forwarded-Host: the Host header decides, a client cannot pick a tenant with it', async () => {
        expect(await me({ forwardedHost: 'xfh-acme.example.test', as: 'xfh-acme' })).toEqual(refused(400, 'TENANT_REQUIRED'));
        expect(await me({ forwardedHost: 'xfh-acme.example.test', host: 'xfh-globex.example.test', as: 'xfh-acme' })).toEqual(refused(403, 'TENANT_ACCESS_DENIED'));
        expect(await me({ forwardedHost: 'xfh-acme.example.test', host: 'xfh-globex.example.test', as: 'xfh-globex' })).toEqual(landed('xfh-globex'));
        expect(await me({ forwardedHost: 'xfh-acme.example.test', forwardedFor: '10.0.0.1', host: 'xfh-globex.example.test', as: 'xfh-globex' })).toEqual(landed('xfh-globex'));
        // The forwarded host does not make header and subdomain disagree either.
        expect(await me({ forwardedHost: 'xfh-acme.example.test', tenant: 'xfh-globex', as: 'xfh-globex' })).toEqual(landed('xfh-globex'));
        // Positive control: the Host header names the tenant.
        expect(await me({ host: 'xfh-acme.example.test', as: 'xfh-acme' })).toEqual(landed('xfh-acme'));
      });
    });
  }
});
