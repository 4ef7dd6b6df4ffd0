import Fastify from 'fastify';
import { announceAndWait, failStartup, HELLO_BODY } from './child-server';

/** A framework ceiling: plain Fastify (the version @nestjs/platform-fastify uses), one route, no plugins, no logger. */
async function main(): Promise<void> {
  const app = Fastify({ logger: false });
  app.get('/hello', async () => HELLO_BODY);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('hello-fastify: no TCP address');
  announceAndWait(address.port, () => app.close());
}

main().catch(failStartup('hello-fastify'));
