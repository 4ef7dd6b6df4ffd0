import { Injectable, Logger, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheckResult, HealthCheckService, HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { CacheService } from '../cache/cache.service';
import { AppConfig } from '../config/app-config';
import { DatabaseProbe, DatabaseProbeResult, isMigrationStatusMissing } from '../database/database-probe';
import { VectorEngine } from '../database/vector-engine';
import { StorageService } from '../storage/storage.service';
import { ShutdownGate } from './shutdown-gate';

/**
 * Bounds of one readiness probe. A hung PostgreSQL or S3 must give a quick 503
 * (or "degraded"), never a probe that hangs until the orchestrator's own
 * timeout (Kubernetes' default timeoutSeconds is 1). The server-side statement
 * timeout frees PostgreSQL's side; the overall bound answers the caller.
 */
export const READY_STATEMENT_TIMEOUT_MS = 500;
export const READY_TIMEOUT_MS = 800;

export interface Readiness {
  statusCode: 200 | 503;
  body: HealthCheckResult;
}

/** Rejects with a readable reason when `work` has not settled within ms. */
function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

const reason = (error: unknown) => (error instanceof Error ? error.message : String(error)) || 'failed';

/**
 * GET /health/ready: can this instance serve requests now?
 * - database (required): PostgreSQL answers the runtime role within the bound;
 * - migrations (required): the database is at least at the newest migration this build ships;
 * - redis, s3 (when configured): "degraded" when down, never 503: requests fall
 *   back (the cache to PostgreSQL; uploads answer 503 themselves), and taking
 *   every instance out because a shared dependency blinked would turn a partial
 *   outage into a full one.
 * The body is terminus's HealthCheckResult: status ok | degraded | error | shutting_down.
 */
@Injectable()
export class ReadinessService {
  private readonly logger = new Logger('Health');
  private lastLogged = 'ok';

  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly database: DatabaseProbe,
    private readonly cache: CacheService,
    private readonly storage: StorageService,
    private readonly config: AppConfig,
    private readonly gate: ShutdownGate,
    private readonly vectors: VectorEngine,
  ) {}

  async check(): Promise<Readiness> {
    if (this.gate.draining) {
      // No dependency is asked: the answer is no whatever they say, and shutdown should not add load.
      return { statusCode: 503, body: { status: 'shutting_down', info: {}, error: {}, details: {} } };
    }
    const probe = within(READY_TIMEOUT_MS, this.database.check(READY_STATEMENT_TIMEOUT_MS));
    // One probe answers both required indicators; settled once so neither sees an unhandled rejection.
    const settled = probe.then(
      (result) => ({ ok: true as const, result }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    const checks: Array<() => Promise<HealthIndicatorResult>> = [() => this.databaseUp(settled), () => this.migrationsCurrent(settled)];
    if (this.config.cache.redis) checks.push(async () => this.redis());
    if (this.config.storage.s3) checks.push(() => this.s3());
    checks.push(async () => this.vectorEngine());

    let body: HealthCheckResult;
    let statusCode: 200 | 503 = 200;
    try {
      body = await this.health.check(checks);
    } catch (error) {
      if (!(error instanceof ServiceUnavailableException)) throw error;
      body = error.getResponse() as HealthCheckResult;
      statusCode = 503;
    }
    this.log(body);
    return { statusCode, body };
  }

  private async databaseUp(settled: Promise<{ ok: true; result: DatabaseProbeResult } | { ok: false; error: unknown }>): Promise<HealthIndicatorResult> {
    const outcome = await settled;
    const check = this.indicators.check('database');
    return outcome.ok ? check.up() : check.down({ message: reason(outcome.error) });
  }

  private async migrationsCurrent(settled: Promise<{ ok: true; result: DatabaseProbeResult } | { ok: false; error: unknown }>): Promise<HealthIndicatorResult> {
    const outcome = await settled;
    const check = this.indicators.check('migrations');
    if (!outcome.ok) {
      const missing = isMigrationStatusMissing(outcome.error);
      return check.down({ message: missing ? 'behind: app_migrations_status() is missing (run the migrations)' : 'unknown: the database did not answer' });
    }
    const { state, applied, shipped } = outcome.result.migrations;
    if (state === 'behind') return check.down({ message: 'behind: run the migrations (npm run db:migrate)', applied, shipped });
    return check.up({ state, applied, shipped });
  }

  private redis(): HealthIndicatorResult {
    // The cache's own view (connection state, failures seen by requests): no extra round trip per probe.
    const { serving, status } = this.cache.metrics();
    const check = this.indicators.check('redis');
    return serving ? check.up() : check.degraded({ message: `unavailable (${status}); reads are served from PostgreSQL` });
  }

  /**
   * Which semantic search engine the shared database offers (src/database/vector-engine.ts). Both
   * engines serve every search; this says which one does. Down only when tenants' HNSW indexes
   * disagree with EMBEDDING_DIMENSION (their embedding writes would fail).
   */
  private vectorEngine(): HealthIndicatorResult {
    const { engine, dimension, reason, pgvectorVersion, dimensionMismatch } = this.vectors.status;
    const details = { engine, dimension, ...(pgvectorVersion ? { pgvector: pgvectorVersion } : {}), ...(reason ? { reason } : {}) };
    const check = this.indicators.check('vectors');
    return dimensionMismatch ? check.down({ ...details, message: reason }) : check.up(details);
  }

  private async s3(): Promise<HealthIndicatorResult> {
    const check = this.indicators.check('s3');
    try {
      await within(READY_TIMEOUT_MS, this.storage.ping(AbortSignal.timeout(READY_TIMEOUT_MS)));
      return check.up();
    } catch (error) {
      return check.degraded({ message: `unavailable (${reason(error)}); file uploads and downloads answer 503` });
    }
  }

  /**
   * One line per failing probe (warn), naming each failed check and why; a
   * degraded state and the return to ok are logged once each, on the change.
   */
  private log(body: HealthCheckResult): void {
    const failed = Object.entries(body.error ?? {}).map(([key, value]) => `${key}: ${(value as { message?: string }).message ?? 'down'}`);
    const degraded = Object.entries(body.info ?? {})
      .filter(([, value]) => value?.status === 'degraded')
      .map(([key, value]) => `${key}: ${(value as { message?: string } | undefined)?.message ?? 'degraded'}`);
    if (failed.length > 0) {
      this.logger.warn(`readiness: not ready (503): ${failed.join('; ')}${degraded.length ? `; degraded: ${degraded.join('; ')}` : ''}`);
      this.lastLogged = 'error';
      return;
    }
    const summary = degraded.length ? `degraded: ${degraded.join('; ')}` : 'ok';
    if (summary === this.lastLogged) return;
    if (degraded.length) this.logger.warn(`readiness: ready, ${summary}`);
    else this.logger.log('readiness: ready');
    this.lastLogged = summary;
  }
}
