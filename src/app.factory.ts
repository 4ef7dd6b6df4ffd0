import { DynamicModule, INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
// Types only: the chosen adapter's package is loaded on demand, so a Fastify process does not carry Express (~9 MB RSS).
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage, Server } from 'node:http';
import type { DestinationStream } from 'pino';
import { AppModule } from './app.module';
import { isStreamedBodyHandler } from './attachments/streamed-upload';
import { AppExceptionFilter } from './common/http/app-exception.filter';
import { expressBodyPolicy, routesWhere } from './common/http/body-policy';
import { errorResponse } from './common/http/error-envelope';
import { frameworkError } from './common/http/framework-errors';
import { RecentRefusals } from './rate-limits/recent-refusals';
import { answerClientError, hostRequired, installServerErrorAnswers, malformedUrl } from './common/http/server-errors';
import { requestIdFrom } from './common/http/request-id';
import { SECURITY_HEADERS } from './common/http/security-headers';
import { parseEnv } from './config/env.schema';
import { ShutdownGate } from './health/shutdown-gate';
import { expressMetricsMiddleware, fastifyMetricsHook } from './metrics/http-metrics';
import { MetricsService } from './metrics/metrics.service';

import { expressAccessLog, installFastifyAccessLog } from './logging/access-log';
import { createRootLogger, logFormatFor, PinoNestLogger } from './logging/logger';

export interface CreateAppOptions {
  /** Extra modules mounted beside the application's own (the benchmarks' bench-only routes). */
  imports?: Array<Type<unknown> | DynamicModule>;
  /** Where log lines go instead of stdout (tests capture them). */
  logDestination?: DestinationStream;
}

const BODY_LIMIT_BYTES = 1024 * 1024;
const SECURITY_HEADER_ENTRIES = Object.entries(SECURITY_HEADERS);

/**
 * Builds the HTTP application; shared by main.ts, the tests and the benchmarks.
 * HTTP_ADAPTER picks Fastify (default, chosen by measurement: see README
 * "Benchmarks") or Express; both give every request an id on `request.id`,
 * echo it as x-request-id and answer errors with the same envelope, the ones
 * raised before routing included (Node's parser errors, Fastify's router and
 * content-type parsers, Express' body-parser: see README "Errors"), and both
 * accept only application/json bodies on JSON routes (body-policy.ts).
 */
export async function createApp(env: Record<string, string | undefined>, options: CreateAppOptions = {}): Promise<INestApplication> {
  // Validate before Nest starts so a bad variable stops boot with one clear message.
  const parsed = parseEnv(env);
  // --- logging (src/logging): every Nest Logger line, and one access line per request, through pino.
  const format = logFormatFor(parsed, process.stdout.isTTY === true);
  const logger = new PinoNestLogger(createRootLogger({ level: parsed.LOG_LEVEL, format, destination: options.logDestination }));
  // --- end logging
  const root = AppModule.forRoot(env);
  if (options.imports?.length) root.imports = [...(root.imports ?? []), ...options.imports];

  return parsed.HTTP_ADAPTER === 'express' ? createExpressApp(root, logger, parsed.TRUST_PROXY) : createFastifyApp(root, logger, parsed.TRUST_PROXY);
}

type TrustProxy = boolean | number | string;

