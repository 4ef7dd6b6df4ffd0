import { DynamicModule, INestApplicationContext, LoggerService, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import pino from 'pino';
import { CacheModule } from '../cache/cache.module';
import { AppConfigModule } from '../config/config.module';
import { parseEnv } from '../config/env.schema';
import { DatabaseModule } from '../database/database.module';
import { createRootLogger, PinoNestLogger } from '../logging/logger';
import { PlansService } from '../plans/plans.service';
import { TenantsModule } from '../tenants/tenants.module';
import { StorageModule } from '../storage/storage.module';
import { TenantOffboardingModule } from '../lifecycle/tenant-offboarding.module';
import { TenantOffboardingService } from '../lifecycle/tenant-offboarding.service';
import { TenantMoveModule } from '../lifecycle/tenant-move.module';
import { TenantMoveService } from '../lifecycle/tenant-move.service';
import { UsageModule } from '../usage/usage.module';
import { TenantsService } from '../tenants/tenants.service';
import { ExportsCoreModule } from '../exports/exports-core.module';

/**
 * What tenant commands need of the application, and nothing more: the same
 * config validation, pool, cache and TenantsModule the API runs, so a CLI
 * write goes through TenantsService and the platform repositories (SystemDb's
 * named, logged operations; the cached tenant lookup forgotten, in Redis too
 * when REDIS_URL is set, so a suspension bites on every instance at once).
 * No HTTP, no controllers served.
 */
@Module({})
class CliModule {
  static forRoot(env: Record<string, string | undefined>): DynamicModule {
    return { module: CliModule, imports: [AppConfigModule.forRoot(env), DatabaseModule, CacheModule, StorageModule, UsageModule, TenantsModule, TenantOffboardingModule, ExportsCoreModule, TenantMoveModule] };
  }
}

/** Nest's own start-up chatter ("InstanceLoader ... initialized") means nothing to an operator. */
const FRAMEWORK_CONTEXTS = new Set(['NestFactory', 'InstanceLoader', 'NestApplicationContext']);

class CliLogger implements LoggerService {
  constructor(private readonly inner: PinoNestLogger) {}
  private quiet(params: unknown[]): boolean {
    return FRAMEWORK_CONTEXTS.has(String(params[params.length - 1]));
  }
  log(message: unknown, ...params: unknown[]) {
    if (!this.quiet(params)) this.inner.log(message, ...params);
  }
  error(message: unknown, ...params: unknown[]) {
    this.inner.error(message, ...params);
  }
  warn(message: unknown, ...params: unknown[]) {
    this.inner.warn(message, ...params);
  }
  debug(message: unknown, ...params: unknown[]) {
    if (!this.quiet(params)) this.inner.debug?.(message, ...params);
  }
  verbose(message: unknown, ...params: unknown[]) {
    if (!this.quiet(params)) this.inner.verbose?.(message, ...params);
  }
}

/** Runs `fn` with the application's TenantsService (see withAppContext). */
export function withTenantsService<T>(env: Record<string, string | undefined>, fn: (tenants: TenantsService) => Promise<T>): Promise<T> {
  return withAppContext(env, (context) => fn(context.get(TenantsService)));
}

/** Runs `fn` with the application's TenantOffboardingService (tenant deletion; see withAppContext). */
export function withOffboardingService<T>(env: Record<string, string | undefined>, fn: (offboarding: TenantOffboardingService) => Promise<T>): Promise<T> {
  return withAppContext(env, (context) => fn(context.get(TenantOffboardingService)));
}

/** Runs `fn` with the application's TenantMoveService (moving a tenant between databases; see withAppContext). */
export function withTenantMoveService<T>(env: Record<string, string | undefined>, fn: (moves: TenantMoveService) => Promise<T>): Promise<T> {
  return withAppContext(env, (context) => fn(context.get(TenantMoveService)));
}

/** Runs `fn` with the application's services (export and import: src/cli/tenant-archives.command.ts; see withAppContext). */
export function withApplication<T>(env: Record<string, string | undefined>, fn: (context: INestApplicationContext) => Promise<T>): Promise<T> {
  return withAppContext(env, fn);
}

/** Runs `fn` with the application's PlansService (see withAppContext). */
export function withPlansService<T>(env: Record<string, string | undefined>, fn: (plans: PlansService) => Promise<T>): Promise<T> {
  return withAppContext(env, (context) => fn(context.get(PlansService)));
}

/**
 * Runs `fn` with the application's services (no HTTP), then closes the pool and
 * the cache. Log lines (SystemDb's audit lines among them: "system
 * operation=tenants.update ...") go to stderr as JSON, at LOG_LEVEL, so stdout
 * keeps only the command's result.
 */
async function withAppContext<T>(env: Record<string, string | undefined>, fn: (context: INestApplicationContext) => Promise<T>): Promise<T> {
  // Validated here first, so a bad variable is one clear message before Nest starts.
  const parsed = parseEnv(env);
  const logger = new CliLogger(new PinoNestLogger(createRootLogger({ level: parsed.LOG_LEVEL, format: 'json', destination: pino.destination(2) })));
  const context = await NestFactory.createApplicationContext(CliModule.forRoot(env), { logger, abortOnError: false });
  try {
    return await fn(context);
  } finally {
    await context.close();
  }
}
