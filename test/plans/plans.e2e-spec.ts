import { INestApplication } from '@nestjs/common';
import { startOtherInstance, startTestApp, TestApp } from '../helpers/test-app';
import { addMember, createApiKey, expectStatus } from '../identity/identity-fixtures';

const UNLIMITED = { documents: null, storage_bytes: null, members: null, api_keys: null, requests_per_minute: null };

/**
 * Plans as data (README "Plans"): a tenant's plan and overrides decide its
 * features (403 FEATURE_NOT_IN_PLAN) and limits, tenants read their own, the
 * platform admin changes them, and a change bites at once on every instance
 * sharing Redis. Two instances on one database and one Redis: B is warmed
 * first (its cached lookup holds the old plan) so "at once" is really tested.
 */
describe('plans, features and overrides', () => {
  let t: TestApp;
  let other: INestApplication;
  let b: string;

  beforeAll(async () => {
    t = await startTestApp({ REDIS_URL: process.env.TEST_REDIS_URL!, TENANT_CACHE_TTL_MS: '60000' });
    ({ app: other, baseUrl: b } = await startOtherInstance(t));
  });
  afterAll(async () => {
    await other?.close();
    await t?.close();
  });

  it('seeds free, pro and enterprise; a new tenant without a plan is on free (1,000 requests per minute)', async () => {
    const plans = await t.request('GET', '/plans', { admin: true });
    expectStatus(plans, 200);
    expect(plans.body.items.map((p: { id: string }) => p.id)).toEqual(['enterprise', 'free', 'pro']);
    const free = plans.body.items.find((p: { id: string }) => p.id === 'free');
    expect(free).toMatchObject({ features: [], limits: { requests_per_minute: 1000, api_keys: 0 } });

    const tenant = await t.createTenant('plan-default', { plan: undefined });
    const own = await t.request('GET', '/plan', { tenant: tenant.slug });
    expectStatus(own, 200);
    expect(own.body).toEqual({ plan: 'free', features: [], limits: free.limits, usage: { documents: 0, storage_bytes: 0, members: 1, api_keys: 0, requests: 0 } });
  });

  it('any member reads their own tenant plan, never another tenant one', async () => {
    const pro = await t.createTenant('plan-reader', { plan: 'pro' });
    const ent = await t.createTenant('plan-other');
    const viewer = await addMember(t, pro.slug, 'viewer');
    const read = await t.request('GET', '/plan', { tenant: pro.slug, auth: viewer.token });
    expectStatus(read, 200);
    expect(read.body).toMatchObject({ plan: 'pro', features: ['attachments', 'api_keys'] });
    // The viewer's token is for pro only: naming the other tenant is refused, not answered with its plan.
    expectStatus(await t.request('GET', '/plan', { tenant: ent.slug, auth: viewer.token }), 403, 'TENANT_ACCESS_DENIED');
    expect((await t.request('GET', '/plan', { tenant: ent.slug })).body.plan).toBe('enterprise');
  });

  it('gates API keys and attachments on the free plan with 403 FEATURE_NOT_IN_PLAN (pro: allowed)', async () => {
    const free = await t.createTenant('plan-free-gates', { plan: 'free' });
    const pro = await t.createTenant('plan-pro-gates', { plan: 'pro' });
    for (const tenant of [free, pro]) {
      const doc = await t.request('POST', '/documents', { tenant: tenant.slug, body: { title: 'has files?' } });
      expectStatus(doc, 201); // documents are in every plan
      const keys = await t.request('POST', '/api-keys', { tenant: tenant.slug, body: { name: 'ci', role: 'member' } });
      const upload = await t.request('POST', `/documents/${doc.body.id}/attachments?filename=a.txt`, {
        tenant: tenant.slug,
        rawBody: 'hello',
        headers: { 'content-type': 'text/plain' },
      });
      if (tenant === free) {
        expectStatus(keys, 403, 'FEATURE_NOT_IN_PLAN');
        expect(keys.body.error.details).toEqual([{ path: 'feature', message: 'api_keys' }]);
        expectStatus(upload, 403, 'FEATURE_NOT_IN_PLAN');
      } else {
        expectStatus(keys, 201);
        expectStatus(upload, 201);
      }
    }
  });

  it('a per-tenant override turns a feature on (and off) at once on every instance sharing Redis', async () => {
    const tenant = await t.createTenant('plan-override', { plan: 'free' });
    const doc = (await t.request('POST', '/documents', { tenant: tenant.slug, body: { title: 'override' } })).body;
    const upload = (baseUrl?: string) =>
      t.request('POST', `/documents/${doc.id}/attachments?filename=o.txt`, { tenant: tenant.slug, rawBody: 'x', headers: { 'content-type': 'text/plain' }, baseUrl });
    expectStatus(await upload(b), 403, 'FEATURE_NOT_IN_PLAN'); // B now caches the tenant on free

    const set = await t.request('PUT', `/tenants/${tenant.id}/plan`, { admin: true, body: { plan: 'free', overrides: { features: { attachments: true }, limits: { documents: 5 } } } });
    expectStatus(set, 200);
    expect(set.body).toMatchObject({ plan: 'free', planOverrides: { features: { attachments: true }, limits: { documents: 5 } } });
    expectStatus(await upload(b), 201);
    expect((await t.request('GET', '/plan', { tenant: tenant.slug, baseUrl: b })).body).toMatchObject({ features: ['attachments'], limits: { documents: 5 } });

    // {} clears the overrides: back to the plan as defined.
    expectStatus(await t.request('PUT', `/tenants/${tenant.slug}/plan`, { admin: true, body: { plan: 'free', overrides: {} } }), 200);
    expectStatus(await upload(b), 403, 'FEATURE_NOT_IN_PLAN');
    expect((await t.request('GET', '/plan', { tenant: tenant.slug, baseUrl: b })).body.limits.documents).toBe(1000);
  });

  it('a downgrade turns existing API keys off (403), an upgrade back on', async () => {
    const tenant = await t.createTenant('plan-downgrade', { plan: 'pro' });
    const key = await createApiKey(t, tenant.slug, 'member');
    expectStatus(await t.request('GET', '/documents', { tenant: tenant.slug, auth: key.key, baseUrl: b }), 200);

    expectStatus(await t.request('PUT', `/tenants/${tenant.id}/plan`, { admin: true, body: { plan: 'free' } }), 200);
    expectStatus(await t.request('GET', '/documents', { tenant: tenant.slug, auth: key.key, baseUrl: b }), 403, 'FEATURE_NOT_IN_PLAN');
    // The owner's session is not an API key: the tenant keeps working on free.
    expectStatus(await t.request('GET', '/documents', { tenant: tenant.slug, baseUrl: b }), 200);

    expectStatus(await t.request('PUT', `/tenants/${tenant.id}/plan`, { admin: true, body: { plan: 'pro' } }), 200);
    expectStatus(await t.request('GET', '/documents', { tenant: tenant.slug, auth: key.key, baseUrl: b }), 200);
  });

  it('editing a plan reaches its tenants at once; creating one answers 201, replacing 200', async () => {
    const tenant = await t.createTenant('plan-edited', { plan: 'starter' }).catch((error: Error) => error);
    expect(tenant).toBeInstanceOf(Error); // no such plan yet: 400 (below)

    const created = await t.request('PUT', '/plans/starter', { admin: true, body: { name: 'Starter', features: ['attachments'], limits: { ...UNLIMITED, requests_per_minute: 100 } } });
    expectStatus(created, 201);
    expect(created.body).toMatchObject({ id: 'starter', name: 'Starter', features: ['attachments'], limits: { requests_per_minute: 100, documents: null } });
    const starter = await t.createTenant('plan-edited', { plan: 'starter' });
    expect((await t.request('GET', '/plan', { tenant: starter.slug, baseUrl: b })).body.features).toEqual(['attachments']); // B caches it

    const replaced = await t.request('PUT', '/plans/starter', { admin: true, body: { name: 'Starter', features: ['attachments', 'api_keys'], limits: { ...UNLIMITED, requests_per_minute: 200 } } });
    expectStatus(replaced, 200);
    const seen = (await t.request('GET', '/plan', { tenant: starter.slug, baseUrl: b })).body;
    expect(seen).toMatchObject({ plan: 'starter', features: ['attachments', 'api_keys'], limits: { ...UNLIMITED, requests_per_minute: 200 } });
  });

  it('refuses bad plans and overrides with 400, unknown plans with 400/404, and non-admins with 401', async () => {
    const tenant = await t.createTenant('plan-bad-input');
    const cases: Array<[string, string, unknown]> = [
      ['PUT', `/tenants/${tenant.id}/plan`, { plan: 'no-such-plan' }],
      ['PUT', `/tenants/${tenant.id}/plan`, { plan: 'free', overrides: { features: { teleport: true } } }],
      ['PUT', `/tenants/${tenant.id}/plan`, { plan: 'free', overrides: { limits: { documents: -1 } } }],
      ['PUT', `/tenants/${tenant.id}/plan`, { plan: 'free', overrides: { limits: { documents: 1.5 } } }],
      ['PATCH', `/tenants/${tenant.id}`, { plan: 'no-such-plan' }],
      ['POST', '/tenants', { slug: 'plan-bad-create', name: 'x', plan: 'no-such-plan' }],
      ['PUT', '/plans/Bad_Id', { name: 'x', features: [], limits: UNLIMITED }],
      ['PUT', '/plans/partial', { name: 'x', features: [], limits: { documents: 1 } }],
      ['PUT', '/plans/feature', { name: 'x', features: ['teleport'], limits: UNLIMITED }],
    ];
    for (const [method, path, body] of cases) expectStatus(await t.request(method, path, { admin: true, body }), 400, 'VALIDATION_FAILED');
    expectStatus(await t.request('GET', '/plans/no-such-plan', { admin: true }), 404, 'NOT_FOUND');
    expectStatus(await t.request('GET', '/plans', { tenant: tenant.slug }), 401);
    expectStatus(await t.request('PUT', `/tenants/${tenant.id}/plan`, { tenant: tenant.slug, body: { plan: 'enterprise' } }), 401);
    // Positive control: the same admin request with a valid body goes through, and nothing above changed the tenant.
    expect((await t.request('GET', `/tenants/${tenant.id}`, { admin: true })).body.plan).toBe('enterprise');
    expectStatus(await t.request('PUT', `/tenants/${tenant.id}/plan`, { admin: true, body: { plan: 'pro' } }), 200);
  });
});