async function createFastifyApp(root: DynamicModule, logger: PinoNestLogger, trustProxy: TrustProxy): Promise<INestApplication> {
  const { FastifyAdapter } = await import('@nestjs/platform-fastify');
  const adapter = new FastifyAdapter({
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId: (request: { headers: Record<string, string | string[] | undefined> }) => requestIdFrom(request.headers['x-request-id']),
    // A hop count as the function form (Fastify's types list boolean, string and function).
    trustProxy: typeof trustProxy === 'number' ? (_address: string, hop: number) => hop < trustProxy : trustProxy,
    // Requests Node cannot parse (431, bad request line or header) get the envelope, not Fastify's own body.
    clientErrorHandler: answerClientError,
    // The router's refusals (a path that does not percent-decode, a path segment over maxParamLength) are
    // answered here, before any hook or Nest's error handler could run.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const { statusCode, headers, body } = errorResponse(frameworkError(error.statusCode ?? 400, error, ''), request.id, request.url);
      void reply.code(statusCode).headers(headers).send(body);
    },
  });
  const fastify = adapter.getInstance();
  // Bodies: Fastify's application/json parser (bodyLimit, prototype poisoning refused) and nothing else,
  // so text, forms and a body without a Content-Type are 415 (Nest's JSON/urlencoded parsers are off: bodyParser false).
  fastify.removeContentTypeParser('text/plain');
  installFastifyAccessLog(fastify, logger.pino);
  const app = await NestFactory.create<NestFastifyApplication>(root, adapter, { logger, bufferLogs: false, bodyParser: false });
  installServerErrorAnswers(app.getHttpServer() as Server, { clientError: false });
  app.useGlobalFilters(new AppExceptionFilter());
  // Metrics: every response, errors and 404s included (src/metrics/http-metrics.ts).
  fastify.addHook('onResponse', fastifyMetricsHook(app.get(MetricsService)));
  // A credential whose budget is known spent is answered here, before admission (src/rate-limits/recent-refusals.ts).
  const recentRefusals = app.get(RecentRefusals);
  fastify.addHook('onRequest', async (request, reply) => {
    const error = hostRequired(request.raw);
    if (error) throw error;
    const refused = recentRefusals.refusalFor({ method: request.method, route: request.routeOptions.url ?? '', headers: request.headers });
    if (refused) {
      const answer = errorResponse(refused, request.id, request.url);
      return reply.code(answer.statusCode).headers(answer.headers).send(answer.body);
    }
  });
  const gate = app.get(ShutdownGate);
  // A callback hook, not an async one: it runs on every response, and needs no promise of its own.
  fastify.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id);
    // Draining (SIGTERM): the keep-alive connection ends after this response, so the drain can finish.
    if (gate.draining) reply.header('connection', 'close');
    for (const [name, value] of SECURITY_HEADER_ENTRIES) if (!reply.hasHeader(name)) reply.header(name, value);
    done(null, payload);
  });
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

interface ExpressRequest {
  id?: string;
  headers: Record<string, string | string[] | undefined>;
}
interface ExpressResponse {
  setHeader(name: string, value: string): void;
}

async function createExpressApp(root: DynamicModule, logger: PinoNestLogger, trustProxy: TrustProxy): Promise<INestApplication> {
  const { ExpressAdapter } = await import('@nestjs/platform-express');
  // bodyParser false: no urlencoded parser; the one JSON parser is registered below.
  const app = await NestFactory.create<NestExpressApplication>(root, new ExpressAdapter(), { logger, bufferLogs: false, bodyParser: false });
  installServerErrorAnswers(app.getHttpServer() as Server, { clientError: true });
  app.disable('x-powered-by');
  app.set('trust proxy', trustProxy);
  // Metrics: first, so it sees every response, errors and 404s included (src/metrics/http-metrics.ts).
  app.use(expressMetricsMiddleware(app.get(MetricsService)));
  // Before any other handling, so even a body-parser failure carries the id. Fastify does the same with genReqId.
  const gate = app.get(ShutdownGate);
  app.use((request: ExpressRequest, response: ExpressResponse, next: () => void) => {
    // Draining (SIGTERM): the keep-alive connection ends after this response, so the drain can finish.
    if (gate.draining) response.setHeader('connection', 'close');
    request.id = requestIdFrom(request.headers['x-request-id']);
    response.setHeader('x-request-id', request.id);
    // Before any handler: one that sets its own (downloads' cache-control) overrides these.
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.setHeader(name, value);
    next();
  });
  app.use(expressAccessLog(logger.pino));
  // What Fastify refuses before routing: an HTTP/1.1 request without Host, a path that does not percent-decode.
  app.use((request: ExpressRequest & IncomingMessage, _response: unknown, next: (error?: unknown) => void) => next(hostRequired(request) ?? malformedUrl(request)));
  // JSON routes: 415 for any body but JSON, 413 for a declared length over the limit (body-parser would first
  // read the whole body). The upload route(s) stream whatever they get.
  const routes = { json: routesWhere(app, (handler) => !isStreamedBodyHandler(handler)), rawBody: routesWhere(app, isStreamedBodyHandler) };
  app.use(expressBodyPolicy(routes, BODY_LIMIT_BYTES));
  // Same limit as Fastify's bodyLimit (Express defaults to 100 kB); application/json only.
  app.useBodyParser('json', { limit: BODY_LIMIT_BYTES, type: 'application/json' });
  app.useGlobalFilters(new AppExceptionFilter());
  await app.init();
  return app;
}
