import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp } from './app.factory';
import { AppConfig } from './config/app-config';
import { loadDotEnv } from './config/env-file';
import { InvalidEnvironmentError } from './config/env.schema';
import { runMigrations } from './database/provisioning';
import { prepareRuntime } from './runtime/embedded-runtime';

async function main(): Promise<void> {
  loadDotEnv(); // .env in the working directory, when present; the real environment wins (README "Configuration")
  const logger = new Logger('Bootstrap');
  const runtime = await prepareRuntime(process.env);
  const app = await createApp(runtime.env);
  const config = app.get(AppConfig);

  if (config.database.migrateOnBoot && config.database.migrationUrl && process.env.DATABASE_URL) {
    logger.log('MIGRATE_ON_BOOT: applying migrations with the owner role');
    await runMigrations(config.database.migrationUrl);
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal}: shutting down`);
    await app.close();
    await runtime.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));

  await app.listen(config.http.port, config.http.host);
  logger.log(`listening on http://${config.http.host}:${config.http.port}`);
}

main().catch((error) => {
  if (error instanceof InvalidEnvironmentError) {
    process.stderr.write(`${error.message}\n`);
  } else {
    process.stderr.write(`Startup failed: ${error?.stack ?? error}\n`);
  }
  process.exit(1);
});
