import { WireRequest, WireResponse } from './client';

/**
 * What every response must satisfy, whatever was sent. Each failed rule is one
 * short, stable reason (used to deduplicate failures by route, status and reason).
 */

/** SQL the database or the driver wrote: never for a client's eyes. Matched case-insensitively. */
export const SQL_FRAGMENTS: ReadonlyArray<readonly [string, RegExp]> = [
  ['sql: "select "', /\bselect\s/i],
  ['sql: "insert into"', /\binsert\s+into\b/i],
  ['sql: "syntax error"', /syntax error/i],
  ['sql: "violates"', /\bviolates\b/i],
  ['sql: relation "', /\brelation\s+"/i],
  ['sql: constraint name', /\b[a-z0-9]+(?:_[a-z0-9]+)*_(?:fkey|fk|pkey|pk|key|idx|check|valid)\b/],
];

export const STACK_FRAGMENTS: ReadonlyArray<readonly [string, RegExp]> = [
  ['stack: "    at "', / {4}at /],
  ['stack: ".ts:"', /\.ts:\d?/],
  ['stack: node_modules', /node_modules/],
];

const UUID_ANYWHERE = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

export interface CheckContext {
  /** The route answers file bytes on 2xx (any content type). */
  download?: boolean;
  /** GET /health/ready: its 503 carries the HealthCheckResult body (what probes read), not the error envelope. */
  healthProbe?: boolean;
  /** Ids of another tenant (id -> where it came from, e.g. documents.id); none may appear unless the request itself carried it. */
  foreignIds?: ReadonlyMap<string, string>;
  /** Foreign ids this route may show (platform-admin routes list every tenant's id). */
  allowedForeignIds?: ReadonlySet<string>;
  /** The method with which the route parses a JSON body (@Body): a body of another media type sent with it must be refused with 415. */
  jsonBody?: string;
}

/**
 * Error codes that only a request past the body parser can get (guard, pipes,
 * handler): a non-JSON body that earns one of them was parsed or ignored, not
 * refused. Routing and parser errors (404 route, 413, 414, 415, 431, malformed
 * JSON) come before, so they are not in the list.
 */
const PAST_THE_PARSER = new Set([
  'VALIDATION_FAILED',
  'INVALID_CURSOR',
  'TENANT_REQUIRED',
  'TENANT_HEADER_INVALID',
  'TENANT_AMBIGUOUS',
  'TENANT_NOT_FOUND',
  'TENANT_SUSPENDED',
  'UNAUTHENTICATED',
  'INVALID_CREDENTIALS',
  'INVITATION_INVALID',
  'FORBIDDEN',
  'TENANT_ACCESS_DENIED',
  'INSUFFICIENT_ROLE',
  'NOT_FOUND',
  'CONFLICT',
  'LAST_OWNER',
  'TOO_MANY_REQUESTS',
]);

/** The media type of the request's (first) Content-Type, lower-cased; undefined when none was sent. */
function requestMediaType(request: WireRequest): string | undefined {
  const value = request.headers.find(([name]) => name.toLowerCase() === 'content-type')?.[1];
  return value === undefined ? undefined : value.split(';')[0].trim().toLowerCase();
}

/** Everything the client sent, as text: a fragment or id that was sent may be echoed back (a title, the path). */
export function requestText(request: WireRequest): string {
  const parts = [request.path, ...request.headers.map(([name, value]) => `${name}: ${value}`)];
  let text = parts.join('\n');
  try {
    text += '\n' + decodeURIComponent(request.path.replace(/%(?![0-9a-f]{2})/gi, '%25'));
  } catch {
    /* undecodable path: the raw form is there */
  }
  if (request.body) text += '\n' + request.body.toString('utf8');
  return text;
}

function scan(text: string, sent: string, patterns: ReadonlyArray<readonly [string, RegExp]>): string[] {
  const reasons: string[] = [];
  for (const [reason, pattern] of patterns) {
    const global = new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : pattern.flags + 'g');
    for (const match of text.matchAll(global)) {
      // Data the request carried (a stored title, the path in the error envelope) may come back verbatim.
      if (sent.toLowerCase().includes(match[0].toLowerCase())) continue;
      reasons.push(reason);
      break;
    }
  }
  return reasons;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Why `body` is not the documented error envelope for `status` (empty when it is). */
export function envelopeProblems(body: unknown, status: number): string[] {
  if (!isRecord(body)) return ['envelope: body is not an object'];
  const problems: string[] = [];
  const error = body.error;
  if (!isRecord(error)) problems.push('envelope: no error object');
  else {
    if (typeof error.code !== 'string' || !error.code) problems.push('envelope: error.code not a string');
    if (typeof error.message !== 'string') problems.push('envelope: error.message not a string');
    if (error.details !== undefined && !Array.isArray(error.details)) problems.push('envelope: error.details not an array');
  }
  if (body.statusCode !== status) problems.push('envelope: statusCode differs from the HTTP status');
  if (typeof body.requestId !== 'string' || !body.requestId) problems.push('envelope: no requestId');
  if (typeof body.timestamp !== 'string' || Number.isNaN(Date.parse(body.timestamp))) problems.push('envelope: no timestamp');
  if (typeof body.path !== 'string') problems.push('envelope: no path');
  return problems;
}

function header(response: WireResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Every rule one response breaks; empty when it is fine. */
function isHealthCheckResult(body: unknown): boolean {
  if (!body || typeof body !== 'object') return false;
  const { status, details } = body as Record<string, unknown>;
  return typeof status === 'string' && !!details && typeof details === 'object';
}

export function checkResponse(request: WireRequest, response: WireResponse, context: CheckContext = {}): string[] {
  if (response.error && response.status === 0) return [`no response (${response.error.split(':')[0]})`];
  const reasons: string[] = [];
  const { status } = response;
  if (status >= 500) {
    if (status !== 503) reasons.push('5xx');
    else if (!header(response, 'retry-after')) reasons.push('503 without Retry-After');
  }
  const text = response.body.toString('utf8');
  const contentType = header(response, 'content-type') ?? '';
  let parsed: unknown;
  let isJson = false;
  if (text.length > 0) {
    try {
      parsed = JSON.parse(text);
      isJson = true;
    } catch {
      /* not JSON */
    }
  }

  if (status >= 400) {
    if (!isJson) reasons.push(text.length === 0 ? 'error without a body' : 'error body is not JSON');
    else if (context.healthProbe && status === 503) {
      if (!isHealthCheckResult(parsed)) reasons.push('not a HealthCheckResult');
    } else if (envelopeProblems(parsed, status).length) reasons.push('not the error envelope');
    if (isJson && !/^application\/json\b/i.test(contentType)) reasons.push('error body without a JSON content type');
  } else if (status >= 200 && status < 300) {
    if (status === 204) {
      if (text.length > 0) reasons.push('204 with a body');
    } else if (!context.download) {
      if (!isJson) reasons.push('2xx body is not JSON');
      else if (!/^application\/json\b/i.test(contentType)) reasons.push('2xx JSON without a JSON content type');
    }
  } else if (status !== 0) {
    reasons.push(`unexpected status class ${status}`);
  }

  // RFC 9110: a 401 carries a challenge.
  if (status === 401 && !header(response, 'www-authenticate')) reasons.push('401 without WWW-Authenticate');

  // A JSON route refuses other media types (form-urlencoded, text/plain...) with 415 instead of parsing them.
  const mediaType = requestMediaType(request);
  if (context.jsonBody === request.method && request.body?.length && mediaType !== undefined && mediaType !== 'application/json') {
    const code = isJson && isRecord(parsed) && isRecord(parsed.error) ? parsed.error.code : undefined;
    if ((status >= 200 && status < 300) || (typeof code === 'string' && PAST_THE_PARSER.has(code))) reasons.push(`non-JSON body (${mediaType || 'empty type'}) not refused with 415`);
  }

  // A download is the caller's own bytes: the leak scans apply to API answers.
  if (!(context.download && status >= 200 && status < 300)) {
    const sent = requestText(request);
    // Strings as the client reads them (a JSON message has \" and \n escaped).
    const readable = isJson ? text.replace(/\\n/g, '\n').replace(/\\(["\\/])/g, '$1') : text;
    reasons.push(...scan(readable, sent, SQL_FRAGMENTS), ...scan(readable, sent, STACK_FRAGMENTS));
    if (context.foreignIds?.size) {
      const sentLower = sent.toLowerCase();
      for (const id of new Set((text.match(UUID_ANYWHERE) ?? []).map((id) => id.toLowerCase()))) {
        const source = context.foreignIds.get(id);
        if (source && !context.allowedForeignIds?.has(id) && !sentLower.includes(id)) {
          reasons.push(`another tenant's id (${source})`);
          break;
        }
      }
    }
  }
  return reasons;
}
