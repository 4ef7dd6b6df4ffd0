import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { requestIdOf } from './request-id';
import { AppError } from '../errors/app-error';
import { mapDatabaseError } from '../errors/database-errors';
import { ErrorCode } from '../errors/error-codes';
import { errorResponse } from './error-envelope';
import { clientStatusOf, frameworkError } from './framework-errors';

export type { ErrorBody } from './error-envelope';

/**
 * Maps every error to the stable envelope: domain errors by code, framework
 * HTTP errors by their code or status (framework-errors.ts), database errors by SQLSTATE, anything else to a bare
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
    const { statusCode, headers, body } = errorResponse(this.toAppError(exception, requestId), requestId, request.url);
    sendJson(response, statusCode, headers, body);
  }

  private toAppError(exception: unknown, requestId: string | undefined): AppError {
    if (exception instanceof AppError) {
      if (exception.code === ErrorCode.OutcomeUnknown || exception.code === ErrorCode.DatabaseBusy) {
        // Not the client's fault and not our bug, but an operator must see it, with its cause.
        this.logger.warn(`[${requestId}] ${exception.message}: ${(exception.cause as Error | undefined)?.message ?? 'unknown cause'}`);
        return exception;
      }
      if (exception.code !== ErrorCode.Internal) return exception;
      // Internal errors describe our bug ("no tenant context", "row named another tenant"): log, never echo.
      this.logger.error(`[${requestId}] ${exception.message}`, exception.stack);
      return new AppError(ErrorCode.Internal, 'Internal server error');
    }
    if (exception instanceof HttpException) return frameworkError(exception.getStatus(), exception.cause, exception.message);
    const clientStatus = clientStatusOf(exception);
    if (clientStatus !== undefined) return frameworkError(clientStatus, exception, '');
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

/** Works for Fastify replies and Express/Node responses alike. */
function sendJson(response: any, status: number, headers: Record<string, string>, body: string): void {
  if (typeof response.code === 'function' && typeof response.headers === 'function') {
    response.code(status).headers(headers).send(body);
    return;
  }
  if (response.headersSent) return;
  response.writeHead(status, headers);
  response.end(body);
}
