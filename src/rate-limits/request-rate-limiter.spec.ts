import { randomUUID } from 'node:crypto';
import { AppError } from '../common/errors/app-error';
import { entitlementsOf, Limits } from '../tenancy/entitlements';
import type { Tenant } from '../tenancy/tenant';
import { RateCounters } from './rate-counters';
import { RequestRateLimiter } from './request-rate-limiter';

/** The decision on the in-process counters (no Redis configured); the shared path is tested over HTTP in test/rate-limits. */
describe(RequestRateLimiter.name, () => {
  const tenantWith = (requestsPerMinute: number | null, id = randomUUID()): Tenant => {
    const limits: Limits = { documents: null, storage_bytes: null, members: null, api_keys: null, requests_per_minute: requestsPerMinute };
    return { id, slug: 's', name: 'n', status: 'active', plan: 'p', entitlements: entitlementsOf({ id: 'p', name: 'P', features: ['api_keys'], limits }) };
  };
  const refusal = async (promise: Promise<unknown>) => {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  };

  it('does nothing for an unlimited tenant', async () => {
    const sut = new RequestRateLimiter(new RateCounters(), { instances: 1, apiKeyShare: 0.5 });
    expect(await sut.admit(tenantWith(null), { kind: 'user' })).toBeUndefined();
  });

  it('counts down, then refuses with Retry-After equal to RateLimit-Reset', async () => {
    const sut = new RequestRateLimiter(new RateCounters(), { instances: 1, apiKeyShare: 0.5 });
    const tenant = tenantWith(2);
    expect(await sut.admit(tenant, { kind: 'user' })).toMatchObject({ 'ratelimit-limit': '2', 'ratelimit-remaining': '1' });
    expect(await sut.admit(tenant, { kind: 'user' })).toMatchObject({ 'ratelimit-remaining': '0' });
    const error = await refusal(sut.admit(tenant, { kind: 'user' }));
    expect(error.code).toBe('TOO_MANY_REQUESTS');
    expect(error.headers?.['retry-after']).toBe(error.headers?.['ratelimit-reset']);
    // Positive control: another tenant with the same limit is untouched.
    expect(await sut.admit(tenantWith(2), { kind: 'user' })).toMatchObject({ 'ratelimit-remaining': '1' });
  });

  it("gives an API key its share of the tenant's budget", async () => {
    const sut = new RequestRateLimiter(new RateCounters(), { instances: 1, apiKeyShare: 0.5 });
    const tenant = tenantWith(4);
    const key = { kind: 'api-key', keyId: randomUUID() } as const;
    expect(await sut.admit(tenant, key)).toMatchObject({ 'ratelimit-limit': '2', 'ratelimit-remaining': '1' });
    await sut.admit(tenant, key);
    expect((await refusal(sut.admit(tenant, key))).message).toMatch(/API key/);
    // Positive control: another key of the tenant still passes (its own share untouched); the refused request counted
    // on the tenant too, so this is the tenant's 4th of 4.
    expect(await sut.admit(tenant, { kind: 'api-key', keyId: randomUUID() })).toMatchObject({ 'ratelimit-limit': '4', 'ratelimit-remaining': '0' });
  });

  it('enforces ceil(limit / instances) when counting alone', async () => {
    const sut = new RequestRateLimiter(new RateCounters(), { instances: 3, apiKeyShare: 1 });
    const tenant = tenantWith(5);
    expect(await sut.admit(tenant, { kind: 'user' })).toMatchObject({ 'ratelimit-limit': '2' });
    await sut.admit(tenant, { kind: 'user' });
    await refusal(sut.admit(tenant, { kind: 'user' }));
  });

  it('judges a spent budget again when the limit changes', async () => {
    const sut = new RequestRateLimiter(new RateCounters(), { instances: 1, apiKeyShare: 1 });
    const id = randomUUID();
    await sut.admit(tenantWith(1, id), { kind: 'user' });
    await refusal(sut.admit(tenantWith(1, id), { kind: 'user' }));
    await refusal(sut.admit(tenantWith(1, id), { kind: 'user' }));
    expect(await sut.admit(tenantWith(10, id), { kind: 'user' })).toMatchObject({ 'ratelimit-limit': '10' });
  });
});
