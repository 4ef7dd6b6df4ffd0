import type { Logger } from 'pino';

/** What the access line needs of a request, whichever adapter served it. */
interface Served {
  id?: string;
  method: string;
  /** The route template (`/documents/:id`), never the raw URL: ids and query strings stay out. */
  route?: string;
  statusCode: number;
  responseTimeMs: number;
  /** Set by AccessGuard (src/admission) once the tenant is resolved. */
  tenant?: { id?: string };
  principal?: unknown;
}

function principalOf(value: unknown): { kind: string; id: string } | undefined {
  const principal = value as { kind?: unknown; id?: unknown; userId?: unknown } | undefined;
  if (typeof principal?.kind !== 'string') return undefined;
  // Admission's intermediate user principal has userId only; the final one has id.
  const id = typeof principal.id === 'string' ? principal.id : typeof principal.userId === 'string' ? principal.userId : undefined;
  return id ? { kind: principal.kind, id } : undefined;
}

/**
 * Probe routes: an orchestrator calls them every few seconds on every instance,
 * so their access lines are written at debug (LOG_LEVEL=debug shows them). A
 * failing readiness probe writes its own warn line (src/health/readiness.service.ts).
 */
const PROBE_ROUTES: ReadonlySet<string> = new Set(['/health', '/health/live', '/health/ready']);

/**
 * One line per answered request, at info (probe routes at debug), after the response is written: written
 * outside the tenant scope (which ends with the handler), so tenant and request id
 * are passed here explicitly, under the same names the mixin uses.
 */
export function logAccess(logger: Logger, served: Served): void {
  const level = served.route !== undefined && PROBE_ROUTES.has(served.route) ? 'debug' : 'info';
  logger[level](
    {
      requestId: served.id,
      tenantId: served.tenant?.id,
      principal: principalOf(served.principal),
      req: { id: served.id, method: served.method, route: served.route },
      res: { statusCode: served.statusCode },
      responseTime: Math.round(served.responseTimeMs * 10) / 10,
    },
    'request completed',
  );
}

interface FastifyLike {
  addHook(
    name: 'onResponse',
    hook: (
      request: { id: string; method: string; routeOptions: { url?: string }; tenant?: { id?: string }; principal?: unknown },
      reply: { statusCode: number; elapsedTime: number },
      done: () => void,
    ) => void,
  ): unknown;
}

/** Fastify: its onResponse hook knows the matched route and the time taken. */
export function installFastifyAccessLog(fastify: FastifyLike, logger: Logger): void {
  fastify.addHook('onResponse', (request, reply, done) => {
    logAccess(logger, {
      id: request.id,
      method: request.method,
      route: request.routeOptions.url,
      statusCode: reply.statusCode,
      responseTimeMs: reply.elapsedTime,
      tenant: request.tenant,
      principal: request.principal,
    });
    done();
  });
}

interface ExpressRequestLike {
  id?: string;
  method: string;
  baseUrl?: string;
  route?: { path?: string };
  tenant?: { id?: string };
  principal?: unknown;
}
interface ExpressResponseLike {
  statusCode: number;
  once(event: 'finish', listener: () => void): unknown;
}

/** Express: a middleware (mounted after the request id is set) that logs when the response finishes. */
export function expressAccessLog(logger: Logger) {
  return (request: ExpressRequestLike, response: ExpressResponseLike, next: () => void): void => {
    const started = performance.now();
    response.once('finish', () =>
      logAccess(logger, {
        id: request.id,
        method: request.method,
        route: request.route?.path === undefined ? undefined : `${request.baseUrl ?? ''}${request.route.path}`,
        statusCode: response.statusCode,
        responseTimeMs: performance.now() - started,
        tenant: request.tenant,
        principal: request.principal,
      }),
    );
    next();
  };
}
