import { createHmac } from 'node:crypto';
import { base64url, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { startTestApp, TestApp } from '../helpers/test-app';
import { TEST_JWT_SECRET } from '../helpers/test-env';
import { expectStatus } from './identity-fixtures';

/**
 * The verifier pins HS256 and checks signature, iss, aud, exp, nbf and iat.
 * Every forged token below differs from a valid one (the positive control,
 * built by the same function) in exactly one respect.
 */
describe('access token attacks', () => {
  let t: TestApp;
  let acme: { id: string; slug: string };
  let globex: { id: string; slug: string };
  let userId: string;
  const secret = new TextEncoder().encode(TEST_JWT_SECRET);
  const now = () => Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    t = await startTestApp();
    acme = await t.createTenant('jwt-acme');
    globex = await t.createTenant('jwt-globex');
    userId = (await t.request('GET', '/me', { tenant: acme.slug })).body.user.id;
  });
  afterAll(() => t?.close());

  function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    const at = now();
    const base: Record<string, unknown> = { sub: userId, tid: acme.id, iss: 'tenancy-api', aud: 'tenancy-api', iat: at, nbf: at, exp: at + 300, jti: 'x' };
    for (const [key, value] of Object.entries(overrides)) {
      if (value === undefined) delete base[key];
      else base[key] = value;
    }
    return base;
  }

  const hs256 = (payload: Record<string, unknown>, key: Uint8Array = secret) =>
    new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(key);

  /** header.payload.signature with any header, signed (or not) by hand. */
  function handMade(header: Record<string, unknown>, payload: Record<string, unknown>, sign?: (input: string) => string): string {
    const input = `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(payload))}`;
    return `${input}.${sign ? sign(input) : ''}`;
  }
  const hmac = (key: string | Uint8Array) => (input: string) => createHmac('sha256', key).update(input).digest('base64url');

  const call = (token: string, tenant = acme.slug) => t.request('GET', '/documents', { tenant, auth: token });

  it('accepts a correctly signed token built by the same helpers (positive control)', async () => {
    expectStatus(await call(await hs256(claims())), 200);
    expectStatus(await call(handMade({ alg: 'HS256', typ: 'JWT' }, claims(), hmac(secret))), 200);
  });

  it('refuses alg "none", with or without a signature', async () => {
    const valid = await hs256(claims());
    expectStatus(await call(handMade({ alg: 'none', typ: 'JWT' }, claims())), 401, 'UNAUTHENTICATED');
    expectStatus(await call(handMade({ alg: 'none', typ: 'JWT' }, claims(), () => valid.split('.')[2])), 401, 'UNAUTHENTICATED');
    expectStatus(await call(handMade({ alg: 'NONE' }, claims())), 401, 'UNAUTHENTICATED');
  });

  it('refuses a token signed with another key', async () => {
    expectStatus(await call(await hs256(claims(), new TextEncoder().encode('another-secret-0123456789abcdefghijklmnop'))), 401, 'UNAUTHENTICATED');
  });

  it('refuses HS/RS confusion: RS256 tokens, HS256 keyed with a public key, and an HMAC under an RS256 header', async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const rs256 = await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', typ: 'JWT' }).sign(privateKey);
    expectStatus(await call(rs256), 401, 'UNAUTHENTICATED');
    const pem = await exportSPKI(publicKey);
    expectStatus(await call(handMade({ alg: 'HS256', typ: 'JWT' }, claims(), hmac(pem))), 401, 'UNAUTHENTICATED');
    // Right secret, but the header claims RS256: the algorithm comes from the server, never the token.
    expectStatus(await call(handMade({ alg: 'RS256', typ: 'JWT' }, claims(), hmac(secret))), 401, 'UNAUTHENTICATED');
    expectStatus(await call(handMade({ alg: 'HS512', typ: 'JWT' }, claims(), (input) => createHmac('sha512', secret).update(input).digest('base64url'))), 401, 'UNAUTHENTICATED');
  });

  it('refuses an expired token, and one not yet valid', async () => {
    expectStatus(await call(await hs256(claims({ iat: now() - 400, nbf: now() - 400, exp: now() - 60 }))), 401, 'UNAUTHENTICATED');
    expectStatus(await call(await hs256(claims({ nbf: now() + 600 }))), 401, 'UNAUTHENTICATED');
    // Issued long ago with a far expiry: older than the configured lifetime.
    expectStatus(await call(await hs256(claims({ iat: now() - 24 * 3600, exp: now() + 300 }))), 401, 'UNAUTHENTICATED');
    // Positive control: the same shape of token with a valid window.
    expectStatus(await call(await hs256(claims({ iat: now() - 60, nbf: now() - 60, exp: now() + 240 }))), 200);
  });

  it('refuses a wrong issuer or audience, and missing required claims', async () => {
    expectStatus(await call(await hs256(claims({ iss: 'someone-else' }))), 401, 'UNAUTHENTICATED');
    expectStatus(await call(await hs256(claims({ aud: 'another-api' }))), 401, 'UNAUTHENTICATED');
    expectStatus(await call(await hs256(claims({ aud: ['another-api'] }))), 401, 'UNAUTHENTICATED');
    for (const missing of ['sub', 'tid', 'exp', 'iat', 'iss', 'aud']) {
      expectStatus(await call(await hs256(claims({ [missing]: undefined }))), 401, 'UNAUTHENTICATED');
    }
    expectStatus(await call(await hs256(claims({ sub: 'not-a-uuid' }))), 401, 'UNAUTHENTICATED');
  });

  it('refuses a tampered tenant claim (signature no longer matches), whichever tenant the header names', async () => {
    const valid = await hs256(claims());
    const [header, , signature] = valid.split('.');
    const tampered = `${header}.${base64url.encode(JSON.stringify(claims({ tid: globex.id })))}.${signature}`;
    expectStatus(await call(tampered, globex.slug), 401, 'UNAUTHENTICATED');
    expectStatus(await call(tampered, acme.slug), 401, 'UNAUTHENTICATED');
    // Positive control: the untouched token still works for its own tenant.
    expectStatus(await call(valid, acme.slug), 200);
  });

  it('refuses garbage and non-bearer schemes', async () => {
    for (const token of ['x', 'a.b.c', 'a.b', '....', 'tk_notakey']) expectStatus(await call(token), 401, 'UNAUTHENTICATED');
    const valid = await hs256(claims());
    expectStatus(await t.request('GET', '/documents', { tenant: acme.slug, headers: { authorization: `Basic ${valid}` } }), 401, 'UNAUTHENTICATED');
    expectStatus(await t.request('GET', '/documents', { tenant: acme.slug, headers: { authorization: `Bearer ${valid}` } }), 200);
  });
});
