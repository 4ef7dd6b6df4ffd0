import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { Tenant } from '../tenancy/tenant-context';
import { MetricsService } from './metrics.service';

/** What AccessGuard leaves on the request once the tenant is resolved. */
interface WithTenant {
  tenant?: Tenant;
}

/**
 * Fastify onResponse hook: runs after every response, errors and 404s
 * included (not for answers written on the socket before Fastify sees a
 * request, such as 431). routeOptions.url is the template (`/documents/:id`),
 * undefined when no route matched.
 */
export function fastifyMetricsHook(metrics: MetricsService) {
  return (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    metrics.observe({
      method: request.method,
      route: request.routeOptions.url,
      statusCode: reply.statusCode,
      durationSeconds: reply.elapsedTime / 1000,
      tenantId: (request as FastifyRequest & WithTenant).tenant?.id,
    });
    done();
  };
}

interface ExpressRequest extends WithTenant {
  method: string;
  baseUrl?: string;
  /** Set by Express's router on the matched route; absent when none matched. */
  route?: { path?: unknown };
}
interface ExpressResponse {
  statusCode: number;
  once(event: 'finish', listener: () => void): void;
}

/**
 * Express middleware, installed first: 'finish' fires once the response is
 * written, whatever answered it (handler, exception filter, 404). Requests
 * whose client went away before the response was written are not counted.
 */
export function expressMetricsMiddleware(metrics: MetricsService) {
  return (request: ExpressRequest, response: ExpressResponse, next: () => void): void => {
    const started = process.hrtime.bigint();
    response.once('finish', () => {
      const path = request.route?.path;
      metrics.observe({
        method: request.method,
        route: typeof path === 'string' ? `${request.baseUrl ?? ''}${path}` : undefined,
        statusCode: response.statusCode,
        durationSeconds: Number(process.hrtime.bigint() - started) / 1e9,
        tenantId: request.tenant?.id,
      });
    });
    next();
  };
}
