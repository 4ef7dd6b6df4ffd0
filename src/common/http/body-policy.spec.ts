import { bodyMediaTypeError, expressBodyPolicy } from './body-policy';

describe('bodyMediaTypeError', () => {
  const req = (method: string, headers: Record<string, string>) => ({ method, headers });
  it.each([
    ['POST', { 'content-type': 'application/json' }],
    ['POST', { 'content-type': 'application/json; charset=utf-8' }],
    ['PATCH', { 'content-type': 'APPLICATION/JSON' }],
    ['POST', {}],
    ['POST', { 'content-length': '0' }],
    ['GET', { 'content-type': 'text/plain', 'content-length': '3' }],
  ])('accepts %s with %j', (method, headers) => {
    expect(bodyMediaTypeError(req(method, headers))).toBeUndefined();
  });

  it.each([
    ['POST', { 'content-type': 'application/x-www-form-urlencoded' }],
    ['POST', { 'content-type': 'text/plain' }],
    ['PUT', { 'content-type': 'application/jsonp' }],
    ['DELETE', { 'content-type': 'multipart/form-data; boundary=x' }],
    ['POST', { 'content-length': '2' }],
    ['POST', { 'transfer-encoding': 'chunked' }],
  ])('refuses %s with %j (415)', (method, headers) => {
    expect(bodyMediaTypeError(req(method, headers))?.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });
});

describe('expressBodyPolicy', () => {
  const policy = expressBodyPolicy(
    { json: [{ method: 'POST', path: '/documents' }, { method: 'POST', path: '/documents/:id/:part' }], rawBody: [{ method: 'POST', path: '/documents/:id/attachments' }] },
    100,
  );
  const run = (method: string, path: string, headers: Record<string, string>) => {
    let outcome: unknown = 'not called';
    const response = { headers: {} as Record<string, string>, setHeader: (name: string, value: string) => (response.headers[name] = value) };
    policy({ method, url: path, path, headers } as never, response, (error?: unknown) => (outcome = (error as { code?: string } | undefined)?.code ?? 'next'));
    return { outcome, connection: response.headers.connection };
  };

  it('refuses non-JSON bodies and declared lengths over the limit on JSON routes (any case, trailing slash), closing the connection', () => {
    expect(run('POST', '/documents', { 'content-type': 'text/plain' })).toEqual({ outcome: 'UNSUPPORTED_MEDIA_TYPE', connection: 'close' });
    expect(run('POST', '/Documents/', { 'content-type': 'text/plain' }).outcome).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(run('POST', '/documents', { 'content-type': 'application/json', 'content-length': '101' }).outcome).toBe('PAYLOAD_TOO_LARGE');
    expect(run('POST', '/documents', { 'content-type': 'application/json', 'content-length': '100' }).outcome).toBe('next');
  });

  it('lets raw-body routes (even where a JSON pattern overlaps) and unknown paths through', () => {
    expect(run('POST', '/documents/1/attachments', { 'content-type': 'text/plain', 'content-length': '1000' }).outcome).toBe('next');
    expect(run('POST', '/documents/1/comments', { 'content-type': 'text/plain' }).outcome).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(run('POST', '/no/such/route', { 'content-type': 'text/plain' }).outcome).toBe('next');
    expect(run('PUT', '/documents', { 'content-type': 'text/plain' }).outcome).toBe('next');
  });
});
