import 'reflect-metadata';
import { AddressInfo } from 'node:net';
import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { announceAndWait, failStartup, HELLO_BODY } from './child-server';

/**
 * A framework ceiling: the smallest Nest app on the FastifyAdapter, one
 * controller returning the same JSON as hello-fastify. No guards, interceptors,
 * pipes, config or database: the difference to plain Fastify is Nest's own
 * request pipeline; the difference to the API is ours.
 */
@Controller()
class HelloController {
  @Get('hello')
  hello() {
    return HELLO_BODY;
  }
}

@Module({ controllers: [HelloController] })
class HelloModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create<NestFastifyApplication>(HelloModule, new FastifyAdapter(), { logger: false });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  announceAndWait(port, () => app.close());
}

main().catch(failStartup('hello-nest'));
