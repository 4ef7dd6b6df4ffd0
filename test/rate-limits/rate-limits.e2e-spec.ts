import { INestApplication } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { parsePrometheusText, valueOf } from '../helpers/prometheus-text';
import { startTcpProxy, TcpProxy } from '../helpers/tcp-proxy';
import { ApiResponse, startOtherInstance, startTestApp, TestApp } from '../helpers/test-app';
import { RequestRateLimiter } from '../../src/rate-limits/request-rate-limiter';
import { TEST_OWNER_PASSWORD } from '../helpers/test-env';
import { addMember, createApiKey, expectStatus, MEMBER_PASSWORD } from '../identity/identity-fixtures';

/**
 * Rate limits (README "Rate limits"): each tenant's requests_per_minute, counted
 * in Redis so that every instance shares one budget, an API key's share of it,
 * 429 with the standard envelope, Retry-After and RateLimit-* headers, the
 * in-process fallback while Redis is away, and the sign-in throttle shared
 * across instances. Slugs and emails are fresh per run: the test Redis keeps
 * counters between runs.
 */
const unique = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;

function expectLimited(response: ApiResponse, limit: number, remaining: number): void {
  expect({ status: response.status, limit: response.headers.get('ratelimit-limit'), remaining: response.headers.get('ratelimit-remaining') }).toEqual({
    status: 200,
    limit: String(limit),
    remaining: String(remaining),
  });
  const reset = Number(response.headers.get('ratelimit-reset'));
  expect(reset).toBeGreaterThan(0);
  expect(reset).toBeLessThanOrEqual(60);
}

