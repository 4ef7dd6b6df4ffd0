import { startTestApp, TestApp } from '../helpers/test-app';

/**
 * HTTP_ADAPTER=fastify|express must be interchangeable for clients: the same
 * request ids, the same error envelope, the same body limit. Only platform
 * and public routes are used here, so the file does not depend on how tenant
 * routes authenticate.
 */
describe.each(['fastify', 'express'] as const)('HTTP adapter %s', (adapter) => {
  let t: TestApp;
  beforeAll(async () => (t = await startTestApp({ HTTP_ADAPTER: adapter })));
  afterAll(() => t?.close());

  it('serves a public route and gives it a request id', async () => {
    const response = await t.request('GET', '/health');
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'ok' });
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('echoes a well-formed x-request-id and replaces an unsafe one', async () => {
    const echoed = await t.request('GET', '/health', { headers: { 'x-request-id': 'client-id.42' } });
    expect(echoed.headers.get('x-request-id')).toBe('client-id.42');
    const replaced = await t.request('GET', '/health', { headers: { 'x-request-id': 'bad id<script>' } });
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers an unknown route with the error envelope carrying the request id', async () => {
    const response = await t.request('GET', '/no-such-route', { headers: { 'x-request-id': 'rid-404' } });
    expect(response.status).toBe(404);
    expect(response.headers.get('x-request-id')).toBe('rid-404');
    expect(response.body).toMatchObject({ error: { code: 'ROUTE_NOT_FOUND' }, statusCode: 404, requestId: 'rid-404', path: '/no-such-route' });
  });

  it('creates a tenant through a platform route (positive control for the rejections below)', async () => {
    const response = await t.request('POST', '/tenants', { admin: true, body: { slug: `adapter-${adapter}`, name: 'Adapter' } });
    expect(response.status).toBe(201);
    expect(response.headers.get('x-request-id')).toBeTruthy();
  });

  it('rejects malformed JSON with the envelope', async () => {
    const response = await t.request('POST', '/tenants', {
      admin: true,
      rawBody: '{"slug": ',
      headers: { 'content-type': 'application/json', 'x-request-id': 'rid-json' },
    });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: { code: 'MALFORMED_REQUEST' }, statusCode: 400, requestId: 'rid-json' });
  });

  it('accepts a body up to 1 MB and rejects a larger one with 413', async () => {
    const big = (size: number) => JSON.stringify({ slug: `big-${adapter}`, name: 'x'.repeat(size) });
    const underLimit = await t.request('POST', '/tenants', { admin: true, rawBody: big(200_000), headers: { 'content-type': 'application/json' } });
    // Past the parser: the name is then refused by validation, not by the size limit.
    expect(underLimit.status).toBe(400);
    expect(underLimit.body.error.code).toBe('VALIDATION_FAILED');
    const overLimit = await t.request('POST', '/tenants', { admin: true, rawBody: big(1_100_000), headers: { 'content-type': 'application/json' } });
    expect(overLimit.status).toBe(413);
    expect(overLimit.body).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' }, statusCode: 413 });
  });

  it('refuses platform routes without the admin key, with the envelope', async () => {
    const response = await t.request('GET', '/tenants', { headers: { 'x-request-id': 'rid-401' } });
    expect(response.status).toBe(401);
    expect(response.body).toMatchObject({ error: { code: 'UNAUTHENTICATED' }, requestId: 'rid-401' });
  });
});
