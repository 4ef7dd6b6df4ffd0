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
    return { id, slug: 's', name: 'n', status: 'active', plan: 'p', entitlements: entitlementsOf({ id: 'p', name: 'P', features: ['api_keys'], limits }), database: 'shared' };
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
    const sut = new RequestRateLimiter(new RateCounters(), { instances: 1, apiKeyShare: 0.5, burstFactor: 60 });
    expect(await sut.admit(tenantWith(null), { kind: 'user' })).toBeUndefined();
  });

  it('counts down, then refuses with Retry-After equal to RateLimit-Reset', async () => {
    const sut = new RequestRateLimiter(new RateCounters(), { instances: 1, apiKeyShare: 0.5, burstFactor: 60 });
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
    const sut = new RequestRateLimiter(new RateCounters(), { instances: 1, apiKeyShare: 0.5, burstFactor: 60 });
    const tenant = tenantWith(4);
    const key = { kind: 'api-key', keyId: randomUUID() } as const;
    expect(await sut.admit(tenant, key)).toMatchObject({ 'ratelimit-limit': '2', 'ratelimit-remaining': '1' });
    await sut.admit(tenant, key);
    expect((await refusal(sut.admit(tenant, key))).message).toMatch(/API key/);
    // Positive control: another key of the tenant still passes (its own share untouched); the refused request was
    // given back, so this is the tenant's 3rd of 4.
    expect(await sut.admit(tenant, { kind: 'api-key', keyId: randomUUID() })).toMatchObject({ 'ratelimit-limit': '4', 'ratelimit-remaining': '1' });
  });

  it('caps a second at burstFactor times the average rate (at least 10), without spending the minute on refusals', async () => {
    const sut = new RequestRateLimiter(new RateCounters(), { instances: 1, apiKeyShare: 1, burstFactor: 1 });
    const tenant = tenantWith(600); // 10 per second on average; burst factor 1: 10 in any one second
    for (let i = 1; i <= 10; i++) {
      // The headers keep describing the minute budget while the cap does not refuse.
      expect(await sut.admit(tenant, { kind: 'user' })).toMatchObject({ 'ratelimit-limit': '600', 'ratelimit-remaining': String(600 - i) });
    }
    const error = await refusal(sut.admit(tenant, { kind: 'user' }));
    expect(error.message).toMatch(/10 per second/);
    expect(error.headers).toMatchObject({ 'ratelimit-limit': '10', 'retry-after': '1' });
    await refusal(sut.admit(tenant, { kind: 'user' }));
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    // Positive control: the next second admits again, and the refusals did not count against the minute.
    expect(await sut.admit(tenant, { kind: 'user' })).toMatchObject({ 'ratelimit-remaining': '589' });
  });

  it('sets no per-second cap where it would not bind (a factor of 60, or a budget of 10 or less per second)', async () => {
    const off = new RequestRateLimiter(new RateCounters(), { instances: 1, apiKeyShare: 1, burstFactor: 60 });
    const small = new RequestRateLimiter(new RateCounters(), { instances: 1, apiKeyShare: 1, burstFactor: 10 });
    const tenants = [tenantWith(600), tenantWith(10)];
    for (let i = 0; i < 12; i++) {
      await off.admit(tenants[0], { kind: 'user' });
      await small.admit(tenants[1], { kind: 'user' }).catch(() => undefined);
    }
    expect(await off.admit(tenants[0], { kind: 'user' })).toMatchObject({ 'ratelimit-remaining': '587' });
    // The small budget ran out by the minute, not by a per-second cap (its message says so).
    expect((await refusal(small.admit(tenants[1], { kind: 'user' }))).message).toMatch(/10 per minute/);
  });

  it('enforces ceil(limit / instances) when counting alone', async () => {
    const sut = new RequestRateLimiter(new RateCounters(), { instances: 3, apiKeyShare: 1, burstFactor: 60 });
    const tenant = tenantWith(5);
    expect(await sut.admit(tenant, { kind: 'user' })).toMatchObject({ 'ratelimit-limit': '2' });
    await sut.admit(tenant, { kind: 'user' });
    await refusal(sut.admit(tenant, { kind: 'user' }));
  });

  it('judges a spent budget again when the limit changes', async () => {
    const sut = new RequestRateLimiter(new RateCounters(), { instances: 1, apiKeyShare: 1, burstFactor: 60 });
    const id = randomUUID();
    await sut.admit(tenantWith(1, id), { kind: 'user' });
    await refusal(sut.admit(tenantWith(1, id), { kind: 'user' }));
    await refusal(sut.admit(tenantWith(1, id), { kind: 'user' }));
    expect(await sut.admit(tenantWith(10, id), { kind: 'user' })).toMatchObject({ 'ratelimit-limit': '10' });
  });
});
