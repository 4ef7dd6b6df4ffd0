import 'reflect-metadata';
import { AddressInfo } from 'node:net';
import { INestApplication } from '@nestjs/common';
import { createApp } from '../src/app.factory';
import { CacheService } from '../src/cache/cache.service';
import { BenchRoutesModule } from './bench-routes.module';

/**
 * The API under test, in its own process: the real application (createApp, the
 * built dist/) plus the bench-only routes. Started by run.ts with the
 * environment it should use; reports its port over IPC and stops on request.
 */
export interface ServerMessage {
  type: 'listening';
  port: number;
}

async function main(): Promise<void> {
  const env = process.env;
  const app = await createApp(env, {
    imports: [
      BenchRoutesModule.forRoot({
        unscopedUrl: required('BENCH_UNSCOPED_DATABASE_URL'),
        appUrl: required('DATABASE_URL'),
        poolSize: Number(env.DB_POOL_SIZE ?? 10),
      }),
    ],
  });
  if (env.BENCH_DOCUMENT_CACHE !== 'on') bypassTenantCache(app);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await app.close();
    process.exit(0);
  };
  process.on('message', (message: { type?: string }) => message?.type === 'stop' && void stop());
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  // The parent going away must not leave this process serving.
  process.once('disconnect', () => void stop());
  process.send?.({ type: 'listening', port } satisfies ServerMessage);
}

/**
 * The cost of tenancy is the cost of reaching PostgreSQL, so every variant's
 * document reads must get there: DocumentsService caches reads and lists
 * through CacheService.getOrSet (tenant entries), which this turns into a
 * pass-through in this process. All variants share that one CacheService
 * instance and the same DocumentsService code, so they are equal either way.
 * Tenant lookups (CacheService.platform) stay cached as in production.
 * BENCH_DOCUMENT_CACHE=on leaves the cache in place.
 */
function bypassTenantCache(app: INestApplication): void {
  const cache = app.get(CacheService, { strict: false });
  cache.getOrSet = <T>(_namespace: string, _key: string, load: () => Promise<T>) => load();
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`bench server: ${name} is not set`);
  return value;
}

main().catch((error) => {
  process.stderr.write(`bench server failed: ${error?.stack ?? error}\n`);
  process.exit(1);
});
