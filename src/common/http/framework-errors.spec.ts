import { HttpException } from '@nestjs/common';
import { clientStatusOf, frameworkError } from './framework-errors';

const fastifyError = (code: string, statusCode: number) => Object.assign(new Error(`internal words ${code}`), { code, statusCode });
const bodyParserError = (type: string, status: number) => Object.assign(new Error('internal words'), { type, status, statusCode: status, expose: true });

describe('frameworkError', () => {
  const byCode: Array<[Error & { statusCode: number; code?: string; type?: string }, number, string]> = [
    [fastifyError('FST_ERR_CTP_INVALID_MEDIA_TYPE', 415), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    [fastifyError('FST_ERR_CTP_BODY_TOO_LARGE', 413), 413, 'PAYLOAD_TOO_LARGE'],
    [fastifyError('FST_ERR_CTP_INVALID_JSON_BODY', 400), 400, 'MALFORMED_REQUEST'],
    [fastifyError('FST_ERR_CTP_EMPTY_JSON_BODY', 400), 400, 'MALFORMED_REQUEST'],
    [fastifyError('FST_ERR_CTP_INVALID_CONTENT_LENGTH', 400), 400, 'MALFORMED_REQUEST'],
    [fastifyError('FST_ERR_BAD_URL', 400), 400, 'MALFORMED_REQUEST'],
    [fastifyError('FST_ERR_MAX_PARAM_LENGTH', 414), 414, 'URI_TOO_LONG'],
    [bodyParserError('entity.parse.failed', 400), 400, 'MALFORMED_REQUEST'],
    [bodyParserError('entity.too.large', 413), 413, 'PAYLOAD_TOO_LARGE'],
    [bodyParserError('charset.unsupported', 415), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    [bodyParserError('encoding.unsupported', 415), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    [bodyParserError('request.size.invalid', 400), 400, 'MALFORMED_REQUEST'],
  ];
  it.each(byCode.map(([cause, status, code]) => [cause.code ?? cause.type, cause, status, code] as const))('maps %s by its code, in our words', (_name, cause, status, code) => {
    const mapped = frameworkError(cause.statusCode, cause, cause.message);
    expect(mapped.code).toBe(code);
    expect(mapped.message).not.toMatch(/internal words|FST_|entity/);
    // The same error unwrapped (no HttpException around it) maps the same way.
    expect(clientStatusOf(cause)).toBe(status);
  });

  it.each([
    [404, 'ROUTE_NOT_FOUND'],
    [405, 'METHOD_NOT_ALLOWED'],
    [408, 'REQUEST_TIMEOUT'],
    [413, 'PAYLOAD_TOO_LARGE'],
    [414, 'URI_TOO_LONG'],
    [415, 'UNSUPPORTED_MEDIA_TYPE'],
    [417, 'EXPECTATION_FAILED'],
    [431, 'HEADERS_TOO_LARGE'],
    [400, 'MALFORMED_REQUEST'],
    [422, 'MALFORMED_REQUEST'],
    [500, 'INTERNAL_ERROR'],
  ])('maps a bare status %i to %s', (status, code) => {
    expect(frameworkError(status, undefined, new HttpException('x', status).message).code).toBe(code);
  });

  it('ignores a cause whose code is an Object.prototype key', () => {
    expect(frameworkError(400, { code: 'constructor' }, '').code).toBe('MALFORMED_REQUEST');
  });

  it('leaves errors of unknown origin to the 500 path', () => {
    expect(clientStatusOf(Object.assign(new Error('x'), { statusCode: 400 }))).toBeUndefined();
    expect(clientStatusOf(fastifyError('FST_ERR_SOMETHING', 500))).toBeUndefined();
  });
});
