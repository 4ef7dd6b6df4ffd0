import { randomUUID } from 'node:crypto';
import { startTestApp, TestApp } from '../helpers/test-app';
import { TEST_ADMIN_KEY, TEST_OWNER_PASSWORD } from '../helpers/test-env';

/**
 * What an operator reads (README "Logs"): JSON lines, one access line per request
 * with the route template, tenant, principal and request id, and no credential
 * anywhere, whatever the request carried.
 */
describe('structured logs', () => {
  const lines: string[] = [];
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ LOG_LEVEL: 'log', LOG_FORMAT: 'json' }, { logDestination: { write: (line: string) => void lines.push(line) } });
  });
  afterAll(async () => {
    await t?.close();
  });

  const records = () => lines.map((line) => JSON.parse(line) as Record<string, any>);

  /** The access line is written after the response (onResponse), so it may trail the client by a tick. */
  async function accessLine(requestId: string): Promise<Record<string, any>> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const found = records().filter((record) => record.msg === 'request completed' && record.requestId === requestId);
      if (found.length > 0) {
        expect(found).toHaveLength(1);
        return found[0];
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`no access line for ${requestId}`);
  }

  it('logs requests without the password, the token or the API key, and with the fields to trace them', async () => {
    const tenant = await t.createTenant(`logs-${randomUUID().slice(0, 8)}`);
    const email = `owner@${tenant.slug}.test`;

    const loginId = `login-${randomUUID()}`;
    const session = await t.request('POST', '/auth/login', { tenant: tenant.id, auth: false, headers: { 'x-request-id': loginId }, body: { email, password: TEST_OWNER_PASSWORD } });
    expect(session.status).toBe(200);
    const token: string = session.body.accessToken;
    const wrongPassword = `wrong-${randomUUID()}`;
    expect((await t.login(tenant.id, email, wrongPassword)).status).toBe(401);

    const meId = `me-${randomUUID()}`;
    const me = await t.request('GET', '/me', { tenant: tenant.id, auth: token, headers: { 'x-request-id': meId, cookie: `session=${token}` } });
    expect(me.status).toBe(200);

    const created = await t.request('POST', '/api-keys', { tenant: tenant.id, auth: token, body: { name: 'logs', role: 'member' } });
    expect(created.status).toBe(201);
    const apiKey: string = created.body.key;
    const keyId = `key-${randomUUID()}`;
    expect((await t.request('GET', '/me', { tenant: tenant.id, auth: apiKey, headers: { 'x-request-id': keyId } })).status).toBe(200);

    // Answered by the exception filter: still one access line, with the template rather than the id.
    const missingId = `missing-${randomUUID()}`;
    const missing = await t.request('GET', `/documents/${randomUUID()}`, { tenant: tenant.id, auth: token, headers: { 'x-request-id': missingId } });
    expect(missing.status).toBe(404);

    const login = await accessLine(loginId);
    expect(login).toMatchObject({ level: 30, tenantId: tenant.id, req: { id: loginId, method: 'POST', route: '/auth/login' }, res: { statusCode: 200 } });
    expect(typeof login.responseTime).toBe('number');

    expect(await accessLine(meId)).toMatchObject({ tenantId: tenant.id, principal: { kind: 'user' }, req: { method: 'GET', route: '/me' }, res: { statusCode: 200 } });
    expect(await accessLine(keyId)).toMatchObject({ tenantId: tenant.id, principal: { kind: 'api-key' }, req: { method: 'GET', route: '/me' }, res: { statusCode: 200 } });
    expect(await accessLine(missingId)).toMatchObject({ tenantId: tenant.id, req: { method: 'GET', route: '/documents/:id' }, res: { statusCode: 404 } });

    // Every line is JSON (Nest's own bootstrap lines included), and none carries a credential.
    expect(records().some((record) => record.context === 'NestApplication')).toBe(true);
    const output = lines.join('');
    for (const secret of [TEST_OWNER_PASSWORD, wrongPassword, token, apiKey, apiKey.slice(-43), TEST_ADMIN_KEY]) {
      expect(output.includes(secret)).toBe(false);
    }
  });
});
