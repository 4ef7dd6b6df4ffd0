import { BeforeApplicationShutdown, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { pgServerErrorOf } from '../common/errors/database-errors';
import { AppConfig } from '../config/app-config';
import { TenantDb } from '../database/tenant-db';
import type { Tenant } from '../tenancy/tenant';
import { TenantContext } from '../tenancy/tenant-context';
import { UsageLedger } from './usage-ledger.service';

interface Batch {
  tenant: Tenant;
  count: number;
  /** `requests:<instance id>:<interval>`: a batch retried after a lost answer counts once. */
  key: string;
}

/**
 * Requests per tenant, counted in memory (nothing on the request path but a
 * map increment) and written to the usage ledger once per
 * USAGE_FLUSH_INTERVAL_MS and at shutdown, one event per tenant and interval.
 * The event's idempotency key is this instance's random id plus the interval's
 * sequence number, so a flush retried after an error whose outcome was unknown
 * counts once. A crash (no shutdown) loses at most the current interval's
 * counts; a failed flush keeps its batches and retries them with the same keys.
 */
@Injectable()
export class RequestUsage implements OnModuleInit, BeforeApplicationShutdown {
  /** Names this process in the ledger's keys; a restart is a new instance. */
  readonly instanceId = randomUUID();
  private readonly logger = new Logger(RequestUsage.name);
  private counts = new Map<string, { tenant: Tenant; count: number }>();
  private pending: Batch[] = [];
  private interval = 0;
  private timer?: NodeJS.Timeout;
  private last: Promise<void> = Promise.resolve();

  constructor(
    private readonly ledger: UsageLedger,
    private readonly db: TenantDb,
    private readonly config: AppConfig,
  ) {}

  /** One admitted request of `tenant` (AccessGuard calls it as it admits the request). */
  count(tenant: Tenant): void {
    const entry = this.counts.get(tenant.id);
    if (entry) entry.count += 1;
    else this.counts.set(tenant.id, { tenant, count: 1 });
  }

  onModuleInit(): void {
    this.timer = setInterval(() => void this.flush().catch(() => undefined), this.config.usage.flushIntervalMs);
    this.timer.unref();
  }

  /** Before the pool closes (its hook is onApplicationShutdown). */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.flush().catch(() => undefined);
  }

  /** Closes the current interval and writes it (and any batch a failed flush left); flushes never overlap. */
  flush(): Promise<void> {
    const run = this.last.then(() => this.write());
    this.last = run.catch(() => undefined);
    return run;
  }

  private async write(): Promise<void> {
    const interval = this.interval++;
    for (const { tenant, count } of this.counts.values()) this.pending.push({ tenant, count, key: `requests:${this.instanceId}:${interval}` });
    this.counts = new Map();
    const failed: Batch[] = [];
    for (const batch of this.pending) {
      try {
        await TenantContext.run({ tenant: batch.tenant, requestId: `usage-flush:${this.instanceId}:${interval}` }, () =>
          this.ledger.record({ metric: 'requests', delta: batch.count, reason: 'requests', key: batch.key }, this.db),
        );
      } catch (error) {
        // The tenant was deleted meanwhile (foreign key): nothing left to bill.
        if (pgServerErrorOf(error)?.code === '23503') continue;
        failed.push(batch);
        this.logger.warn(`requests of tenant ${batch.tenant.id} not written yet (${batch.count}, retried next flush): ${(error as Error)?.message}`);
      }
    }
    this.pending = failed;
    if (failed.length > 0) throw new Error(`${failed.length} request batches not written`);
  }
}

