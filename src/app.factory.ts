import { INestApplication, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module';
import { AppExceptionFilter } from './common/errors/app-exception.filter';
import { requestIdFrom } from './common/http/request-id';
import { parseEnv } from './config/env.schema';

const LOG_LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/** Builds the HTTP application; shared by main.ts, the tests and the benchmarks. */
export async function createApp(env: Record<string, string | undefined>): Promise<INestApplication> {
  // Validate before Nest starts so a bad variable stops boot with one clear message.
  const parsed = parseEnv(env);
  const logger = LOG_LEVELS.slice(0, LOG_LEVELS.indexOf(parsed.LOG_LEVEL) + 1);

  const adapter = new FastifyAdapter({
    bodyLimit: 1024 * 1024,
    genReqId: (request: { headers: Record<string, string | string[] | undefined> }) => requestIdFrom(request.headers['x-request-id']),
    trustProxy: false,
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(env), adapter, { logger, bufferLogs: false });
  app.useGlobalFilters(new AppExceptionFilter());
  app.getHttpAdapter().getInstance().addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}
