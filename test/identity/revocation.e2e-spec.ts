import { startTestApp, TestApp } from '../helpers/test-app';
import { addMember, createApiKey, expectStatus, MEMBER_PASSWORD } from './identity-fixtures';

/** Revocation takes effect on the very next request: nothing is trusted from a token but who and which tenant. */
describe('revocation, suspension and the last owner', () => {
  let t: TestApp;
  const TENANT = 'revoke';

  beforeAll(async () => {
    t = await startTestApp();
    await t.createTenant(TENANT);
  });
  afterAll(() => t?.close());

  const as = (auth: string, method: string, path: string, body?: unknown) => t.request(method, path, { tenant: TENANT, auth, body });

  it("a removed member's still-valid JWT gets 403 on the next request", async () => {
    const member = await addMember(t, TENANT, 'member');
    expectStatus(await as(member.token, 'GET', '/documents'), 200);
    expectStatus(await t.request('DELETE', `/members/${member.userId}`, { tenant: TENANT }), 204);
    expectStatus(await as(member.token, 'GET', '/documents'), 403, 'TENANT_ACCESS_DENIED');
    expectStatus(await as(member.token, 'GET', '/me'), 403, 'TENANT_ACCESS_DENIED');
    // And they cannot sign in again: same answer as a wrong password.
    expectStatus(await t.login(TENANT, member.email, MEMBER_PASSWORD), 401, 'INVALID_CREDENTIALS');
  });

  it('a role change applies to the next request of an existing token', async () => {
    const member = await addMember(t, TENANT, 'member');
    expectStatus(await as(member.token, 'POST', '/documents', { title: 'before' }), 201);
    expectStatus(await t.request('PATCH', `/members/${member.userId}`, { tenant: TENANT, body: { role: 'viewer' } }), 200);
    expectStatus(await as(member.token, 'POST', '/documents', { title: 'after' }), 403, 'INSUFFICIENT_ROLE');
    expectStatus(await as(member.token, 'GET', '/documents'), 200);
    expect((await as(member.token, 'GET', '/me')).body.role).toBe('viewer');
  });

  it('a revoked API key gets 401 on the next request; the list never shows a secret', async () => {
    const { id, key } = await createApiKey(t, TENANT, 'member', 'ci-bot');
    expectStatus(await as(key, 'GET', '/documents'), 200);
    expectStatus(await t.request('DELETE', `/api-keys/${id}`, { tenant: TENANT }), 204);
    expectStatus(await as(key, 'GET', '/documents'), 401, 'UNAUTHENTICATED');
    const list = await t.request('GET', '/api-keys', { tenant: TENANT });
    const listed = list.body.items.find((k: any) => k.id === id);
    expect(listed).toEqual({
      id,
      name: 'ci-bot',
      role: 'member',
      prefix: key.slice(0, 11),
      createdAt: expect.any(String),
      lastUsedAt: expect.any(String),
      revokedAt: expect.any(String),
    });
    expect(JSON.stringify(list.body)).not.toContain(key.slice(-43));
    // Revoking again is harmless; an unknown key is 404.
    expectStatus(await t.request('DELETE', `/api-keys/${id}`, { tenant: TENANT }), 204);
    expectStatus(await t.request('DELETE', '/api-keys/3b241101-e2bb-4255-8caf-4136c566a962', { tenant: TENANT }), 404);
    // The name is free again for a new key.
    expectStatus(await t.request('POST', '/api-keys', { tenant: TENANT, body: { name: 'ci-bot', role: 'member' } }), 201);
  });

  it('a suspended tenant rejects every credential, and accepts them again when reactivated', async () => {
    const tenant = await t.createTenant('revoke-sleepy');
    const key = (await createApiKey(t, tenant.slug, 'admin')).key;
    const jwt = t.tokenFor(tenant.slug)!;
    for (const auth of [jwt, key]) expectStatus(await t.request('GET', '/documents', { tenant: tenant.slug, auth }), 200);
    expectStatus(await t.request('PATCH', `/tenants/${tenant.id}`, { admin: true, body: { status: 'suspended' } }), 200);
    for (const auth of [jwt, key]) {
      expectStatus(await t.request('GET', '/documents', { tenant: tenant.slug, auth }), 403, 'TENANT_SUSPENDED');
      expectStatus(await t.request('GET', '/me', { tenant: tenant.slug, auth }), 403, 'TENANT_SUSPENDED');
    }
    expectStatus(await t.login(tenant.slug, `owner@${tenant.slug}.test`, 'owner-password-for-tests'), 403, 'TENANT_SUSPENDED');
    expectStatus(await t.request('PATCH', `/tenants/${tenant.id}`, { admin: true, body: { status: 'active' } }), 200);
    for (const auth of [jwt, key]) expectStatus(await t.request('GET', '/documents', { tenant: tenant.slug, auth }), 200);
  });

  describe('the last owner', () => {
    let tenant: { id: string; slug: string };
    let firstOwnerId: string;

    beforeAll(async () => {
      tenant = await t.createTenant('revoke-owners');
      firstOwnerId = (await t.request('GET', '/me', { tenant: tenant.slug })).body.user.id;
    });

    it('cannot be removed or demoted, by themselves either', async () => {
      expectStatus(await t.request('DELETE', `/members/${firstOwnerId}`, { tenant: tenant.slug }), 409, 'LAST_OWNER');
      expectStatus(await t.request('PATCH', `/members/${firstOwnerId}`, { tenant: tenant.slug, body: { role: 'admin' } }), 409, 'LAST_OWNER');
      const owners = (await t.request('GET', '/members', { tenant: tenant.slug })).body.items.filter((m: any) => m.role === 'owner');
      expect(owners.map((m: any) => m.userId)).toEqual([firstOwnerId]);
    });

    it('can be demoted once there is another owner (positive control), which then is the last one', async () => {
      const second = await addMember(t, tenant.slug, 'owner');
      expectStatus(await t.request('PATCH', `/members/${firstOwnerId}`, { tenant: tenant.slug, body: { role: 'admin' } }), 200);
      expectStatus(await t.request('DELETE', `/members/${second.userId}`, { tenant: tenant.slug, auth: second.token }), 409, 'LAST_OWNER');
      // Re-promote the first owner for the next test.
      expectStatus(await t.request('PATCH', `/members/${firstOwnerId}`, { tenant: tenant.slug, auth: second.token, body: { role: 'owner' } }), 200);
    });

    it('two owners stepping down at the same time: exactly one succeeds', async () => {
      const members = (await t.request('GET', '/members', { tenant: tenant.slug })).body.items;
      const owners = members.filter((m: any) => m.role === 'owner');
      expect(owners).toHaveLength(2);
      const secondToken = (await t.login(tenant.slug, owners.find((o: any) => o.userId !== firstOwnerId).email, MEMBER_PASSWORD)).body.accessToken;
      const [a, b] = await Promise.all([
        t.request('PATCH', `/members/${owners[0].userId}`, { tenant: tenant.slug, body: { role: 'admin' } }),
        t.request('PATCH', `/members/${owners[1].userId}`, { tenant: tenant.slug, auth: secondToken, body: { role: 'admin' } }),
      ]);
      const statuses = [a, b].map((r) => `${r.status} ${r.body?.error?.code ?? ''}`.trim()).sort();
      // Each demotes itself; the role checks passed for both (both were owners), the row locks serialise the rest.
      expect(statuses).toEqual(['200', '409 LAST_OWNER']);
      const after = await t.request('GET', '/members', { tenant: tenant.slug });
      expect(after.body.items.filter((m: any) => m.role === 'owner')).toHaveLength(1);
    });
  });
});
