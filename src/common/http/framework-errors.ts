import { AppError } from '../errors/app-error';
import { ErrorCode } from '../errors/error-codes';

/**
 * Errors the HTTP stack raises before (or instead of) a handler: Fastify's
 * FST_ERR_* (content-type parser, body limit, router), body-parser's
 * http-errors on Express (`type`), Nest's own 404. Mapped by their code when
 * they have one, else by status; the message is ours, never the framework's
 * (which can quote the path, the parser state or the JSON that failed).
 */
const BY_CODE: Record<string, () => AppError> = {
  // Fastify
  FST_ERR_CTP_INVALID_MEDIA_TYPE: unsupportedMediaType,
  FST_ERR_CTP_BODY_TOO_LARGE: payloadTooLarge,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => malformed('Content-Length does not match the body'),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => malformed('Request body is empty but Content-Type is application/json'),
  FST_ERR_CTP_INVALID_JSON_BODY: invalidJson,
  FST_ERR_BAD_URL: malformedUrl,
  FST_ERR_MAX_PARAM_LENGTH: () => new AppError(ErrorCode.UriTooLong, 'A path segment is too long'),
  // body-parser (Express)
  'entity.parse.failed': invalidJson,
  'entity.too.large': payloadTooLarge,
  'charset.unsupported': unsupportedMediaType,
  'encoding.unsupported': unsupportedMediaType,
  'request.size.invalid': () => malformed('Content-Length does not match the body'),
  'request.aborted': () => malformed('The request body was not received completely'),
};

export function frameworkError(status: number, cause: unknown, message: string): AppError {
  const code = codeOf(cause);
  const byCode = code !== undefined && Object.hasOwn(BY_CODE, code) ? BY_CODE[code] : undefined;
  if (byCode) return byCode();
  switch (status) {
    case 404:
      return new AppError(ErrorCode.RouteNotFound, 'No such route');
    case 405:
      return new AppError(ErrorCode.MethodNotAllowed, 'Method not allowed');
    case 408:
      return requestTimeout();
    case 413:
      return payloadTooLarge();
    case 414:
      return new AppError(ErrorCode.UriTooLong, 'The URL is too long');
    case 415:
      return unsupportedMediaType();
    case 417:
      return expectationFailed();
    case 431:
      return headersTooLarge();
    case 401:
      return new AppError(ErrorCode.Unauthenticated, 'Authentication required');
    case 403:
      return new AppError(ErrorCode.Forbidden, 'Forbidden');
    case 429:
      return new AppError(ErrorCode.TooManyRequests, 'Too many requests');
    default:
      if (status >= 400 && status < 500) {
        // Express: URIError for an undecodable path parameter; a SyntaxError from a JSON parser.
        if (cause instanceof URIError) return malformedUrl();
        return cause instanceof SyntaxError || /JSON/i.test(message) ? invalidJson() : malformed('Malformed request');
      }
      return new AppError(ErrorCode.Internal, 'Internal server error');
  }
}

/** The 4xx status of a framework error that reached the filter without being wrapped in an HttpException. */
export function clientStatusOf(error: unknown): number | undefined {
  const e = error as { statusCode?: unknown; status?: unknown; code?: unknown; type?: unknown } | undefined;
  // Only errors that say where they come from: Fastify's codes, http-errors' types. Anything else is a bug (500).
  if (!(typeof e?.code === 'string' && e.code.startsWith('FST_ERR_')) && typeof e?.type !== 'string') return undefined;
  const status = typeof e.statusCode === 'number' ? e.statusCode : e.status;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}

function codeOf(cause: unknown): string | undefined {
  const e = cause as { code?: unknown; type?: unknown } | undefined;
  if (typeof e?.code === 'string') return e.code;
  if (typeof e?.type === 'string') return e.type;
  return undefined;
}

function malformed(message: string): AppError {
  return new AppError(ErrorCode.MalformedRequest, message);
}

function invalidJson(): AppError {
  return malformed('Request body is not valid JSON');
}

export function malformedUrl(): AppError {
  return malformed('The URL is not validly percent-encoded');
}

export function payloadTooLarge(): AppError {
  return new AppError(ErrorCode.PayloadTooLarge, 'Request body is too large');
}

export function unsupportedMediaType(): AppError {
  return new AppError(ErrorCode.UnsupportedMediaType, 'Unsupported content type: send the body as application/json');
}

export function headersTooLarge(): AppError {
  return new AppError(ErrorCode.HeadersTooLarge, 'Request header fields are too large');
}

export function requestTimeout(): AppError {
  return new AppError(ErrorCode.RequestTimeout, 'The request was not received in time');
}

export function expectationFailed(): AppError {
  return new AppError(ErrorCode.ExpectationFailed, 'Only "Expect: 100-continue" is supported');
}
