import { startTestApp, TestApp } from '../helpers/test-app';
import { TEST_ADMIN_KEY } from '../helpers/test-env';
import { rawExchange, rawRequest } from './raw-http';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Words that would mean a parser's or framework's internals reached the client. */
const INTERNALS = /HPE_|FST_|llhttp|fastify|express|body-parser|SyntaxError|Unexpected token|at \/|node:/i;

/** The documented envelope, its headers, and nothing of the parser's own words. */
function expectEnvelope(response: { status: number; body: any; headers: Headers | Record<string, string> }, status: number, code: string, requestId: string | RegExp = UUID): void {
  const header = (name: string) => (response.headers instanceof Headers ? response.headers.get(name) : response.headers[name]) ?? undefined;
  expect({ status: response.status, code: response.body?.error?.code }).toEqual({ status, code });
  expect(response.body).toEqual({
    error: { code, message: expect.any(String), ...(response.body.error.details ? { details: expect.any(Array) } : {}) },
    statusCode: status,
    requestId: typeof requestId === 'string' && requestId !== (UUID as unknown) ? requestId : expect.stringMatching(requestId),
    timestamp: expect.any(String),
    path: expect.any(String),
  });
  expect(header('content-type')).toMatch(/^application\/json/);
  expect(header('x-request-id')).toBe(response.body.requestId);
  expect(JSON.stringify(response.body)).not.toMatch(INTERNALS);
}

/**
 * Issue 9: requests refused before the application's filter (by Node's HTTP
 * parser, by the router, by the body parsers) get the same envelope as every
 * other error, on both adapters; JSON routes take application/json only.
 */
