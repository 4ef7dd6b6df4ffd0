import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SECURITY_HEADERS } from '../../src/common/http/security-headers';
import { ApiResponse, startTestApp, TestApp } from '../helpers/test-app';
import { rawRequest } from './raw-http';

/**
 * OWASP REST headers on every response the server writes, on both adapters:
 * successes, refusals by the guard, the 404 for an unknown route, answers
 * written on the socket before any routing (431), and downloads (which keep
 * their own `private, no-store`).
 */
describe.each(['fastify', 'express'] as const)('security headers (%s)', (adapter) => {
  let t: TestApp;
  let dataDir: string;

  const headersOf = (response: ApiResponse) => Object.fromEntries(Object.keys(SECURITY_HEADERS).map((name) => [name, response.headers.get(name)]));

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'security-headers-'));
    t = await startTestApp({ HTTP_ADAPTER: adapter, DATA_DIR: dataDir });
    await t.createTenant(`hdr-${adapter}`);
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('lists the headers it sets (positive control for the checks below)', () => {
    expect(SECURITY_HEADERS).toMatchObject({ 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' });
  });

  it.each([
    ['a public 200', 'GET', '/health', {}, 200],
    ['the API contract (public 200; only /docs has its own CSP, see test/openapi)', 'GET', '/openapi.json', {}, 200],
    ['a tenant 2xx', 'GET', '/documents', { tenant: 'TENANT' }, 200],
    ['a 401 from the guard', 'GET', '/documents', { tenant: 'TENANT', auth: false }, 401],
    ['a 404 for an unknown route', 'GET', '/no-such-route', {}, 404],
    ['a 415 for a form body', 'POST', '/documents', { tenant: 'TENANT', rawBody: 'title=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415],
  ] as const)('on %s', async (_what, method, url, options, status) => {
    const tenant = `hdr-${adapter}`;
    const resolved = { ...options, ...('tenant' in options ? { tenant } : {}) };
    const response = await t.request(method, url, resolved as never);
    expect(response.status).toBe(status);
    expect(headersOf(response)).toEqual(SECURITY_HEADERS);
  });

  it('on an answer written on the socket before routing (431)', async () => {
    const response = await rawRequest(t.baseUrl, `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(response.status).toBe(431);
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(response.headers[name]).toBe(value);
  });

  it('keeps a handler\'s own cache-control on downloads', async () => {
    const tenant = `hdr-${adapter}`;
    const doc = await t.request('POST', '/documents', { tenant, body: { title: 'with a file' } });
    const file = await t.request('POST', `/documents/${doc.body.id}/attachments?filename=a.txt`, { tenant, rawBody: 'bytes', headers: { 'content-type': 'text/plain' } });
    expect(file.status).toBe(201);
    const download = await t.request('GET', `/documents/${doc.body.id}/attachments/${file.body.id}/content`, { tenant, responseType: 'buffer' });
    expect(download.status).toBe(200);
    expect(download.headers.get('cache-control')).toBe('private, no-store');
    expect(download.headers.get('x-content-type-options')).toBe('nosniff');
  });
});
