import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { requestIdOf } from './request-id';
import { BEARER_CHALLENGE } from './www-authenticate';
import { AppError, ErrorDetail } from '../errors/app-error';
import { mapDatabaseError } from '../errors/database-errors';
import { ErrorCode, httpStatusFor } from '../errors/error-codes';

/** The one error envelope every failing response uses. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: ErrorDetail[] };
  statusCode: number;
  requestId?: string;
  timestamp: string;
  path: string;
}

/**
 * Maps every error to the stable envelope: domain errors by code, framework
 * HTTP errors by status, database errors by SQLSTATE, anything else to a bare
 * 500 whose detail goes only to the log.
 */
@Catch()
export class AppExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest();
    const response = http.getResponse();
    const requestId = requestIdOf(request);
    const appError = this.toAppError(exception, requestId);
    const statusCode = httpStatusFor(appError.code);

    const body: ErrorBody = {
      error: { code: appError.code, message: appError.message, ...(appError.details ? { details: appError.details } : {}) },
      statusCode,
      ...(requestId ? { requestId } : {}),
      timestamp: new Date().toISOString(),
      path: String(request.url ?? '').split('?')[0],
    };
    const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', ...(requestId ? { 'x-request-id': requestId } : {}), ...appError.headers };
    // RFC 9110: every 401 carries a challenge. The thrower may refine it (RFC 6750 error="invalid_token"); otherwise the plain one.
    if (statusCode === 401 && !Object.keys(headers).some((name) => name.toLowerCase() === 'www-authenticate')) {
      headers['www-authenticate'] = BEARER_CHALLENGE;
    }
    sendJson(response, statusCode, headers, body);
  }

  private toAppError(exception: unknown, requestId: string | undefined): AppError {
    if (exception instanceof AppError) {
      if (exception.code !== ErrorCode.Internal) return exception;
      // Internal errors describe our bug ("no tenant context", "row named another tenant"): log, never echo.
      this.logger.error(`[${requestId}] ${exception.message}`, exception.stack);
      return new AppError(ErrorCode.Internal, 'Internal server error');
    }
    if (exception instanceof HttpException) return fromHttpException(exception);
    const mapped = mapDatabaseError(exception);
    if (mapped) {
      if (mapped.code === ErrorCode.ServiceUnavailable) this.logger.warn(`[${requestId}] database unavailable: ${describe(exception)}`);
      return mapped;
    }
    this.logger.error(`[${requestId}] unhandled ${describe(exception)}`, stackOf(exception));
    return new AppError(ErrorCode.Internal, 'Internal server error');
  }
}

/**
 * drizzle's DrizzleQueryError puts the bound parameters in its message and
 * stack ("params: ..."): password hashes, key hashes, emails. Only its cause
 * (the driver's error, which carries no parameters) may reach the log.
 */
function isQueryError(exception: unknown): exception is Error & { query: string; params: unknown; cause?: unknown } {
  return exception instanceof Error && 'params' in exception && 'query' in exception;
}

function describe(exception: unknown): string {
  if (isQueryError(exception)) return `query failed: ${exception.cause ? describe(exception.cause) : 'no cause'}`;
  if (exception instanceof Error) return `${exception.name}: ${exception.message}`;
  return String(exception);
}

function stackOf(exception: unknown): string | undefined {
  if (isQueryError(exception)) return exception.cause instanceof Error ? exception.cause.stack : undefined;
  return (exception as Error)?.stack;
}

/** Framework errors: unknown routes, body parser failures, size limits. */
function fromHttpException(exception: HttpException): AppError {
  const status = exception.getStatus();
  const fastifyCode = (exception.getResponse() as { code?: string })?.code ?? (exception.cause as { code?: string })?.code;
  switch (status) {
    case 404:
      return new AppError(ErrorCode.RouteNotFound, 'No such route');
    case 405:
      return new AppError(ErrorCode.MethodNotAllowed, 'Method not allowed');
    case 413:
      return new AppError(ErrorCode.PayloadTooLarge, 'Request body is too large');
    case 415:
      return new AppError(ErrorCode.UnsupportedMediaType, 'Unsupported content type');
    case 401:
      return new AppError(ErrorCode.Unauthenticated, 'Authentication required');
    case 403:
      return new AppError(ErrorCode.Forbidden, 'Forbidden');
    case 429:
      return new AppError(ErrorCode.TooManyRequests, 'Too many requests');
    default:
      if (status >= 400 && status < 500) {
        const message = fastifyCode === 'FST_ERR_CTP_INVALID_JSON_BODY' || /JSON/i.test(exception.message)
          ? 'Request body is not valid JSON'
          : 'Malformed request';
        return new AppError(ErrorCode.MalformedRequest, message);
      }
      return new AppError(ErrorCode.Internal, 'Internal server error');
  }
}

/** Works for Fastify replies and Express/Node responses alike. */
function sendJson(response: any, status: number, headers: Record<string, string>, body: unknown): void {
  if (typeof response.code === 'function' && typeof response.headers === 'function') {
    response.code(status).headers(headers).send(JSON.stringify(body));
    return;
  }
  if (response.headersSent) return;
  response.writeHead(status, headers);
  response.end(JSON.stringify(body));
}
