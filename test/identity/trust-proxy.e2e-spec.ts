import { startTestApp, TestApp } from '../helpers/test-app';

/** Sign-in limits count by client address; X-Forwarded-For is believed only when TRUST_PROXY says so. */
describe('client address behind a proxy (TRUST_PROXY)', () => {
  const guess = (t: TestApp, i: number, forwardedFor: string) =>
    t.request('POST', '/auth/login', {
      tenant: 'proxied',
      auth: false,
      headers: { 'x-forwarded-for': forwardedFor },
      body: { email: `nobody-${i}@example.test`, password: 'wrong-password-1' },
    });

  async function exhaustAddress(t: TestApp, forwardedFor: string): Promise<number[]> {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await guess(t, i, forwardedFor)).status);
    return statuses;
  }

  it('TRUST_PROXY=true: each forwarded client has its own budget', async () => {
    const t = await startTestApp({ TRUST_PROXY: 'true', LOGIN_MAX_FAILURES_PER_ADDRESS: '3' });
    try {
      await t.createTenant('proxied');
      expect(await exhaustAddress(t, '203.0.113.7')).toEqual([401, 401, 401, 429]);
      // Positive control: another client behind the same proxy is not blocked by the first one.
      expect((await guess(t, 9, '198.51.100.4')).status).toBe(401);
    } finally {
      await t.close();
    }
  });

  it('TRUST_PROXY=false (default): a forged X-Forwarded-For does not buy a fresh budget', async () => {
    const t = await startTestApp({ LOGIN_MAX_FAILURES_PER_ADDRESS: '3' });
    try {
      await t.createTenant('proxied');
      expect(await exhaustAddress(t, '203.0.113.7')).toEqual([401, 401, 401, 429]);
      expect((await guess(t, 9, '198.51.100.4')).status).toBe(429);
    } finally {
      await t.close();
    }
  });
});
