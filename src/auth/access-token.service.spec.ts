import { decodeJwt, decodeProtectedHeader } from 'jose';
import { createHmac, createSign, generateKeyPairSync } from 'node:crypto';
import { AppConfig } from '../config/app-config';
import { parseEnv } from '../config/env.schema';
import { AccessTokenService } from './access-token.service';

describe(AccessTokenService.name, () => {
  const base = { DATABASE_URL: 'postgres://app_user:pw@localhost:5432/app', ADMIN_API_KEY: 'k'.repeat(32) };
  const secret = 's'.repeat(40);
  const config = (extra: Record<string, string> = {}) => new AppConfig(parseEnv({ ...base, JWT_SECRET: secret, ...extra }));
  const claims = { userId: '0b7e2a4c-1d3f-4a5b-9c8d-7e6f5a4b3c2d', tenantId: 'f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9' };
  /** Every refusal is the same 401, whatever the reason. */
  const REFUSED = { code: 'UNAUTHENTICATED', message: 'The access token is invalid or expired' };

  /** What verify threw, or 'accepted'. */
  function outcome(verify: () => unknown): unknown {
    try {
      verify();
    } catch (error) {
      return error;
    }
    return 'accepted';
  }

  it('issues an HS256 token with sub, tid, iss, aud, iat, nbf, exp, jti that it verifies', () => {
    const sut = new AccessTokenService(config());
    const issued = sut.issue(claims);
    expect(decodeProtectedHeader(issued.accessToken)).toEqual({ alg: 'HS256', typ: 'JWT' });
    const payload = decodeJwt(issued.accessToken);
    expect(payload).toMatchObject({ sub: claims.userId, tid: claims.tenantId, iss: 'tenancy-api', aud: 'tenancy-api' });
    expect(payload.exp! - payload.iat!).toBe(900);
    expect(payload.nbf).toBe(payload.iat);
    expect(typeof payload.jti).toBe('string');
    expect(Object.keys(payload)).not.toContain('role');
    expect(sut.verify(issued.accessToken)).toEqual(claims);
  });

  it('refuses tokens of an instance with another key, issuer or audience', () => {
    const token = new AccessTokenService(config()).issue(claims).accessToken;
    expect(new AccessTokenService(config()).verify(token)).toEqual(claims); // same config: accepted
    for (const other of [{ JWT_SECRET: 't'.repeat(40) }, { JWT_ISSUER: 'other' }, { JWT_AUDIENCE: 'other' }] as Array<Record<string, string>>) {
      const sut = new AccessTokenService(config(other));
      expect(outcome(() => sut.verify(token))).toMatchObject(REFUSED);
    }
  });

  it('uses a random key per instance when JWT_SECRET is unset (outside production)', () => {
    const unset = new AppConfig(parseEnv(base));
    const a = new AccessTokenService(unset);
    const token = a.issue(claims).accessToken;
    expect(a.verify(token)).toEqual(claims);
    const b = new AccessTokenService(unset);
    expect(outcome(() => b.verify(token))).toMatchObject(REFUSED);
  });

  it('requires a JWT_SECRET of at least 32 characters, and one in production', () => {
    expect(() => parseEnv({ ...base, JWT_SECRET: 'short' })).toThrow(/JWT_SECRET: must be at least 32 characters/);
    expect(() => parseEnv({ ...base, NODE_ENV: 'production' })).toThrow(/JWT_SECRET: is required in production/);
    expect(parseEnv({ ...base, NODE_ENV: 'production', JWT_SECRET: 's'.repeat(32) }).JWT_SECRET).toBe('s'.repeat(32));
  });

  /**
   * Tokens built by hand with node:crypto, so the checks do not rest on the
   * library that verifies them. Each refused token differs from an accepted
   * one (built by the same helpers) in one respect; the clock is fixed.
   */
  describe('hand-made tokens', () => {
    const sut = new AccessTokenService(config());
    const now = Math.floor(Date.now() / 1000);
    beforeEach(() => jest.spyOn(Date, 'now').mockReturnValue(now * 1000));
    afterEach(() => jest.restoreAllMocks());

    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    function token(payload: Record<string, unknown>, header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' }, sign: ((input: string) => string) | null = hmac('sha256', secret)): string {
      const input = `${encode(header)}.${encode(payload)}`;
      return `${input}.${sign ? sign(input) : ''}`;
    }
    function hmac(algorithm: string, key: string) {
      return (input: string) => createHmac(algorithm, key).update(input).digest('base64url');
    }
    function payload(overrides: Record<string, unknown> = {}): Record<string, unknown> {
      const all: Record<string, unknown> = { sub: claims.userId, tid: claims.tenantId, iss: 'tenancy-api', aud: 'tenancy-api', iat: now, nbf: now, exp: now + 900, jti: 'x' };
      for (const [key, value] of Object.entries(overrides)) {
        if (value === undefined) delete all[key];
        else all[key] = value;
      }
      return all;
    }
    function verdict(value: string): 'accepted' | 'refused' {
      const result = outcome(() => sut.verify(value));
      if (result === 'accepted') return result;
      expect(result).toMatchObject(REFUSED);
      return 'refused';
    }

    it('accepts a correctly signed one (positive control), with the claims in any case', () => {
      expect(sut.verify(token(payload()))).toEqual(claims);
      expect(sut.verify(token(payload({ sub: claims.userId.toUpperCase(), tid: claims.tenantId.toUpperCase() })))).toEqual(claims);
      expect(verdict(token(payload({ aud: ['another-api', 'tenancy-api'] })))).toBe('accepted');
    });

    it('refuses any algorithm but HS256, whatever the signature', () => {
      const valid = token(payload());
      expect(verdict(token(payload(), { alg: 'none', typ: 'JWT' }, null))).toBe('refused');
      expect(verdict(token(payload(), { alg: 'none', typ: 'JWT' }, () => valid.split('.')[2]))).toBe('refused');
      expect(verdict(token(payload(), { alg: 'NONE' }, null))).toBe('refused');
      expect(verdict(token(payload(), { alg: 'HS256', typ: 'JWT' }, null))).toBe('refused');
      expect(verdict(token(payload(), { alg: 'HS512', typ: 'JWT' }, hmac('sha512', secret)))).toBe('refused');
      expect(verdict(token(payload(), { alg: 'HS384', typ: 'JWT' }, hmac('sha384', secret)))).toBe('refused');
      expect(verdict(token(payload(), { typ: 'JWT' }))).toBe('refused');
      // Right secret, but the header claims RS256: the algorithm comes from the server, never the token.
      expect(verdict(token(payload(), { alg: 'RS256', typ: 'JWT' }))).toBe('refused');
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const rs256 = (input: string) => createSign('RSA-SHA256').update(input).sign(privateKey).toString('base64url');
      expect(verdict(token(payload(), { alg: 'RS256', typ: 'JWT' }, rs256))).toBe('refused');
      // HS/RS confusion: an HMAC keyed with the public key.
      expect(verdict(token(payload(), { alg: 'HS256', typ: 'JWT' }, hmac('sha256', publicKey.export({ type: 'spki', format: 'pem' }).toString())))).toBe('refused');
    });

    it('refuses another key, and a tampered payload or signature', () => {
      expect(verdict(token(payload(), undefined, hmac('sha256', 't'.repeat(40))))).toBe('refused');
      const [header, , signature] = token(payload()).split('.');
      const otherTenant = '00000000-0000-4000-8000-000000000000';
      expect(verdict(`${header}.${encode(payload({ tid: otherTenant }))}.${signature}`)).toBe('refused');
      expect(verdict(`${header}.${encode(payload())}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BA' : 'AA'}`)).toBe('refused');
      expect(verdict(`${header}.${encode(payload())}.${signature}`)).toBe('accepted');
    });

    it('refuses a wrong issuer or audience, a missing required claim, and claims of the wrong type', () => {
      expect(verdict(token(payload({ iss: 'someone-else' })))).toBe('refused');
      expect(verdict(token(payload({ aud: 'another-api' })))).toBe('refused');
      expect(verdict(token(payload({ aud: ['another-api'] })))).toBe('refused');
      // iss and aud included: fast-jwt checks them only when present.
      for (const missing of ['sub', 'tid', 'exp', 'iat', 'iss', 'aud']) {
        expect(verdict(token(payload({ [missing]: undefined })))).toBe('refused');
      }
      expect(verdict(token(payload({ nbf: undefined })))).toBe('accepted');
      expect(verdict(token(payload({ sub: 'not-a-uuid' })))).toBe('refused');
      expect(verdict(token(payload({ tid: 'not-a-uuid' })))).toBe('refused');
      for (const claim of ['exp', 'iat', 'nbf']) expect(verdict(token(payload({ [claim]: String(now) })))).toBe('refused');
      expect(verdict(token(payload({ iss: ['tenancy-api'] })))).toBe('refused');
    });

    it('applies 5 s of clock tolerance to exp, nbf and iat, and no more', () => {
      expect(verdict(token(payload({ iat: now - 900, nbf: now - 900, exp: now - 4 })))).toBe('accepted');
      expect(verdict(token(payload({ iat: now - 900, nbf: now - 900, exp: now - 6 })))).toBe('refused');
      expect(verdict(token(payload({ nbf: now + 4 })))).toBe('accepted');
      expect(verdict(token(payload({ nbf: now + 6 })))).toBe('refused');
      // Older than the lifetime (900 s), even with a later exp.
      expect(verdict(token(payload({ iat: now - 904, nbf: now - 904, exp: now + 300 })))).toBe('accepted');
      expect(verdict(token(payload({ iat: now - 906, nbf: now - 906, exp: now + 300 })))).toBe('refused');
      expect(verdict(token(payload({ iat: now - 24 * 3600, exp: now + 300 })))).toBe('refused');
      // Issued in the future: its age would never reach the lifetime.
      expect(verdict(token(payload({ iat: now + 4, exp: now + 904 })))).toBe('accepted');
      expect(verdict(token(payload({ iat: now + 6, exp: now + 906 })))).toBe('refused');
      expect(verdict(token(payload({ iat: now + 365 * 86_400, nbf: undefined, exp: now + 365 * 86_400 + 900 })))).toBe('refused');
    });

    it('refuses a token it accepted once, when it is verified again after it expired', () => {
      const once = sut.issue(claims).accessToken;
      expect(sut.verify(once)).toEqual(claims);
      jest.spyOn(Date, 'now').mockReturnValue((now + 900 + 4) * 1000);
      expect(sut.verify(once)).toEqual(claims);
      jest.spyOn(Date, 'now').mockReturnValue((now + 900 + 6) * 1000);
      expect(verdict(once)).toBe('refused');
    });

    it('does not keep a refusal: a token refused for its nbf is accepted once it is valid', () => {
      const early = token(payload({ nbf: now + 6 }));
      expect(verdict(early)).toBe('refused');
      jest.spyOn(Date, 'now').mockReturnValue((now + 2) * 1000);
      expect(verdict(early)).toBe('accepted');
    });

    it('refuses a token over 4096 characters before parsing it, and garbage', () => {
      const padded = (length: number) => token(payload({ pad: 'x'.repeat(length) }));
      expect(padded(2700).length).toBeLessThanOrEqual(4096);
      expect(verdict(padded(2700))).toBe('accepted');
      expect(padded(2900).length).toBeGreaterThan(4096);
      expect(verdict(padded(2900))).toBe('refused');
      for (const garbage of ['', 'x', 'a.b.c', 'a.b', '....', `${token(payload())} `, `${token(payload())}.x`]) expect(verdict(garbage)).toBe('refused');
    });
  });
});