function expectRefused(response: ApiResponse, limit: number): void {
  expectStatus(response, 429, 'TOO_MANY_REQUESTS');
  expect(response.body).toMatchObject({ statusCode: 429, path: expect.any(String), requestId: expect.any(String) });
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  const retryAfter = Number(response.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(response.headers.get('ratelimit-limit')).toBe(String(limit));
  expect(response.headers.get('ratelimit-remaining')).toBe('0');
  expect(Number(response.headers.get('ratelimit-reset'))).toBe(retryAfter);
}

async function setLimit(t: TestApp, tenantId: string, plan: string, requestsPerMinute: number | null): Promise<void> {
  const set = await t.request('PUT', `/tenants/${tenantId}/plan`, { admin: true, body: { plan, overrides: { limits: { requests_per_minute: requestsPerMinute } } } });
  expectStatus(set, 200);
}

async function rateLimitedCount(t: TestApp, labels: Record<string, string>): Promise<number> {
  const scrape = await t.request('GET', '/metrics', { admin: true });
  return valueOf(parsePrometheusText(scrape.body as string), 'rate_limited_requests_total', labels) ?? 0;
}

describe('rate limits on two instances sharing Redis', () => {
  let t: TestApp;
  let other: INestApplication;
  let b: string;

  beforeAll(async () => {
    t = await startTestApp({ REDIS_URL: process.env.TEST_REDIS_URL!, TENANT_CACHE_TTL_MS: '60000' });
    ({ app: other, baseUrl: b } = await startOtherInstance(t));
  });
  afterAll(async () => {
    await other?.close();
    await t?.close();
  });

  it('shares one budget: N requests across A and B succeed, the next is 429 with Retry-After and RateLimit-* headers', async () => {
    const tenant = await t.createTenant(unique('rl-shared'), { plan: 'free' });
    await setLimit(t, tenant.id, 'free', 6);
    for (let i = 0; i < 6; i++) {
      const response = await t.request('GET', '/documents', { tenant: tenant.slug, baseUrl: i % 2 === 0 ? undefined : b });
      expectLimited(response, 6, 5 - i);
    }
    expectRefused(await t.request('GET', '/documents', { tenant: tenant.slug, baseUrl: b }), 6);
    expectRefused(await t.request('GET', '/documents', { tenant: tenant.slug }), 6);
    expect(await rateLimitedCount(t, { limit: 'tenant', store: 'redis' })).toBeGreaterThanOrEqual(1);
  });

  it('answers a flood whose budget is known spent before admission, for that credential, tenant and route only', async () => {
    const tenant = await t.createTenant(unique('rl-early'), { plan: 'free' });
    await setLimit(t, tenant.id, 'free', 1);
    const admit = jest.spyOn(t.app.get(RequestRateLimiter), 'admit');
    try {
      expectLimited(await t.request('GET', '/documents', { tenant: tenant.slug }), 1, 0);
      expectRefused(await t.request('GET', '/documents', { tenant: tenant.slug }), 1); // counted in Redis: the budget is spent
      const remembered = await t.request('GET', '/documents', { tenant: tenant.slug }); // known spent: remembered
      expectRefused(remembered, 1);
      expect(admit).toHaveBeenCalledTimes(3); // positive control: every one so far went through admission
      const early = await t.request('GET', '/documents', { tenant: tenant.slug });
      expectRefused(early, 1);
      expect(early.headers.get('x-request-id')).toBeTruthy();
      // The early answer counts down to the end of the minute's window, as admission's does (not to the end of the replay).
      const retryAfter = Number(remembered.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(5);
      expect(Math.abs(Number(early.headers.get('retry-after')) - retryAfter)).toBeLessThanOrEqual(1);
      expect(early.headers.get('ratelimit-reset')).toBe(early.headers.get('retry-after'));
      expect(admit).toHaveBeenCalledTimes(3); // answered before admission
      // Another route of the same credential goes through admission again (and is refused there).
      expectRefused(await t.request('GET', `/documents/${randomUUID()}`, { tenant: tenant.slug }), 1);
      expect(admit).toHaveBeenCalledTimes(4);
      // Someone without that credential never meets the shortcut: a wrong token is 401, as ever.
      expectStatus(await t.request('GET', '/documents', { tenant: tenant.slug, auth: 'not-a-valid-token' }), 401);
      // The other instance did not see the flood: it admits, then refuses.
      expectRefused(await t.request('GET', '/documents', { tenant: tenant.slug, baseUrl: b }), 1);
    } finally {
      admit.mockRestore();
    }
  });

  it('keeps tenants independent: one exhausted, another still answered; an unlimited tenant gets no headers', async () => {
    const noisy = await t.createTenant(unique('rl-noisy'), { plan: 'free' });
    const quiet = await t.createTenant(unique('rl-quiet'), { plan: 'free' });
    const unlimited = await t.createTenant(unique('rl-enterprise'));
    await setLimit(t, noisy.id, 'free', 3);
    await setLimit(t, quiet.id, 'free', 3);
    for (let i = 0; i < 3; i++) expect((await t.request('GET', '/documents', { tenant: noisy.slug })).status).toBe(200);
    expectRefused(await t.request('GET', '/documents', { tenant: noisy.slug, baseUrl: b }), 3);
    // Positive control on the same instances: the other tenant's budget is untouched.
    expectLimited(await t.request('GET', '/documents', { tenant: quiet.slug, baseUrl: b }), 3, 2);
    const free = await t.request('GET', '/documents', { tenant: unlimited.slug });
    expect(free.status).toBe(200);
    expect(free.headers.get('ratelimit-limit')).toBeNull();
  });

  it("limits an API key to its share of the tenant budget; other keys and the tenant's users go on", async () => {
    const tenant = await t.createTenant(unique('rl-keys'), { plan: 'pro' });
    const ci = await createApiKey(t, tenant.slug, 'member');
    const other = await createApiKey(t, tenant.slug, 'member');
    // 10 per minute for the tenant: each key may use half (RATE_LIMIT_API_KEY_SHARE, default 0.5).
    await setLimit(t, tenant.id, 'pro', 10);
    for (let i = 0; i < 5; i++) expectLimited(await t.request('GET', '/documents', { tenant: tenant.slug, auth: ci.key, baseUrl: i % 2 ? b : undefined }), 5, 4 - i);
    const refused = await t.request('GET', '/documents', { tenant: tenant.slug, auth: ci.key });
    expectRefused(refused, 5);
    expect(refused.body.error.message).toMatch(/API key/);
    // Positive controls: another key, and the owner's session, still pass. The tenant has counted 7 (the two
    // key creations ran under pro's own limit, in the same window, then 5; the refused one was not counted), so 3 are left.
    expectLimited(await t.request('GET', '/documents', { tenant: tenant.slug, auth: other.key }), 10, 2);
    expectLimited(await t.request('GET', '/documents', { tenant: tenant.slug, baseUrl: b }), 10, 1);
    expect(await rateLimitedCount(t, { limit: 'api_key', store: 'redis' })).toBeGreaterThanOrEqual(1);
  });

  it('applies a plan change at once on both instances: a raised limit lets the tenant in again', async () => {
    const tenant = await t.createTenant(unique('rl-raise'), { plan: 'free' });
    await setLimit(t, tenant.id, 'free', 2);
    expect((await t.request('GET', '/documents', { tenant: tenant.slug })).status).toBe(200);
    expect((await t.request('GET', '/documents', { tenant: tenant.slug, baseUrl: b })).status).toBe(200);
    expectRefused(await t.request('GET', '/documents', { tenant: tenant.slug, baseUrl: b }), 2);
    await setLimit(t, tenant.id, 'free', 100);
    // The same window goes on under the new limit: 3 counted with this one (a refused request is not counted).
    expectLimited(await t.request('GET', '/documents', { tenant: tenant.slug, baseUrl: b }), 100, 97);
    expectLimited(await t.request('GET', '/documents', { tenant: tenant.slug }), 100, 96);
    // And unlimited: no counting at all.
    await setLimit(t, tenant.id, 'free', null);
    const unlimited = await t.request('GET', '/documents', { tenant: tenant.slug, baseUrl: b });
    expect(unlimited.status).toBe(200);
    expect(unlimited.headers.get('ratelimit-limit')).toBeNull();
  });

  it('sends the headers with an error answered after admission too (404)', async () => {
    const tenant = await t.createTenant(unique('rl-404'), { plan: 'free' });
    await setLimit(t, tenant.id, 'free', 5);
    const missing = await t.request('GET', `/documents/${randomUUID()}`, { tenant: tenant.slug });
    expectStatus(missing, 404);
    expect(missing.headers.get('ratelimit-limit')).toBe('5');
    expect(missing.headers.get('ratelimit-remaining')).toBe('4');
  });
});

describe('sign-in throttle shared by two instances through Redis', () => {
  let t: TestApp;
  let other: INestApplication;
  let b: string;

  beforeAll(async () => {
    // A client address of its own per run (through TRUST_PROXY): counters live on in the shared test Redis,
    // and failures left under 127.0.0.1 would count against every other suite's sign-ins.
    t = await startTestApp({
      REDIS_URL: process.env.TEST_REDIS_URL!,
      TRUST_PROXY: 'true',
      LOGIN_MAX_FAILURES_PER_ACCOUNT: '3',
      LOGIN_MAX_FAILURES_PER_ADDRESS: '1000',
      LOGIN_FAILURE_WINDOW_SECONDS: '600',
    });
    ({ app: other, baseUrl: b } = await startOtherInstance(t));
  });
  afterAll(async () => {
    await other?.close();
    await t?.close();
  });

  const client = `198.18.${Math.floor(Math.random() * 256)}.${Math.floor(Math.random() * 256)}`;
  const loginOn = (baseUrl: string | undefined, tenant: string, email: string, password: string) =>
    t.request('POST', '/auth/login', { tenant, auth: false, body: { email, password }, baseUrl, headers: { 'x-forwarded-for': client } });

  it('counts failures made on A and on B against one budget; a success does not count', async () => {
    const slug = unique('rl-login');
    await t.createTenant(slug);
    const owner = `owner@${slug}.test`;
    const bystander = await addMember(t, slug, 'member', `${unique('bystander')}@people.test`);
    // Successes on both instances give their attempts back.
    for (let i = 0; i < 4; i++) expectStatus(await loginOn(i % 2 ? b : undefined, slug, owner, TEST_OWNER_PASSWORD), 200);
    expectStatus(await loginOn(undefined, slug, owner, 'wrong-1'), 401, 'INVALID_CREDENTIALS');
    expectStatus(await loginOn(b, slug, owner, 'wrong-2'), 401, 'INVALID_CREDENTIALS');
    expectStatus(await loginOn(undefined, slug, owner, 'wrong-3'), 401, 'INVALID_CREDENTIALS');
    // Three failures in all, two on A and one on B: both instances refuse, even the right password.
    for (const baseUrl of [b, undefined]) {
      const blocked = await loginOn(baseUrl, slug, owner, TEST_OWNER_PASSWORD);
      expectStatus(blocked, 429, 'TOO_MANY_REQUESTS');
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(Number(blocked.headers.get('retry-after'))).toBeLessThanOrEqual(600);
    }
    // Positive control: another account from the same address signs in on either instance.
    expectStatus(await loginOn(b, slug, bystander.email, MEMBER_PASSWORD), 200);
    expect(await rateLimitedCount(t, { limit: 'sign_in', store: 'redis' })).toBeGreaterThanOrEqual(1);
  });
});

describe('rate limits while Redis is unreachable', () => {
  let t: TestApp;
  let proxy: TcpProxy;

  beforeAll(async () => {
    const target = new URL(process.env.TEST_REDIS_URL!);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    // Two instances share the budget: alone, each enforces half of it.
    t = await startTestApp({ REDIS_URL: proxy.url('redis'), REDIS_COMMAND_TIMEOUT_MS: '200', REDIS_CONNECT_TIMEOUT_MS: '1000', RATE_LIMIT_INSTANCES: '2' });
  });
  afterAll(async () => {
    await t?.close();
    await proxy?.close();
  });

  it('falls back to in-process counting: still limits (to its share), never a 500', async () => {
    const before = await t.createTenant(unique('rl-before'), { plan: 'free' });
    const during = await t.createTenant(unique('rl-during'), { plan: 'free' });
    await setLimit(t, before.id, 'free', 4);
    await setLimit(t, during.id, 'free', 4);
    // Positive control: with Redis, the whole budget.
    expectLimited(await t.request('GET', '/documents', { tenant: before.slug }), 4, 3);

    await proxy.cut();
    const answers: ApiResponse[] = [];
    for (let i = 0; i < 4; i++) answers.push(await t.request('GET', '/documents', { tenant: during.slug }));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 429, 429]);
    expectLimited(answers[0], 2, 1);
    expectRefused(answers[2], 2);
    expect(await rateLimitedCount(t, { limit: 'tenant', store: 'memory' })).toBe(2);
  });
});

describe('rate limit headers on Express', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ REDIS_URL: process.env.TEST_REDIS_URL!, HTTP_ADAPTER: 'express' });
  });
  afterAll(() => t?.close());

  it('sends RateLimit-* on the answer and on the 429', async () => {
    const tenant = await t.createTenant(unique('rl-express'), { plan: 'free' });
    await setLimit(t, tenant.id, 'free', 1);
    expectLimited(await t.request('GET', '/documents', { tenant: tenant.slug }), 1, 0);
    expectRefused(await t.request('GET', '/documents', { tenant: tenant.slug }), 1);
  });
});
