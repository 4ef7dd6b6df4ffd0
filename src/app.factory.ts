import { DynamicModule, INestApplication, LogLevel, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
// Types only: the chosen adapter's package is loaded on demand, so a Fastify process does not carry Express (~9 MB RSS).
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module';
import { AppExceptionFilter } from './common/http/app-exception.filter';
import { requestIdFrom } from './common/http/request-id';
import { parseEnv } from './config/env.schema';

const LOG_LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

export interface CreateAppOptions {
  /** Extra modules mounted beside the application's own (the benchmarks' bench-only routes). */
  imports?: Array<Type<unknown> | DynamicModule>;
}

const BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * Builds the HTTP application; shared by main.ts, the tests and the benchmarks.
 * HTTP_ADAPTER picks Fastify (default, chosen by measurement: see README
 * "Benchmarks") or Express; both give every request an id on `request.id`,
 * echo it as x-request-id and answer errors with the same envelope.
 */
export async function createApp(env: Record<string, string | undefined>, options: CreateAppOptions = {}): Promise<INestApplication> {
  // Validate before Nest starts so a bad variable stops boot with one clear message.
  const parsed = parseEnv(env);
  const logger = LOG_LEVELS.slice(0, LOG_LEVELS.indexOf(parsed.LOG_LEVEL) + 1);
  const root = AppModule.forRoot(env);
  if (options.imports?.length) root.imports = [...(root.imports ?? []), ...options.imports];

  return parsed.HTTP_ADAPTER === 'express' ? createExpressApp(root, logger, parsed.TRUST_PROXY) : createFastifyApp(root, logger, parsed.TRUST_PROXY);
}

type TrustProxy = boolean | number | string;

async function createFastifyApp(root: DynamicModule, logger: LogLevel[], trustProxy: TrustProxy): Promise<INestApplication> {
  const { FastifyAdapter } = await import('@nestjs/platform-fastify');
  const adapter = new FastifyAdapter({
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId: (request: { headers: Record<string, string | string[] | undefined> }) => requestIdFrom(request.headers['x-request-id']),
    // A hop count as the function form (Fastify's types list boolean, string and function).
    trustProxy: typeof trustProxy === 'number' ? (_address: string, hop: number) => hop < trustProxy : trustProxy,
  });
  const app = await NestFactory.create<NestFastifyApplication>(root, adapter, { logger, bufferLogs: false });
  app.useGlobalFilters(new AppExceptionFilter());
  app.getHttpAdapter().getInstance().addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
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

async function createExpressApp(root: DynamicModule, logger: LogLevel[], trustProxy: TrustProxy): Promise<INestApplication> {
  const { ExpressAdapter } = await import('@nestjs/platform-express');
  const app = await NestFactory.create<NestExpressApplication>(root, new ExpressAdapter(), { logger, bufferLogs: false });
  app.disable('x-powered-by');
  app.set('trust proxy', trustProxy);
  // First middleware, so even a body-parser failure carries the id. Fastify does the same with genReqId.
  app.use((request: ExpressRequest, response: ExpressResponse, next: () => void) => {
    request.id = requestIdFrom(request.headers['x-request-id']);
    response.setHeader('x-request-id', request.id);
    next();
  });
  // Same limit as Fastify's bodyLimit (Express defaults to 100 kB); registered before init so Nest skips its defaults.
  app.useBodyParser('json', { limit: BODY_LIMIT_BYTES });
  app.useBodyParser('urlencoded', { limit: BODY_LIMIT_BYTES, extended: true });
  app.useGlobalFilters(new AppExceptionFilter());
  await app.init();
  return app;
}
