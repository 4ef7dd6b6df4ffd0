import { decodeJwt, decodeProtectedHeader } from 'jose';
import { AppConfig } from '../config/app-config';
import { parseEnv } from '../config/env.schema';
import { AccessTokenService } from './access-token.service';

describe(AccessTokenService.name, () => {
  const base = { DATABASE_URL: 'postgres://app_user:pw@localhost:5432/app', ADMIN_API_KEY: 'k'.repeat(32) };
  const config = (extra: Record<string, string> = {}) => new AppConfig(parseEnv({ ...base, JWT_SECRET: 's'.repeat(40), ...extra }));
  const claims = { userId: '0b7e2a4c-1d3f-4a5b-9c8d-7e6f5a4b3c2d', tenantId: 'f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9' };

  it('issues an HS256 token with sub, tid, iss, aud, iat, nbf, exp, jti that it verifies', async () => {
    const sut = new AccessTokenService(config());
    const issued = await sut.issue(claims);
    expect(decodeProtectedHeader(issued.accessToken)).toEqual({ alg: 'HS256', typ: 'JWT' });
    const payload = decodeJwt(issued.accessToken);
    expect(payload).toMatchObject({ sub: claims.userId, tid: claims.tenantId, iss: 'tenancy-api', aud: 'tenancy-api' });
    expect(payload.exp! - payload.iat!).toBe(900);
    expect(payload.nbf).toBe(payload.iat);
    expect(typeof payload.jti).toBe('string');
    expect(Object.keys(payload)).not.toContain('role');
    await expect(sut.verify(issued.accessToken)).resolves.toEqual(claims);
  });

  it('refuses tokens of an instance with another key, issuer or audience', async () => {
    const token = (await new AccessTokenService(config()).issue(claims)).accessToken;
    await expect(new AccessTokenService(config()).verify(token)).resolves.toEqual(claims); // same config: accepted
    for (const other of [{ JWT_SECRET: 't'.repeat(40) }, { JWT_ISSUER: 'other' }, { JWT_AUDIENCE: 'other' }] as Array<Record<string, string>>) {
      await expect(new AccessTokenService(config(other)).verify(token)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    }
  });

  it('uses a random key per instance when JWT_SECRET is unset (outside production)', async () => {
    const unset = new AppConfig(parseEnv(base));
    const a = new AccessTokenService(unset);
    const token = (await a.issue(claims)).accessToken;
    await expect(a.verify(token)).resolves.toEqual(claims);
    await expect(new AccessTokenService(unset).verify(token)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('requires a JWT_SECRET of at least 32 characters, and one in production', () => {
    expect(() => parseEnv({ ...base, JWT_SECRET: 'short' })).toThrow(/JWT_SECRET: must be at least 32 characters/);
    expect(() => parseEnv({ ...base, NODE_ENV: 'production' })).toThrow(/JWT_SECRET: is required in production/);
    expect(parseEnv({ ...base, NODE_ENV: 'production', JWT_SECRET: 's'.repeat(32) }).JWT_SECRET).toBe('s'.repeat(32));
  });
});
