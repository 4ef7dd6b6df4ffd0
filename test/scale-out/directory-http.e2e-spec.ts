import pg from 'pg';
import { withClient } from '../helpers/pg-client';
import { parsePrometheusText, valueOf } from '../helpers/prometheus-text';
import { startTestApp, TestApp } from '../helpers/test-app';
import { TEST_OWNER_PASSWORD } from '../helpers/test-env';
import { DedicatedDatabase, dedicatedDatabase } from './dedicated-helpers';

/**
 * The tenant directory through the API: placement at creation, a user who belongs to tenants on
 * both databases, and a stale directory entry answered with 503 TENANT_MOVING.
 */
describe('tenant directory over HTTP', () => {
  let dedicated: DedicatedDatabase;
  /** Registered, never used: only its share of the pool budget counts. */
  let unused: DedicatedDatabase;
  let t: TestApp;
  let onShared: { id: string; slug: string };
  let onBig1: { id: string; slug: string };

  beforeAll(async () => {
    dedicated = dedicatedDatabase('http');
    unused = dedicatedDatabase('httpunused');
    // A budget of 16 beside the shared pool's 10: two registered databases get pools of 3, not DB_POOL_SIZE_PER_DATABASE's 5.
    t = await startTestApp({ TENANT_DATABASES: JSON.stringify({ big1: dedicated.settings, big2: unused.settings }), DB_POOL_BUDGET: '16' });
    onShared = await t.createTenant('dir-shared');
    onBig1 = await t.createTenant('dir-big1', { database: 'big1' });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await dedicated?.drop();
    await unused?.drop();
  });

  it('sizes each dedicated pool so that every registered database fits the budget, and serves through it', async () => {
    const scraped = parsePrometheusText((await t.request<string>('GET', '/metrics', { admin: true })).body);
    expect(valueOf(scraped, 'db_pools_budget_connections')).toBe(16);
    expect(valueOf(scraped, 'db_pools_per_database_max_connections')).toBe(3);
    // Positive control: the tenant on big1 is served through its (smaller) pool.
    const listed = await t.request('GET', '/documents', { tenant: onBig1.slug });
    expect(listed.status).toBe(200);
  });

  it('places a tenant on a registered database, refuses an unregistered one with 400 naming the field', async () => {
    const shown = await t.request('GET', `/tenants/${onBig1.id}`, { admin: true });
    expect(shown.status).toBe(200);
    expect(shown.body.database).toBe('big1');
    expect((await t.request('GET', `/tenants/${onShared.id}`, { admin: true })).body.database).toBe('shared');

    const refused = await t.request('POST', '/tenants', { admin: true, body: { slug: 'dir-nowhere', name: 'N', database: 'nowhere' } });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('VALIDATION_FAILED');
    expect(JSON.stringify(refused.body.error.details)).toContain('database');
    expect((await t.request('GET', '/tenants/dir-nowhere', { admin: true })).status).toBe(404);
  });

  it("the owner's documents live on the dedicated database, and GET /me lists tenants on both databases", async () => {
    const created = await t.request('POST', '/documents', { tenant: onBig1.slug, body: { title: 'on big1', body: '', tags: [] } });
    expect(created.status).toBe(201);
    const titles = await withClient(dedicated.superuserUrl, async (client) => (await client.query('select title from documents where tenant_id = $1', [onBig1.id])).rows);
    expect(titles).toEqual([{ title: 'on big1' }]);

    // The shared tenant's owner is invited to the dedicated tenant and accepts with their password.
    const invited = await t.request('POST', '/members', { tenant: onBig1.slug, body: { email: `owner@${onShared.slug}.test`, role: 'member' } });
    expect(invited.status).toBe(201);
    const accepted = await t.request('POST', '/auth/accept-invitation', { tenant: onBig1.slug, auth: false, body: { token: invited.body.invitation.token, password: TEST_OWNER_PASSWORD } });
    expect(accepted.status).toBe(200);

    const me = await t.request('GET', '/me', { tenant: onShared.slug });
    expect(me.status).toBe(200);
    expect(me.body.tenants.map((x: { slug: string; role: string }) => [x.slug, x.role])).toEqual([
      [onBig1.slug, 'member'],
      [onShared.slug, 'owner'],
    ]);
    const switched = await t.request('POST', '/auth/switch-tenant', { tenant: onShared.slug, body: { tenant: onBig1.slug } });
    expect(switched.status).toBe(200);
    const asMember = await t.request('GET', '/documents', { tenant: onBig1.slug, auth: switched.body.accessToken });
    expect(asMember.status).toBe(200);
    expect(asMember.body.items.map((d: { title: string }) => d.title)).toEqual(['on big1']);
  });

  it('a tenant whose dedicated database no longer holds it is answered 503 TENANT_MOVING with Retry-After, never served', async () => {
    expect((await t.request('GET', '/documents', { tenant: onBig1.slug })).status).toBe(200); // positive control
    const client = new pg.Client({ connectionString: dedicated.superuserUrl });
    await client.connect();
    try {
      // What a move does on its source when it switches: the anchor says the tenant is elsewhere now.
      await client.query(`update tenants set database = 'big2' where id = $1`, [onBig1.id]);
      const refused = await t.request('GET', '/documents', { tenant: onBig1.slug });
      expect(refused.status).toBe(503);
      expect(refused.body.error.code).toBe('TENANT_MOVING');
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(JSON.stringify(refused.body)).not.toMatch(/big1|big2|tenancy_set|TA421/);
      await client.query(`update tenants set database = 'big1' where id = $1`, [onBig1.id]);
      expect((await t.request('GET', '/documents', { tenant: onBig1.slug })).status).toBe(200);
    } finally {
      await client.end();
    }
  });
});
