import { ApiResponse, startTestApp, TestApp } from '../helpers/test-app';
import { TEST_OWNER_PASSWORD } from '../helpers/test-env';
import { acceptInvitation, addMember, expectStatus, invite, MEMBER_PASSWORD, stable } from './identity-fixtures';

describe('sign-in, first owners and invitations', () => {
  let t: TestApp;
  let acme: { id: string; slug: string };
  let globex: { id: string; slug: string };

  beforeAll(async () => {
    t = await startTestApp();
    acme = await t.createTenant('signin-acme');
    globex = await t.createTenant('signin-globex');
  });
  afterAll(() => t?.close());

  describe('POST /auth/login', () => {
    it('returns a short-lived access token for the tenant named by header or subdomain', async () => {
      const session = await t.login(acme.slug, `owner@${acme.slug}.test`, TEST_OWNER_PASSWORD);
      expectStatus(session, 200);
      expect(session.body).toMatchObject({
        accessToken: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
        tokenType: 'Bearer',
        expiresIn: 900,
        user: { email: `owner@${acme.slug}.test` },
        tenant: { id: acme.id, slug: acme.slug },
        role: 'owner',
      });
      expectStatus(await t.request('GET', '/documents', { tenant: acme.slug, auth: session.body.accessToken }), 200);
      const bySubdomain = await t.request('POST', '/auth/login', {
        host: `${acme.slug}.example.test`,
        auth: false,
        body: { email: `OWNER@${acme.slug.toUpperCase()}.TEST`, password: TEST_OWNER_PASSWORD },
      });
      expectStatus(bySubdomain, 200);
      expect(bySubdomain.body.tenant.id).toBe(acme.id);
    });

    it('gives a non-member, an unknown email and a wrong password the same answer', async () => {
      const wrongPassword = await t.login(acme.slug, `owner@${acme.slug}.test`, 'not-the-password');
      const unknownEmail = await t.login(acme.slug, 'nobody@nowhere.test', TEST_OWNER_PASSWORD);
      // globex's owner, right password, but not a member of acme.
      const nonMember = await t.login(acme.slug, `owner@${globex.slug}.test`, TEST_OWNER_PASSWORD);
      expectStatus(wrongPassword, 401, 'INVALID_CREDENTIALS');
      expect(stable(unknownEmail.body)).toEqual(stable(wrongPassword.body));
      expect(stable(nonMember.body)).toEqual(stable(wrongPassword.body));
      expect([unknownEmail.status, nonMember.status]).toEqual([401, 401]);
      // Positive control: the same account signs in to its own tenant.
      expectStatus(await t.login(globex.slug, `owner@${globex.slug}.test`, TEST_OWNER_PASSWORD), 200);
    });

    it('resolves the tenant first: 400 none named, 404 unknown; validates the body', async () => {
      const body = { email: `owner@${acme.slug}.test`, password: TEST_OWNER_PASSWORD };
      expectStatus(await t.request('POST', '/auth/login', { auth: false, body }), 400, 'TENANT_REQUIRED');
      expectStatus(await t.request('POST', '/auth/login', { tenant: 'signin-nobody', auth: false, body }), 404, 'TENANT_NOT_FOUND');
      expectStatus(await t.request('POST', '/auth/login', { tenant: acme.slug, auth: false, body: { email: body.email } }), 400, 'VALIDATION_FAILED');
      expectStatus(await t.request('POST', '/auth/login', { tenant: acme.slug, auth: false, body: { ...body, tenantId: globex.id } }), 400, 'VALIDATION_FAILED');
    });
  });

  describe('POST /tenants with a first owner', () => {
    it('with a password: creates the account, which signs in', async () => {
      const created = await t.request('POST', '/tenants', {
        admin: true,
        body: { slug: 'signin-initech', name: 'Initech', owner: { email: 'Peter@Initech.test', password: 'peter-password-1', name: 'Peter' } },
      });
      expectStatus(created, 201);
      expect(created.body.owner).toEqual({ member: expect.objectContaining({ email: 'peter@initech.test', role: 'owner', name: 'Peter' }), invitation: null });
      expectStatus(await t.login('signin-initech', 'peter@initech.test', 'peter-password-1'), 200);
    });

    it('without a password: returns an invitation token once, which sets the password and signs in', async () => {
      const created = await t.request('POST', '/tenants', {
        admin: true,
        body: { slug: 'signin-hooli', name: 'Hooli', owner: { email: 'gavin@hooli.test' } },
      });
      expectStatus(created, 201);
      const invitation = created.body.owner.invitation;
      expect(created.body.owner.member).toBeNull();
      expect(invitation).toMatchObject({ email: 'gavin@hooli.test', role: 'owner', token: expect.stringMatching(/^inv_[0-9a-f]{32}_/) });
      // Shown once: not in the tenant as the admin reads it back, nor in the invitations list.
      expect(JSON.stringify((await t.request('GET', '/tenants/signin-hooli', { admin: true })).body)).not.toContain(invitation.token);
      // Nobody can sign in yet.
      expectStatus(await t.login('signin-hooli', 'gavin@hooli.test', 'gavin-password-1'), 401, 'INVALID_CREDENTIALS');

      const accept = (tenant: string, body: unknown) => t.request('POST', '/auth/accept-invitation', { tenant, auth: false, body });
      // The token only works in its own tenant.
      expectStatus(await accept(acme.slug, { token: invitation.token, password: 'gavin-password-1' }), 401, 'INVITATION_INVALID');
      expectStatus(await accept('signin-hooli', { token: `${invitation.token.slice(0, -2)}xx`, password: 'gavin-password-1' }), 401, 'INVITATION_INVALID');
      const accepted = await accept('signin-hooli', { token: invitation.token, password: 'gavin-password-1', name: 'Gavin' });
      expectStatus(accepted, 200);
      expect(accepted.body).toMatchObject({ role: 'owner', user: { email: 'gavin@hooli.test', name: 'Gavin' }, tenant: { slug: 'signin-hooli' } });
      const me = await t.request('GET', '/me', { tenant: 'signin-hooli', auth: accepted.body.accessToken });
      expect(me.body.role).toBe('owner');
      // Used once.
      expectStatus(await accept('signin-hooli', { token: invitation.token, password: 'another-password-1' }), 401, 'INVITATION_INVALID');
      expectStatus(await t.login('signin-hooli', 'gavin@hooli.test', 'gavin-password-1'), 200);
      expectStatus(await t.login('signin-hooli', 'gavin@hooli.test', 'another-password-1'), 401, 'INVALID_CREDENTIALS');
    });

    it('hashes the password and checks the slug before anything is written: a refused request leaves no tenant and no account', async () => {
      const body = (slug: string, password: string) => ({ slug, name: 'Wayne', owner: { email: 'bruce@wayne.test', password } });
      // The slug of an existing tenant: 409, and the owner's account was not created on the way.
      expectStatus(await t.request('POST', '/tenants', { admin: true, body: body(acme.slug, 'bruce-password-1') }), 409, 'CONFLICT');
      expectStatus(await t.request('POST', '/tenants', { admin: true, body: body('signin-wayne', 'short') }), 400, 'VALIDATION_FAILED');
      expectStatus(await t.request('GET', '/tenants/signin-wayne', { admin: true }), 404);
      // Positive control: the account did not exist, so a valid request creates it (member, not invitation).
      const created = await t.request('POST', '/tenants', { admin: true, body: body('signin-wayne', 'bruce-password-2') });
      expectStatus(created, 201);
      expect(created.body.owner).toEqual({ member: expect.objectContaining({ email: 'bruce@wayne.test', role: 'owner' }), invitation: null });
      expectStatus(await t.login('signin-wayne', 'bruce@wayne.test', 'bruce-password-2'), 200);
    });
  });

  describe('member invitations', () => {
    it('an invitation for an email that has an account by then needs that account\'s password', async () => {
      const invited = await t.request('POST', '/members', { tenant: acme.slug, body: { email: 'dana@people.test', role: 'viewer' } });
      expectStatus(invited, 201);
      const { token, id } = invited.body.invitation;
      const listed = await t.request('GET', '/members/invitations', { tenant: acme.slug });
      expect(listed.body.items.map((i: any) => i.id)).toContain(id);
      expect(JSON.stringify(listed.body)).not.toContain(token);
      // Meanwhile dana gets an account by accepting an invitation to globex.
      await addMember(t, globex.slug, 'member', 'dana@people.test');
      // The acme token opens the invitation, but only dana's password lets her account join acme.
      const accept = (password: string) => t.request('POST', '/auth/accept-invitation', { tenant: acme.slug, auth: false, body: { token, password } });
      expectStatus(await accept('someone-elses-guess'), 401, 'INVALID_CREDENTIALS');
      const accepted = await accept(MEMBER_PASSWORD);
      expectStatus(accepted, 200);
      expect(accepted.body.role).toBe('viewer');
      const me = await t.request('GET', '/me', { tenant: acme.slug, auth: accepted.body.accessToken });
      expect(me.body.tenants.map((x: any) => [x.slug, x.role])).toEqual([
        [acme.slug, 'viewer'],
        [globex.slug, 'member'],
      ]);
      expect((await t.request('GET', '/members/invitations', { tenant: acme.slug })).body.items.map((i: any) => i.id)).not.toContain(id);
    });

    it('a revoked invitation cannot be accepted', async () => {
      const invited = await t.request('POST', '/members', { tenant: acme.slug, body: { email: 'erin@people.test', role: 'member' } });
      const { token, id } = invited.body.invitation;
      expectStatus(await t.request('DELETE', `/members/invitations/${id}`, { tenant: acme.slug }), 204);
      expectStatus(
        await t.request('POST', '/auth/accept-invitation', { tenant: acme.slug, auth: false, body: { token, password: 'erin-password-1' } }),
        401,
        'INVITATION_INVALID',
      );
      expectStatus(await t.request('DELETE', `/members/invitations/${id}`, { tenant: acme.slug }), 404);
    });

    it('inviting an email that is already a member of this tenant is a conflict', async () => {
      const duplicate = await t.request('POST', '/members', { tenant: acme.slug, body: { email: `OWNER@${acme.slug}.test`, role: 'viewer' } });
      expectStatus(duplicate, 409, 'CONFLICT');
      expect((await t.request('GET', '/me', { tenant: acme.slug })).body.role).toBe('owner');
      // Positive control: the same account is not a member of globex, which can invite it.
      expectStatus(await t.request('POST', '/members', { tenant: globex.slug, body: { email: `owner@${acme.slug}.test`, role: 'viewer' } }), 201);
    });
  });
});