describe.each(['fastify', 'express'] as const)('errors before the handler, %s', (adapter) => {
  let t: TestApp;
  const http = (lines: string[], body = '') => lines.join('\r\n') + '\r\n\r\n' + body;
  const admin = `Authorization: Bearer ${TEST_ADMIN_KEY}`;

  beforeAll(async () => {
    t = await startTestApp({ HTTP_ADAPTER: adapter });
    await t.createTenant(`parse-${adapter}`);
  });
  afterAll(() => t?.close());

  describe('requests Node cannot parse (answered on the socket)', () => {
    it('answers 20 KB of headers with 431 HEADERS_TOO_LARGE', async () => {
      const response = await rawRequest(t.baseUrl, http(['GET /health HTTP/1.1', 'Host: x', `X-Big: ${'a'.repeat(20 * 1024)}`]));
      expectEnvelope(response, 431, 'HEADERS_TOO_LARGE');
      expect(response.body.path).toBe('/health');
      expect(response.headers.connection).toBe('close');
    });

    it.each([
      ['a garbage request line', http(['this is not http'])],
      ['an unknown method', http(['BREW /health HTTP/1.1', 'Host: x'])],
      ['a request line with extra words', http(['GET /health HTTP/1.1 please', 'Host: x'])],
      ['an unsupported HTTP version', http(['GET /health HTTP/3.7', 'Host: x'])],
      ['a header name with a space', http(['GET /health HTTP/1.1', 'Host: x', 'Bad Header: y'])],
      ['a control character in a header value', http(['GET /health HTTP/1.1', 'Host: x', 'X-Test: a\u0001b'])],
      ['a header line without a colon', http(['GET /health HTTP/1.1', 'Host: x', 'no colon here'])],
      ['a non-numeric Content-Length', http(['POST /tenants HTTP/1.1', 'Host: x', admin, 'Content-Type: application/json', 'Content-Length: abc'], '{}')],
      ['two different Content-Lengths', http(['POST /tenants HTTP/1.1', 'Host: x', admin, 'Content-Type: application/json', 'Content-Length: 2', 'Content-Length: 3'], '{}')],
      ['Content-Length together with chunked', http(['POST /tenants HTTP/1.1', 'Host: x', admin, 'Content-Type: application/json', 'Content-Length: 2', 'Transfer-Encoding: chunked'], '2\r\n{}\r\n0\r\n\r\n')],
      ['a transfer coding other than chunked', http(['POST /tenants HTTP/1.1', 'Host: x', admin, 'Content-Type: application/json', 'Transfer-Encoding: gzip'], '{}')],
      ['a bad chunk size', http(['POST /tenants HTTP/1.1', 'Host: x', admin, 'Content-Type: application/json', 'Transfer-Encoding: chunked'], 'zz\r\n{}\r\n0\r\n\r\n')],
    ])('answers %s with 400 MALFORMED_REQUEST', async (_name, request) => {
      const response = await rawRequest(t.baseUrl, request);
      expectEnvelope(response, 400, 'MALFORMED_REQUEST');
      expect(response.headers.connection).toBe('close');
    });

    it('answers every response on a connection whose Content-Length is shorter than the body with the envelope', async () => {
      // The first 5 bytes are the body (not JSON); the rest is read as the next request line (not HTTP).
      const responses = await rawExchange(t.baseUrl, http(['POST /tenants HTTP/1.1', 'Host: x', admin, 'Content-Type: application/json', 'Content-Length: 5'], '{"slug":"short"}'));
      expect(responses.length).toBeGreaterThanOrEqual(1);
      for (const response of responses) expectEnvelope(response, 400, 'MALFORMED_REQUEST');
    });
  });

  describe('HTTP/1.0 and 1.1 details', () => {
    it('answers an HTTP/1.1 request without Host with 400 MALFORMED_REQUEST carrying the request id', async () => {
      const response = await rawRequest(t.baseUrl, http(['GET /health HTTP/1.1', 'X-Request-Id: rid-nohost']));
      expectEnvelope(response, 400, 'MALFORMED_REQUEST', 'rid-nohost');
      expect(response.body.path).toBe('/health');
    });

    it('serves HTTP/1.0 without Host (positive control) and answers its errors with the envelope', async () => {
      const ok = await rawRequest(t.baseUrl, http(['GET /health HTTP/1.0']));
      expect(ok.status).toBe(200);
      expect(ok.body).toEqual({ status: 'ok' });
      const missing = await rawRequest(t.baseUrl, http(['GET /no-such-route HTTP/1.0', 'X-Request-Id: rid-10']));
      expectEnvelope(missing, 404, 'ROUTE_NOT_FOUND', 'rid-10');
      const form = await rawRequest(t.baseUrl, http(['POST /tenants HTTP/1.0', admin, 'Content-Type: application/x-www-form-urlencoded', 'Content-Length: 19'], 'slug=http10&name=x1'));
      expectEnvelope(form, 415, 'UNSUPPORTED_MEDIA_TYPE');
    });

    it('answers an Expect other than 100-continue with 417 EXPECTATION_FAILED', async () => {
      const response = await rawRequest(t.baseUrl, http(['GET /health HTTP/1.1', 'Host: x', 'Expect: the-unexpected', 'X-Request-Id: rid-417']));
      expectEnvelope(response, 417, 'EXPECTATION_FAILED', 'rid-417');
    });

    it('refuses a declared Content-Length over the limit with 413 before the body arrives, and closes', async () => {
      const response = await rawRequest(
        t.baseUrl,
        http(['POST /tenants HTTP/1.1', 'Host: x', admin, 'Content-Type: application/json', `Content-Length: ${5 * 1024 * 1024}`, 'X-Request-Id: rid-413'], '{"slug":'),
      );
      expectEnvelope(response, 413, 'PAYLOAD_TOO_LARGE', 'rid-413');
      expect(response.headers.connection).toBe('close');
    });
  });

  describe('URLs and routes', () => {
    it.each(['/%', '/%zz', '/documents/%E0%A4%A', '/health/%C0'])('answers the undecodable path %s with 400 MALFORMED_REQUEST', async (path) => {
      const response = await t.request('GET', path, { headers: { 'x-request-id': 'rid-url' } });
      expectEnvelope(response, 400, 'MALFORMED_REQUEST', 'rid-url');
    });

    it('answers an unknown route and a known path with another method with 404 ROUTE_NOT_FOUND (no route answers 405)', async () => {
      expectEnvelope(await t.request('GET', '/no/such/route', { headers: { 'x-request-id': 'rid-404' } }), 404, 'ROUTE_NOT_FOUND', 'rid-404');
      expectEnvelope(await t.request('DELETE', '/health'), 404, 'ROUTE_NOT_FOUND');
      expectEnvelope(await t.request('PATCH', '/tenants', { admin: true, body: {} }), 404, 'ROUTE_NOT_FOUND');
      // The route is unknown before the body's type matters, on both adapters.
      expectEnvelope(await t.request('POST', '/no/such/route', { rawBody: 'x=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 404, 'ROUTE_NOT_FOUND');
    });

    it('answers an over-long path segment with the envelope (Fastify: 414 URI_TOO_LONG from its router)', async () => {
      const response = await t.request('GET', `/tenants/${'a'.repeat(300)}`, { admin: true });
      if (adapter === 'fastify') expectEnvelope(response, 414, 'URI_TOO_LONG');
      // Express has no such limit: the route runs and finds no such tenant.
      else expectEnvelope(response, 404, 'NOT_FOUND');
    });
  });

  describe('JSON routes take application/json only', () => {
    const form = 'slug=form-made&name=Form+made';
    const tenantSlugs = async () => ((await t.request('GET', '/tenants?limit=100', { admin: true })).body.items as Array<{ slug: string }>).map((i) => i.slug);
    const documentTitles = async () => ((await t.request('GET', '/documents', { tenant: `parse-${adapter}` })).body.items as Array<{ title: string }>).map((i) => i.title);

    it.each([
      ['a form', 'application/x-www-form-urlencoded', form],
      ['text', 'text/plain', JSON.stringify({ slug: 'text-made', name: 'Text made' })],
      ['multipart', 'multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="slug"\r\n\r\nmulti\r\n--x--\r\n'],
      ['a JSON look-alike type', 'application/jsonp', JSON.stringify({ slug: 'jsonp-made', name: 'x' })],
      ['a +json type', 'application/merge-patch+json', JSON.stringify({ slug: 'merge-made', name: 'x' })],
      ['an invalid media type', 'not a media type', JSON.stringify({ slug: 'invalid-made', name: 'x' })],
    ])('answers %s with 415 UNSUPPORTED_MEDIA_TYPE on a platform route and creates nothing', async (_name, contentType, body) => {
      const response = await t.request('POST', '/tenants', { admin: true, rawBody: body, headers: { 'content-type': contentType, 'x-request-id': 'rid-415' } });
      expectEnvelope(response, 415, 'UNSUPPORTED_MEDIA_TYPE', 'rid-415');
      expect((await tenantSlugs()).filter((slug) => slug.endsWith('-made'))).toEqual([]);
    });

    it('answers a form-encoded document with 415 on a tenant route, before authentication, and creates no document', async () => {
      const response = await t.request('POST', '/documents', { tenant: `parse-${adapter}`, rawBody: 'title=from+a+form', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      expectEnvelope(response, 415, 'UNSUPPORTED_MEDIA_TYPE');
      const anonymous = await t.request('POST', '/documents', { tenant: `parse-${adapter}`, auth: false, rawBody: 'title=x', headers: { 'content-type': 'text/plain' } });
      expectEnvelope(anonymous, 415, 'UNSUPPORTED_MEDIA_TYPE');
      expect(await documentTitles()).not.toContain('from a form');
    });

    it('answers a body without Content-Type with 415, and takes a body-less POST without one', async () => {
      const response = await rawRequest(t.baseUrl, http(['POST /tenants HTTP/1.1', 'Host: x', admin, 'Content-Length: 2', 'X-Request-Id: rid-noct'], '{}'));
      expectEnvelope(response, 415, 'UNSUPPORTED_MEDIA_TYPE', 'rid-noct');
      const chunked = await rawRequest(t.baseUrl, http(['POST /tenants HTTP/1.1', 'Host: x', admin, 'Transfer-Encoding: chunked'], '2\r\n{}\r\n0\r\n\r\n'));
      expectEnvelope(chunked, 415, 'UNSUPPORTED_MEDIA_TYPE');
      // No body at all: the handler runs and validation answers (the body is required here).
      const empty = await rawRequest(t.baseUrl, http(['POST /tenants HTTP/1.1', 'Host: x', admin, 'Content-Length: 0']));
      expectEnvelope(empty, 400, 'VALIDATION_FAILED');
    });

    it('accepts application/json with a charset parameter and in any case (positive control)', async () => {
      const created = await t.request('POST', '/tenants', {
        admin: true,
        rawBody: JSON.stringify({ slug: `json-ok-${adapter}`, name: 'JSON ok' }),
        headers: { 'content-type': 'Application/JSON; charset=utf-8' },
      });
      expect(created.status).toBe(201);
      const doc = await t.request('POST', '/documents', { tenant: `parse-${adapter}`, body: { title: 'as json' } });
      expect(doc.status).toBe(201);
    });

    it('still streams uploads of any content type, and of none', async () => {
      const doc = await t.request('POST', '/documents', { tenant: `parse-${adapter}`, body: { title: 'has files' } });
      for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
        const upload = await t.request('POST', `/documents/${doc.body.id}/attachments?filename=f.bin`, {
          tenant: `parse-${adapter}`,
          rawBody: new TextEncoder().encode('a=1&b=2'),
          headers: { 'content-type': contentType },
        });
        expect({ contentType, status: upload.status }).toEqual({ contentType, status: 201 });
        expect(upload.body.sizeBytes).toBe(7);
      }
      const untyped = await rawRequest(
        t.baseUrl,
        http([`POST /documents/${doc.body.id}/attachments?filename=g.bin HTTP/1.1`, 'Host: x', `X-Tenant-Id: parse-${adapter}`, `Authorization: Bearer ${t.tokenFor(`parse-${adapter}`)}`, 'Content-Length: 7'], 'a=1&b=2'),
      );
      expect(untyped.status).toBe(201);
      expect(untyped.body.sizeBytes).toBe(7);
    });
  });
});
