import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { ApiResponse, RequestOptions, startTestApp, TestApp } from '../helpers/test-app';
import { TEST_ADMIN_KEY, TEST_JWT_SECRET, TEST_OWNER_PASSWORD } from '../helpers/test-env';
import { createApiKey, invite } from './identity-fixtures';

/**
 * RFC 9110 §15.5.2: every 401 carries WWW-Authenticate. RFC 6750 §3: the plain
 * Bearer challenge when no (bearer) credential was presented, error="invalid_token"
 * (with a description and nothing internal) when one was and is not valid.
 * Table-driven over every way the API answers 401, on both HTTP adapters; the
 * positive controls (valid credentials) get 2xx and no challenge.
 */
const PLAIN = 'Bearer realm="tenancy-api"';
const invalidToken = (description: string) => `${PLAIN}, error="invalid_token", error_description="${description}"`;

describe.each(['fastify', 'express'])('WWW-Authenticate on every 401 (%s)', (adapter) => {
  let t: TestApp;
  let acme: { id: string; slug: string };
  let userId: string;
  let ownerJwt: string;
  let apiKey: string;
  let revokedKey: string;
  let invitationToken: string;
  const secret = new TextEncoder().encode(TEST_JWT_SECRET);
  const now = () => Math.floor(Date.now() / 1000);

  const jwt = (overrides: Record<string, unknown> = {}, key: Uint8Array = secret) => {
    const at = now();
    return new SignJWT({ sub: userId, tid: acme.id, iss: 'tenancy-api', aud: 'tenancy-api', iat: at, nbf: at, exp: at + 300, jti: 'x', ...overrides })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .sign(key);
  };

  beforeAll(async () => {
    t = await startTestApp({ HTTP_ADAPTER: adapter });
    acme = await t.createTenant('wwwauth-acme');
    ownerJwt = t.tokenFor(acme.slug)!;
    userId = (await t.request('GET', '/me', { tenant: acme.slug })).body.user.id;
    apiKey = (await createApiKey(t, acme.slug, 'viewer')).key;
    const revoked = await createApiKey(t, acme.slug, 'viewer');
    expect((await t.request('DELETE', `/api-keys/${revoked.id}`, { tenant: acme.slug })).status).toBe(204);
    revokedKey = revoked.key;
    invitationToken = (await invite(t, acme.slug, `invitee-${randomUUID().slice(0, 8)}@people.test`, 'member')).token;
  });
  afterAll(() => t?.close());

  const documents = (authorization?: string) =>
    t.request('GET', '/documents', { tenant: acme.slug, ...(authorization === undefined ? { auth: false } : { headers: { authorization } }) });
  const tenants = (authorization?: string) => t.request('GET', '/tenants', authorization === undefined ? {} : { headers: { authorization } });
  /**
   * One character changed, 6 from the end: the last character of a base64url
   * value may carry only padding bits, so changing it can decode to the same bytes.
   */
  const flip = (s: string) => {
    const at = s.length - 6;
    return s.slice(0, at) + (s[at] === 'A' ? 'B' : 'A') + s.slice(at + 1);
  };

  type Case = [name: string, call: () => Promise<ApiResponse>, code: string, challenge: string];
  const cases = (): Case[] => {
    const badJwt = invalidToken('The access token is invalid or expired');
    const badKey = invalidToken('The API key is invalid or revoked');
    const badAdmin = invalidToken('A valid platform admin key is required');
    return [
      // Tenant routes: nothing (bearer) presented -> plain challenge.
      ['tenant route, no Authorization', () => documents(), 'UNAUTHENTICATED', PLAIN],
      ['tenant route, Basic scheme', () => documents('Basic dXNlcjpwYXNz'), 'UNAUTHENTICATED', PLAIN],
      ['tenant route, "Bearer" without a token', () => documents('Bearer'), 'UNAUTHENTICATED', PLAIN],
      // Tenant routes: a bearer credential presented and bad -> invalid_token.
      ['tenant route, Bearer with two words', () => documents('Bearer abc def'), 'UNAUTHENTICATED', invalidToken('The bearer credential is malformed')],
      ['tenant route, garbled JWT', () => documents('Bearer not.a.jwt'), 'UNAUTHENTICATED', badJwt],
      ['tenant route, expired JWT', async () => documents(`Bearer ${await jwt({ iat: now() - 600, nbf: now() - 600, exp: now() - 300 })}`), 'UNAUTHENTICATED', badJwt],
      ['tenant route, JWT signed with another key', async () => documents(`Bearer ${await jwt({}, new TextEncoder().encode('x'.repeat(48)))}`), 'UNAUTHENTICATED', badJwt],
      ['tenant route, JWT with a tampered signature', async () => documents(`Bearer ${flip(ownerJwt)}`), 'UNAUTHENTICATED', badJwt],
      ['tenant route, JWT of a tenant that does not exist', async () => documents(`Bearer ${await jwt({ tid: randomUUID() })}`), 'UNAUTHENTICATED', badJwt],
      ['tenant route, API key with a wrong secret', () => documents(`Bearer ${flip(apiKey)}`), 'UNAUTHENTICATED', badKey],
      ['tenant route, unparseable API key', () => documents('Bearer tk_garbage'), 'UNAUTHENTICATED', badKey],
      ['tenant route, revoked API key', () => documents(`Bearer ${revokedKey}`), 'UNAUTHENTICATED', badKey],
      ['tenant route, platform admin key', () => documents(`Bearer ${TEST_ADMIN_KEY}`), 'UNAUTHENTICATED', badJwt],
      ['POST /auth/switch-tenant, expired JWT', async () =>
        t.request('POST', '/auth/switch-tenant', { tenant: acme.slug, auth: await jwt({ iat: now() - 600, nbf: now() - 600, exp: now() - 300 }), body: { tenant: acme.slug } }),
        'UNAUTHENTICATED', badJwt],
      // Platform admin routes.
      ['admin route, no Authorization', () => tenants(), 'UNAUTHENTICATED', PLAIN],
      ['admin route, Basic scheme', () => tenants(`Basic ${Buffer.from(`admin:${TEST_ADMIN_KEY}`).toString('base64')}`), 'UNAUTHENTICATED', PLAIN],
      ['admin route, wrong admin key', () => tenants(`Bearer ${flip(TEST_ADMIN_KEY)}`), 'UNAUTHENTICATED', badAdmin],
      ['admin route, a tenant owner JWT', () => tenants(`Bearer ${ownerJwt}`), 'UNAUTHENTICATED', badAdmin],
      ['admin route, a tenant API key', () => tenants(`Bearer ${apiKey}`), 'UNAUTHENTICATED', badAdmin],
      // Sign-in routes: the credentials are in the body; still 401, with the plain challenge (README "Sign-in").
      ['POST /auth/login, wrong password', () => t.login(acme.slug, `owner@${acme.slug}.test`, 'wrong-password-1'), 'INVALID_CREDENTIALS', PLAIN],
      ['POST /auth/login, unknown email', () => t.login(acme.slug, 'nobody@people.test', 'wrong-password-1'), 'INVALID_CREDENTIALS', PLAIN],
      ['POST /auth/accept-invitation, wrong token', () =>
        t.request('POST', '/auth/accept-invitation', { tenant: acme.slug, auth: false, body: { token: flip(invitationToken), password: 'a-new-password-1' } }),
        'INVITATION_INVALID', PLAIN],
    ];
  };

  it('answers every 401 with the challenge that fits it', async () => {
    const seen = [];
    const expected = [];
    for (const [name, call, code, challenge] of cases()) {
      const response = await call();
      seen.push({ name, status: response.status, code: response.body?.error?.code, challenge: response.headers.get('www-authenticate') });
      expected.push({ name, status: 401, code, challenge });
    }
    expect(seen).toEqual(expected);
  });

  it('positive controls: valid credentials get 2xx and no challenge; a 403 carries none either', async () => {
    const controls: Array<[string, () => Promise<ApiResponse>, number]> = [
      ['owner JWT', () => documents(`Bearer ${ownerJwt}`), 200],
      ['freshly signed JWT', async () => documents(`Bearer ${await jwt()}`), 200],
      ['API key', () => documents(`Bearer ${apiKey}`), 200],
      ['scheme name in lower case', () => documents(`bearer ${ownerJwt}`), 200],
      ['admin key on an admin route', () => tenants(`Bearer ${TEST_ADMIN_KEY}`), 200],
      ['login', () => t.login(acme.slug, `owner@${acme.slug}.test`, TEST_OWNER_PASSWORD), 200],
      ['viewer key on a write route (403)', () => t.request('POST', '/documents', { tenant: acme.slug, auth: apiKey, body: { title: 'x' } } as RequestOptions), 403],
    ];
    const seen = [];
    const expected = [];
    for (const [name, call, status] of controls) {
      const response = await call();
      seen.push({ name, status: response.status, challenge: response.headers.get('www-authenticate') });
      expected.push({ name, status, challenge: null });
    }
    expect(seen).toEqual(expected);
  });
});