describe('failed sign-in throttling', () => {
  describe('per account', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ LOGIN_MAX_FAILURES_PER_ACCOUNT: '3', LOGIN_MAX_FAILURES_PER_ADDRESS: '1000', LOGIN_FAILURE_WINDOW_SECONDS: '600' });
      await t.createTenant('throttle-a');
      await addMember(t, 'throttle-a', 'member', 'bystander@people.test');
    });
    afterAll(() => t?.close());

    it('answers 429 with Retry-After once an account has too many failures, even with the right password', async () => {
      for (let i = 0; i < 3; i++) expectStatus(await t.login('throttle-a', 'owner@throttle-a.test', `wrong-${i}`), 401, 'INVALID_CREDENTIALS');
      const blocked = await t.login('throttle-a', 'owner@throttle-a.test', TEST_OWNER_PASSWORD);
      expectStatus(blocked, 429, 'TOO_MANY_REQUESTS');
      const retryAfter = Number(blocked.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(600);
      // Positive control: another account from the same address is not affected.
      expectStatus(await t.login('throttle-a', 'bystander@people.test', MEMBER_PASSWORD), 200);
    });
  });

  describe('per address', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ LOGIN_MAX_FAILURES_PER_ACCOUNT: '1000', LOGIN_MAX_FAILURES_PER_ADDRESS: '3', LOGIN_FAILURE_WINDOW_SECONDS: '600' });
      await t.createTenant('throttle-b');
    });
    afterAll(() => t?.close());

    it('answers 429 once one address has too many failures across accounts', async () => {
      // Positive control: before the limit, a success does not count and failures are plain 401s.
      expectStatus(await t.login('throttle-b', 'owner@throttle-b.test', TEST_OWNER_PASSWORD), 200);
      for (const email of ['a@people.test', 'b@people.test', 'c@people.test']) {
        expectStatus(await t.login('throttle-b', email, 'whatever-password'), 401, 'INVALID_CREDENTIALS');
      }
      const blocked = await t.login('throttle-b', 'owner@throttle-b.test', TEST_OWNER_PASSWORD);
      expectStatus(blocked, 429, 'TOO_MANY_REQUESTS');
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    });
  });
});

