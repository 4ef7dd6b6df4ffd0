import { Controller, Get, Module } from '@nestjs/common';
import { AddressInfo } from 'node:net';
import { createApp } from '../../src/app.factory';
import { Can } from '../../src/access/can.decorator';
import { TenantRoute } from '../../src/access/route-access.decorator';
import { startTestApp, TestApp } from '../helpers/test-app';
import { TEST_OWNER_PASSWORD } from '../helpers/test-env';
import { acceptInvitation, createApiKey, expectStatus, invite, stable } from './identity-fixtures';

@TenantRoute()
@Controller('probe')
class ProbeController {
  @Get('declared')
  @Can('documents:read')
  declared() {
    return { ok: true };
  }

  /** A tenant route whose author forgot @Can. */
  @Get('undeclared')
  undeclared() {
    return { ok: true };
  }
}

@Module({ controllers: [ProbeController] })
class ProbeModule {}

/**
 * Level one of authorization: may this credential act in the tenant the
 * request names at all. A credential of tenant A never reaches tenant B's
 * data, and the refusal looks the same whether B exists or not.
 */
describe('cross-tenant credentials and the order of checks', () => {
  let t: TestApp;
  let alpha: { id: string; slug: string };
  let bravo: { id: string; slug: string };
  let charlie: { id: string; slug: string };
  let alphaKey: string;
  let alphaDoc: string;
  let bravoDoc: string;
  const UNKNOWN_ID = '6f1c2b1e-1111-4222-8333-444455556666';

  beforeAll(async () => {
    t = await startTestApp();
    alpha = await t.createTenant('ct-alpha');
    bravo = await t.createTenant('ct-bravo');
    charlie = await t.createTenant('ct-charlie');
    alphaKey = (await createApiKey(t, alpha.slug, 'admin')).key;
    alphaDoc = (await t.request('POST', '/documents', { tenant: alpha.slug, body: { title: 'alpha plan' } })).body.id;
    bravoDoc = (await t.request('POST', '/documents', { tenant: bravo.slug, body: { title: 'bravo plan' } })).body.id;
  });
  afterAll(() => t?.close());

  const alphaJwt = () => t.tokenFor(alpha.slug)!;

  describe.each([
    ['JWT', () => alphaJwt()],
    ['API key', () => alphaKey],
  ])("tenant alpha's %s", (_kind, credential) => {
    it('works for alpha, by header (slug or id) and by subdomain (positive control)', async () => {
      for (const options of [{ tenant: alpha.slug }, { tenant: alpha.id }, { host: `${alpha.slug}.example.test` }]) {
        const response = await t.request('GET', '/documents', { ...options, auth: credential() });
        expectStatus(response, 200);
        expect(response.body.items.map((d: any) => d.id)).toEqual([alphaDoc]);
      }
    });

    it("is refused with 403 for bravo, by slug, by id and on bravo's subdomain", async () => {
      for (const options of [{ tenant: bravo.slug }, { tenant: bravo.id }, { host: `${bravo.slug}.example.test` }]) {
        expectStatus(await t.request('GET', '/documents', { ...options, auth: credential() }), 403, 'TENANT_ACCESS_DENIED');
        expectStatus(await t.request('GET', `/documents/${bravoDoc}`, { ...options, auth: credential() }), 403, 'TENANT_ACCESS_DENIED');
        expectStatus(await t.request('POST', '/documents', { ...options, auth: credential(), body: { title: 'x' } }), 403, 'TENANT_ACCESS_DENIED');
      }
    });

    it('answers with the same body whether the named tenant exists or not', async () => {
      const existing = await t.request('GET', '/documents', { tenant: bravo.slug, auth: credential() });
      for (const options of [{ tenant: 'ct-nobody' }, { tenant: UNKNOWN_ID }, { host: 'ct-nobody.example.test' }, { tenant: bravo.id }]) {
        const response = await t.request('GET', '/documents', { ...options, auth: credential() });
        expect(response.status).toBe(403);
        expect(stable(response.body)).toEqual(stable(existing.body));
      }
    });
  });

  it('nothing written with a refused credential reached bravo', async () => {
    const bravoDocs = await t.request('GET', '/documents', { tenant: bravo.slug });
    expect(bravoDocs.body.items.map((d: any) => d.title)).toEqual(['bravo plan']);
  });

  describe('a user in two tenants', () => {
    let bravoToken: string;

    beforeAll(async () => {
      // bravo's owner invites alpha's owner (an existing account); it joins when its holder accepts with its own password.
      const { token } = await invite(t, bravo.slug, `owner@${alpha.slug}.test`, 'member');
      expectStatus(await acceptInvitation(t, bravo.slug, token, TEST_OWNER_PASSWORD), 200);
      const session = await t.login(bravo.slug, `owner@${alpha.slug}.test`, TEST_OWNER_PASSWORD);
      expectStatus(session, 200);
      expect(session.body.role).toBe('member');
      bravoToken = session.body.accessToken;
    });

    it("gets each tenant's data only with that tenant's token", async () => {
      const inAlpha = await t.request('GET', '/documents', { tenant: alpha.slug, auth: alphaJwt() });
      const inBravo = await t.request('GET', '/documents', { tenant: bravo.slug, auth: bravoToken });
      expect(inAlpha.body.items.map((d: any) => d.id)).toEqual([alphaDoc]);
      expect(inBravo.body.items.map((d: any) => d.id)).toEqual([bravoDoc]);
      expectStatus(await t.request('GET', '/documents', { tenant: bravo.slug, auth: alphaJwt() }), 403, 'TENANT_ACCESS_DENIED');
      expectStatus(await t.request('GET', '/documents', { tenant: alpha.slug, auth: bravoToken }), 403, 'TENANT_ACCESS_DENIED');
    });

    it('sees both tenants, with each role, in GET /me', async () => {
      const me = await t.request('GET', '/me', { tenant: alpha.slug, auth: alphaJwt() });
      expectStatus(me, 200);
      expect(me.body).toMatchObject({ type: 'user', user: { email: `owner@${alpha.slug}.test` }, tenant: { id: alpha.id, slug: alpha.slug }, role: 'owner' });
      expect(me.body.tenants.map((x: any) => [x.slug, x.role])).toEqual([
        [alpha.slug, 'owner'],
        [bravo.slug, 'member'],
      ]);
      expect(JSON.stringify(me.body)).not.toContain(charlie.slug);
    });

    it('switches to bravo without the password, and only to a tenant it belongs to', async () => {
      const switched = await t.request('POST', '/auth/switch-tenant', { tenant: alpha.slug, auth: alphaJwt(), body: { tenant: bravo.slug } });
      expectStatus(switched, 200);
      expect(switched.body).toMatchObject({ tokenType: 'Bearer', tenant: { id: bravo.id }, role: 'member' });
      const viaSwitch = await t.request('GET', '/documents', { tenant: bravo.id, auth: switched.body.accessToken });
      expect(viaSwitch.body.items.map((d: any) => d.id)).toEqual([bravoDoc]);
      // The new token is for bravo only.
      expectStatus(await t.request('GET', '/documents', { tenant: alpha.slug, auth: switched.body.accessToken }), 403, 'TENANT_ACCESS_DENIED');

      const notMember = await t.request('POST', '/auth/switch-tenant', { tenant: alpha.slug, auth: alphaJwt(), body: { tenant: charlie.slug } });
      const noSuchTenant = await t.request('POST', '/auth/switch-tenant', { tenant: alpha.slug, auth: alphaJwt(), body: { tenant: 'ct-nobody' } });
      expectStatus(notMember, 403, 'TENANT_ACCESS_DENIED');
      expect(stable(noSuchTenant.body)).toEqual(stable(notMember.body));
      // An API key is not a user session: it cannot switch.
      expectStatus(await t.request('POST', '/auth/switch-tenant', { tenant: alpha.slug, auth: alphaKey, body: { tenant: bravo.slug } }), 403, 'FORBIDDEN');
    });
  });

  describe('order of checks', () => {
    it('without a credential: 404 unknown, 403 suspended, 401 otherwise', async () => {
      const sleepy = await t.createTenant('ct-sleepy');
      expectStatus(await t.request('GET', '/documents', { tenant: 'ct-nobody', auth: false }), 404, 'TENANT_NOT_FOUND');
      expectStatus(await t.request('GET', '/documents', { tenant: alpha.slug, auth: false }), 401, 'UNAUTHENTICATED');
      expectStatus(await t.request('PATCH', `/tenants/${sleepy.id}`, { admin: true, body: { status: 'suspended' } }), 200);
      expectStatus(await t.request('GET', '/documents', { tenant: sleepy.slug, auth: false }), 403, 'TENANT_SUSPENDED');
      const challenge = await t.request('GET', '/documents', { tenant: alpha.slug, auth: false });
      expect(challenge.headers.get('www-authenticate')).toBe('Bearer realm="tenancy-api"');
    });

    it('400 for what the request names comes before anything about the credential', async () => {
      expectStatus(await t.request('GET', '/documents', { auth: alphaJwt() }), 400, 'TENANT_REQUIRED');
      expectStatus(await t.request('GET', '/documents', { tenant: 'Not Valid', auth: alphaJwt() }), 400, 'TENANT_HEADER_INVALID');
      expectStatus(await t.request('GET', '/documents', { tenant: 'Not Valid', auth: 'garbage' }), 400, 'TENANT_HEADER_INVALID');
      expectStatus(await t.request('GET', '/documents', { tenant: alpha.slug, host: `${bravo.slug}.example.test`, auth: alphaJwt() }), 400, 'TENANT_AMBIGUOUS');
      expectStatus(await t.request('GET', '/documents', { tenant: alpha.id, host: `${bravo.slug}.example.test`, auth: alphaJwt() }), 400, 'TENANT_AMBIGUOUS');
      // Positive control: header and subdomain agreeing.
      expectStatus(await t.request('GET', '/documents', { tenant: alpha.id, host: `${alpha.slug}.example.test`, auth: alphaJwt() }), 200);
    });

    it('an invalid credential is 401 whether the named tenant exists or not', async () => {
      for (const tenant of [alpha.slug, 'ct-nobody', UNKNOWN_ID]) {
        expectStatus(await t.request('GET', '/documents', { tenant, auth: 'not-a-token' }), 401, 'UNAUTHENTICATED');
        expectStatus(await t.request('GET', '/documents', { tenant, auth: `${alphaKey.slice(0, -4)}AAAA` }), 401, 'UNAUTHENTICATED');
      }
    });

    it('a tenant route that declares no @Can action is refused for every credential (fail closed)', async () => {
      const app = await createApp(t.env, { imports: [ProbeModule] });
      await app.listen(0, '127.0.0.1');
      const baseUrl = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
      try {
        expectStatus(await t.request('GET', '/probe/declared', { baseUrl, tenant: alpha.slug }), 200);
        expectStatus(await t.request('GET', '/probe/undeclared', { baseUrl, tenant: alpha.slug }), 403, 'FORBIDDEN');
        expectStatus(await t.request('GET', '/probe/undeclared', { baseUrl, tenant: alpha.slug, auth: alphaKey }), 403, 'FORBIDDEN');
      } finally {
        await app.close();
      }
    });

    it('the platform admin key is not a tenant credential', async () => {
      expectStatus(await t.request('GET', '/documents', { tenant: alpha.slug, admin: true }), 401, 'UNAUTHENTICATED');
    });
  });

  describe('platform admin routes', () => {
    it('accept only the platform admin key: no tenant JWT or API key of any role', async () => {
      expectStatus(await t.request('GET', '/tenants', { admin: true }), 200);
      const ownerKey = (await createApiKey(t, alpha.slug, 'owner')).key;
      for (const auth of [alphaJwt(), alphaKey, ownerKey]) {
        for (const [method, path, body] of [
          ['GET', '/tenants'],
          ['GET', `/tenants/${alpha.id}`],
          ['POST', '/tenants', { slug: 'ct-sneaky', name: 'Sneaky' }],
          ['PATCH', `/tenants/${bravo.id}`, { status: 'suspended' }],
        ] as const) {
          expectStatus(await t.request(method, path, { auth, tenant: alpha.slug, body }), 401, 'UNAUTHENTICATED');
        }
      }
      expect((await t.request('GET', `/tenants/${bravo.id}`, { admin: true })).body.status).toBe('active');
      expectStatus(await t.request('GET', '/tenants/ct-sneaky', { admin: true }), 404);
    });
  });
});
