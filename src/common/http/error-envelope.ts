import { z } from 'zod';
import { AppError } from '../errors/app-error';
import { ErrorCode, httpStatusFor } from '../errors/error-codes';
import { SECURITY_HEADERS } from './security-headers';
import { BEARER_CHALLENGE } from './www-authenticate';

/**
 * The one error envelope every failing response uses (README "Errors"). A zod schema so the API
 * contract (GET /openapi.json, component `ErrorEnvelope`) is this very definition.
 */
export const errorEnvelopeSchema = z
  .object({
    error: z.object({
      code: z.enum(ErrorCode).meta({ description: 'Stable and machine-readable: switch on this, not on the message.' }),
      message: z.string(),
      details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    }),
    statusCode: z.int(),
    requestId: z.string().optional().meta({ description: 'The x-request-id of the response; quote it when reporting a problem.' }),
    timestamp: z.iso.datetime(),
    path: z.string(),
  })
  .meta({ id: 'ErrorEnvelope' });
export type ErrorBody = z.infer<typeof errorEnvelopeSchema>;

export interface ErrorResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/** The status, headers and serialized envelope for an error; shared by the exception filter and the socket-level writers. */
export function errorResponse(error: AppError, requestId: string | undefined, url: string | undefined): ErrorResponse {
  const statusCode = httpStatusFor(error.code);
  const body: ErrorBody = {
    error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) },
    statusCode,
    ...(requestId ? { requestId } : {}),
    timestamp: new Date().toISOString(),
    path: String(url ?? '').split('?')[0],
  };
  const headers: Record<string, string> = { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', ...(requestId ? { 'x-request-id': requestId } : {}), ...error.headers };
  // RFC 9110: every 401 carries a challenge. The thrower may refine it (RFC 6750 error="invalid_token"); otherwise the plain one.
  if (statusCode === 401 && !Object.keys(headers).some((name) => name.toLowerCase() === 'www-authenticate')) {
    headers['www-authenticate'] = BEARER_CHALLENGE;
  }
  return { statusCode, headers, body: JSON.stringify(body) };
}