describe('parallel guesses against one account', () => {
  const MAX = 3;
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ LOGIN_MAX_FAILURES_PER_ACCOUNT: String(MAX), LOGIN_MAX_FAILURES_PER_ADDRESS: '1000', LOGIN_FAILURE_WINDOW_SECONDS: '600' });
    await t.createTenant('race-a');
    await t.createTenant('race-b');
  });
  afterAll(() => t?.close());

  /** How many responses per "status CODE". */
  const tally = (responses: ApiResponse[]) => {
    const counts: Record<string, number> = {};
    for (const r of responses) {
      const key = `${r.status} ${r.body?.error?.code ?? ''}`.trim();
      counts[key] = (counts[key] ?? 0) + 1;
    }
    return counts;
  };

  it('login: of 20 simultaneous wrong passwords, at most LOGIN_MAX_FAILURES_PER_ACCOUNT are verified (401), the rest get 429', async () => {
    const victim = await addMember(t, 'race-a', 'member');
    // Positive control: MAX simultaneous sign-ins with the right password all succeed, and give their attempt back.
    const rightOnes = await Promise.all(Array.from({ length: MAX }, () => t.login('race-a', victim.email, victim.password)));
    expect(rightOnes.map((r) => r.status)).toEqual(Array(MAX).fill(200));

    const guesses = await Promise.all(Array.from({ length: 20 }, (_, i) => t.login('race-a', victim.email, `guess-number-${i}`)));
    const counts = tally(guesses);
    expect(counts['401 INVALID_CREDENTIALS']).toBeLessThanOrEqual(MAX);
    expect(counts).toEqual({ '401 INVALID_CREDENTIALS': MAX, '429 TOO_MANY_REQUESTS': 20 - MAX });
    for (const r of guesses.filter((g) => g.status === 429)) expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);

    // Blocked now, even with the right password; another account from the same address is not (positive control).
    expectStatus(await t.login('race-a', victim.email, victim.password), 429, 'TOO_MANY_REQUESTS');
    expectStatus(await t.login('race-a', 'owner@race-a.test', TEST_OWNER_PASSWORD), 200);
  });

  it('accept-invitation for an existing account counts its password guesses per account the same way', async () => {
    const victim = await addMember(t, 'race-a', 'member');
    const bystander = await addMember(t, 'race-a', 'member');
    // race-b invites both existing accounts; the token opens the invitation, the password proves the account.
    const victimInvite = await invite(t, 'race-b', victim.email, 'viewer');
    const bystanderInvite = await invite(t, 'race-b', bystander.email, 'viewer');

    const guesses = await Promise.all(Array.from({ length: 20 }, (_, i) => acceptInvitation(t, 'race-b', victimInvite.token, `guess-number-${i}`)));
    expect(tally(guesses)).toEqual({ '401 INVALID_CREDENTIALS': MAX, '429 TOO_MANY_REQUESTS': 20 - MAX });
    // The victim's account is blocked everywhere for the window, acceptance and sign-in alike.
    expectStatus(await acceptInvitation(t, 'race-b', victimInvite.token, victim.password), 429, 'TOO_MANY_REQUESTS');
    expectStatus(await t.login('race-a', victim.email, victim.password), 429, 'TOO_MANY_REQUESTS');
    // Positive control: another account accepts its invitation with its password, from the same address.
    expectStatus(await acceptInvitation(t, 'race-b', bystanderInvite.token, bystander.password), 200);
    expectStatus(await t.login('race-b', bystander.email, bystander.password), 200);
  });
});

