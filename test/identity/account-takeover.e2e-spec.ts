import { ApiResponse, startTestApp, TestApp } from '../helpers/test-app';
import { TEST_OWNER_PASSWORD } from '../helpers/test-env';
import { acceptInvitation, addMember, expectStatus, invite } from './identity-fixtures';

/**
 * Accounts are global, tenants are not: an admin of one tenant must never be
 * able to choose the credentials of an account, nor make an existing account
 * a member of their tenant, and an account must never join a tenant without
 * its holder's password. The attack this guards against: A's admin creates
 * ceo@bigcorp with a password they chose; later BigCorp's admin adds
 * ceo@bigcorp; the attacker signs in to BigCorp.
 */
describe('a tenant admin cannot create, squat into or link a global account', () => {
  let t: TestApp;
  let acme: { id: string; slug: string };
  let bigcorp: { id: string; slug: string };
  const ATTACKER_PASSWORD = 'attacker-chosen-pw-1';

  beforeAll(async () => {
    // Throttling has its own tests (sign-in.e2e-spec.ts); the refusals here must not run into it.
    t = await startTestApp({ LOGIN_MAX_FAILURES_PER_ACCOUNT: '100', LOGIN_MAX_FAILURES_PER_ADDRESS: '1000' });
    acme = await t.createTenant('takeover-acme');
    bigcorp = await t.createTenant('takeover-bigcorp');
  });
  afterAll(() => t?.close());

  const memberEmails = async (tenant: string) => ((await t.request('GET', '/members', { tenant })).body.items as Array<{ email: string }>).map((m) => m.email);
  const pendingEmails = async (tenant: string) =>
    ((await t.request('GET', '/members/invitations', { tenant })).body.items as Array<{ email: string }>).map((i) => i.email);

  it('POST /members with a password (or a name) is a 400, and creates nothing', async () => {
    for (const extra of [{ password: ATTACKER_PASSWORD }, { name: 'The CEO' }, { password: ATTACKER_PASSWORD, name: 'The CEO' }]) {
      const refused = await t.request('POST', '/members', { tenant: acme.slug, body: { email: 'ceo@bigcorp.test', role: 'viewer', ...extra } });
      expectStatus(refused, 400, 'VALIDATION_FAILED');
      expect(JSON.stringify(refused.body)).not.toContain(ATTACKER_PASSWORD);
    }
    expect(await pendingEmails(acme.slug)).not.toContain('ceo@bigcorp.test');
    // No account was created with the attacker's password: nobody signs in with it anywhere.
    expectStatus(await t.login(acme.slug, 'ceo@bigcorp.test', ATTACKER_PASSWORD), 401, 'INVALID_CREDENTIALS');
    // Positive control: the same request without the password is accepted, as an invitation only.
    const invited = await t.request('POST', '/members', { tenant: acme.slug, body: { email: 'ceo@bigcorp.test', role: 'viewer' } });
    expectStatus(invited, 201);
    expect(Object.keys(invited.body)).toEqual(['invitation']);
    expect(await pendingEmails(acme.slug)).toContain('ceo@bigcorp.test');
    expect(await memberEmails(acme.slug)).not.toContain('ceo@bigcorp.test');
  });

  describe("another tenant's invitation of an existing account", () => {
    it('does not make a squatted account a member: only a membership-less invitation, which the squatter cannot use', async () => {
      // Residual risk, played out: without e-mail delivery, acme's admin holds acme's token for a NEW email and sets its password.
      const squat = await invite(t, acme.slug, 'cto@bigcorp.test', 'viewer');
      const squatted = await acceptInvitation(t, acme.slug, squat.token, ATTACKER_PASSWORD);
      expectStatus(squatted, 200);
      const attackerSession = squatted.body.accessToken as string;

      // BigCorp's owner adds the address: an invitation (token held by BigCorp), no membership.
      const bigcorpInvite = await invite(t, bigcorp.slug, 'cto@bigcorp.test', 'admin');
      expect(await memberEmails(bigcorp.slug)).not.toContain('cto@bigcorp.test');
      expectStatus(await t.login(bigcorp.slug, 'cto@bigcorp.test', ATTACKER_PASSWORD), 401, 'INVALID_CREDENTIALS');
      expectStatus(await t.request('POST', '/auth/switch-tenant', { tenant: acme.slug, auth: attackerSession, body: { tenant: bigcorp.slug } }), 403, 'TENANT_ACCESS_DENIED');
      // The squatter holds acme's token only: it is used, and it never opens a BigCorp invitation.
      expectStatus(await acceptInvitation(t, bigcorp.slug, squat.token, ATTACKER_PASSWORD), 401, 'INVITATION_INVALID');
      expectStatus(await acceptInvitation(t, acme.slug, squat.token, ATTACKER_PASSWORD), 401, 'INVITATION_INVALID');
      // BigCorp's token with another password (what the real CTO would type) does not link the squatted account either.
      expectStatus(await acceptInvitation(t, bigcorp.slug, bigcorpInvite.token, 'the-real-cto-pw-1'), 401, 'INVALID_CREDENTIALS');
      expect(await memberEmails(bigcorp.slug)).not.toContain('cto@bigcorp.test');
      expectStatus(await t.login(bigcorp.slug, 'cto@bigcorp.test', ATTACKER_PASSWORD), 401, 'INVALID_CREDENTIALS');
      const me = await t.request('GET', '/me', { tenant: acme.slug, auth: attackerSession });
      expect(me.body.tenants.map((x: any) => x.slug)).toEqual([acme.slug]);
    });

    it("joins only when the account's real holder accepts that tenant's token with their own password (positive control)", async () => {
      // The CFO's account was made by the CFO, accepting an invitation to acme.
      const cfo = await addMember(t, acme.slug, 'member', 'cfo@bigcorp.test', 'the-cfo-own-pw-1');
      const bigcorpInvite = await invite(t, bigcorp.slug, cfo.email, 'admin');
      // Before acceptance: not a member, cannot sign in there.
      expect(await memberEmails(bigcorp.slug)).not.toContain(cfo.email);
      expectStatus(await t.login(bigcorp.slug, cfo.email, cfo.password), 401, 'INVALID_CREDENTIALS');
      // Someone holding BigCorp's token without the CFO's password (e.g. BigCorp's admin) cannot complete it.
      expectStatus(await acceptInvitation(t, bigcorp.slug, bigcorpInvite.token, 'bigcorp-admin-guess-1'), 401, 'INVALID_CREDENTIALS');
      expect(await memberEmails(bigcorp.slug)).not.toContain(cfo.email);
      // The CFO accepts with their own password: a member of BigCorp, the password unchanged.
      const accepted = await acceptInvitation(t, bigcorp.slug, bigcorpInvite.token, cfo.password);
      expectStatus(accepted, 200);
      expect(accepted.body).toMatchObject({ role: 'admin', user: { id: cfo.userId, email: cfo.email }, tenant: { slug: bigcorp.slug } });
      expect(await memberEmails(bigcorp.slug)).toContain(cfo.email);
      expectStatus(await t.login(bigcorp.slug, cfo.email, cfo.password), 200);
      expectStatus(await t.login(acme.slug, cfo.email, cfo.password), 200);
    });
  });

  describe('POST /members answers the same whether or not the email has an account', () => {
    /** Status, headers that matter, and the body with what must differ (ids, tokens, times, the email) replaced. */
    const shape = (response: ApiResponse, email: string) => ({
      status: response.status,
      contentType: response.headers.get('content-type'),
      body: JSON.parse(
        JSON.stringify(response.body)
          .replace(/inv_[0-9a-f]{32}_[A-Za-z0-9_-]{43}/g, '<token>')
          .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<id>')
          .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/g, '<time>')
          .split(email)
          .join('<email>'),
      ),
    });

    it('the same status and body shape, no name, no membership, for an existing and a new email', async () => {
      // An account with a global name, made by its holder in BigCorp.
      const existing = await addMember(t, bigcorp.slug, 'member', 'named@people.test');
      const renamed = await acceptInvitation(t, bigcorp.slug, (await invite(t, bigcorp.slug, 'named2@people.test', 'viewer')).token, 'named-own-pw-12', 'Very Private Name');
      expectStatus(renamed, 200);

      const forExisting = await t.request('POST', '/members', { tenant: acme.slug, body: { email: 'named2@people.test', role: 'member' } });
      const forExistingToo = await t.request('POST', '/members', { tenant: acme.slug, body: { email: existing.email, role: 'member' } });
      const forNew = await t.request('POST', '/members', { tenant: acme.slug, body: { email: 'never-seen@people.test', role: 'member' } });
      expectStatus(forNew, 201);
      expect(shape(forExisting, 'named2@people.test')).toEqual(shape(forNew, 'never-seen@people.test'));
      expect(shape(forExistingToo, existing.email)).toEqual(shape(forNew, 'never-seen@people.test'));
      // The shape compared is the invitation, nothing about any account (positive control for the comparison).
      expect(shape(forNew, 'never-seen@people.test').body).toEqual({
        invitation: { id: '<id>', email: '<email>', role: 'member', createdAt: '<time>', expiresAt: '<time>', token: '<token>' },
      });
      expect(JSON.stringify(forExisting.body)).not.toContain('Very Private Name');
      // Neither existing account was linked.
      for (const email of ['named2@people.test', existing.email]) expect(await memberEmails(acme.slug)).not.toContain(email);
      expectStatus(await t.login(acme.slug, existing.email, existing.password), 401, 'INVALID_CREDENTIALS');
    });

    it('inviting again renews (old token dead, new token works) the same way for an existing and a new email', async () => {
      const existing = await addMember(t, bigcorp.slug, 'member', 'renew-existing@people.test', 'renew-own-pw-1');
      const renewals: Record<string, ApiResponse[]> = {};
      for (const email of [existing.email, 'renew-new@people.test']) {
        renewals[email] = [];
        for (let i = 0; i < 2; i++) renewals[email].push(await t.request('POST', '/members', { tenant: acme.slug, body: { email, role: 'viewer' } }));
      }
      expect(shape(renewals[existing.email][1], existing.email)).toEqual(shape(renewals['renew-new@people.test'][1], 'renew-new@people.test'));
      for (const email of Object.keys(renewals)) {
        expect((await pendingEmails(acme.slug)).filter((e) => e === email)).toHaveLength(1);
        const [first, second] = renewals[email].map((r) => r.body.invitation.token as string);
        expectStatus(await acceptInvitation(t, acme.slug, first, 'renew-own-pw-1'), 401, 'INVITATION_INVALID');
        expectStatus(await acceptInvitation(t, acme.slug, second, 'renew-own-pw-1'), 200);
      }
    });

    it('an admin cannot replace an owner invitation, whether or not the email has an account', async () => {
      const admin = await addMember(t, acme.slug, 'admin');
      const existing = await addMember(t, bigcorp.slug, 'member', 'owner-invitee@people.test');
      for (const email of [existing.email, 'owner-invitee-new@people.test']) {
        await invite(t, acme.slug, email, 'owner');
        expectStatus(await t.request('POST', '/members', { tenant: acme.slug, auth: admin.token, body: { email, role: 'viewer' } }), 403, 'INSUFFICIENT_ROLE');
        expect((await t.request('GET', '/members/invitations', { tenant: acme.slug })).body.items.find((i: any) => i.email === email).role).toBe('owner');
      }
      // Positive control: the admin can invite (and renew) a viewer.
      expectStatus(await t.request('POST', '/members', { tenant: acme.slug, auth: admin.token, body: { email: 'viewer-by-admin@people.test', role: 'viewer' } }), 201);
      expectStatus(await t.request('POST', '/members', { tenant: acme.slug, auth: admin.token, body: { email: 'viewer-by-admin@people.test', role: 'viewer' } }), 201);
    });
  });

  describe('POST /tenants naming an existing account as owner', () => {
    it('returns an owner invitation (with or without a password) and links the account only when its holder accepts', async () => {
      const holder = `owner@${acme.slug}.test`;
      const withoutPassword = await t.request('POST', '/tenants', { admin: true, body: { slug: 'takeover-umbrella', name: 'Umbrella', owner: { email: holder } } });
      const withPassword = await t.request('POST', '/tenants', {
        admin: true,
        body: { slug: 'takeover-stark', name: 'Stark', owner: { email: holder, password: 'platform-chosen-pw-1', name: 'Renamed' } },
      });
      for (const created of [withoutPassword, withPassword]) {
        expectStatus(created, 201);
        expect(created.body.owner).toEqual({
          member: null,
          invitation: { id: expect.any(String), email: holder, role: 'owner', createdAt: expect.any(String), expiresAt: expect.any(String), token: expect.stringMatching(/^inv_/) },
        });
      }
      // Not linked, and the platform's password was not set: the account keeps its own.
      for (const slug of ['takeover-umbrella', 'takeover-stark']) {
        expectStatus(await t.login(slug, holder, TEST_OWNER_PASSWORD), 401, 'INVALID_CREDENTIALS');
        expectStatus(await t.login(slug, holder, 'platform-chosen-pw-1'), 401, 'INVALID_CREDENTIALS');
      }
      expectStatus(await t.login(acme.slug, holder, 'platform-chosen-pw-1'), 401, 'INVALID_CREDENTIALS');
      expect((await t.request('GET', '/me', { tenant: acme.slug })).body.tenants.map((x: any) => x.slug)).toEqual([acme.slug]);

      // The token alone (e.g. in the platform admin's hands) does not link the account.
      const token = withPassword.body.owner.invitation.token;
      expectStatus(await acceptInvitation(t, 'takeover-stark', token, 'platform-chosen-pw-1'), 401, 'INVALID_CREDENTIALS');
      expectStatus(await t.login('takeover-stark', holder, TEST_OWNER_PASSWORD), 401, 'INVALID_CREDENTIALS');
      // Positive control: the holder accepts with their own password and is the owner; the name was not changed.
      const accepted = await acceptInvitation(t, 'takeover-stark', token, TEST_OWNER_PASSWORD);
      expectStatus(accepted, 200);
      expect(accepted.body).toMatchObject({ role: 'owner', user: { email: holder, name: '' }, tenant: { slug: 'takeover-stark' } });
      expectStatus(await t.login('takeover-stark', holder, TEST_OWNER_PASSWORD), 200);
      expectStatus(await t.login('takeover-umbrella', holder, TEST_OWNER_PASSWORD), 401, 'INVALID_CREDENTIALS');
    });
  });
});