describe('the same checks on the Express adapter', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ HTTP_ADAPTER: 'express', LOGIN_MAX_FAILURES_PER_ACCOUNT: '2' });
    await t.createTenant('express-a');
    await t.createTenant('express-b');
  });
  afterAll(() => t?.close());

  it('signs in, admits the own tenant, refuses the other, throttles', async () => {
    expectStatus(await t.request('GET', '/documents', { tenant: 'express-a' }), 200);
    expectStatus(await t.request('GET', '/documents', { tenant: 'express-b', auth: t.tokenFor('express-a') }), 403, 'TENANT_ACCESS_DENIED');
    expectStatus(await t.request('GET', '/documents', { tenant: 'express-a', auth: false }), 401, 'UNAUTHENTICATED');
    expectStatus(await t.request('POST', '/documents', { tenant: 'express-a', auth: `${t.tokenFor('express-a')}x`, body: { title: 'x' } }), 401, 'UNAUTHENTICATED');
    for (let i = 0; i < 2; i++) expectStatus(await t.login('express-a', 'owner@express-a.test', 'wrong-password'), 401, 'INVALID_CREDENTIALS');
    const blocked = await t.login('express-a', 'owner@express-a.test', TEST_OWNER_PASSWORD);
    expectStatus(blocked, 429, 'TOO_MANY_REQUESTS');
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expectStatus(await t.login('express-b', 'owner@express-b.test', TEST_OWNER_PASSWORD), 200);
  });
});
