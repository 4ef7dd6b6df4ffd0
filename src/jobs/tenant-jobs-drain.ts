import { Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { JOB_FAILURES } from './job-errors';
import { JobsRepository } from './jobs.repository';

/** How often forDeletion looks again while the tenant's jobs run. */
const POLL_MS = 200;

/**
 * Quiets a tenant's background jobs through their rows alone (no queue, no worker), so the ops CLI
 * (which runs no job module) drains them exactly as an API instance does (JobRowsModule).
 */
@Injectable()
export class TenantJobsDrain {
  constructor(private readonly jobs: JobsRepository) {}

  /**
   * Offboarding, before any of the current tenant's rows is deleted (the tenant is suspended by
   * then, so no request queues more): its queued jobs are cancelled (TENANT_DELETED; a worker that
   * fetches one drops it) and its running ones waited for, up to `waitMs`. Without this, a job
   * running on a suspended tenant (an export) would store its archive after the deletion emptied
   * the tenant's prefix, and verification would fail on it. A worker marks its attempt running
   * before it touches anything, so every job is either cancelled or waited for; and the worker
   * refuses to start any job of a tenant with an unfinished deletion (a job that came up between
   * two passes). Throws when jobs still run after `waitMs` (a worker that died mid-attempt leaves
   * its row running until the queue gives it up: its timeout).
   */
  async forDeletion(options: { waitMs: number; checkpoint?: () => void }): Promise<{ cancelled: number; waitedFor: number }> {
    const deadline = Date.now() + options.waitMs;
    const cancelled = new Set<string>();
    const waitedFor = new Set<string>();
    for (;;) {
      options.checkpoint?.();
      // Running ones first, then the queued: done only when a pass finds neither, so a job that failed and
      // was queued for a retry after the look at the running ones is cancelled by the next pass.
      const running = await this.jobs.listRunning();
      const justCancelled = await this.jobs.cancelQueued(JOB_FAILURES.tenantDeleted);
      for (const id of justCancelled) cancelled.add(id);
      if (running.length === 0) {
        if (justCancelled.length === 0) return { cancelled: cancelled.size, waitedFor: waitedFor.size };
        continue;
      }
      for (const id of running) waitedFor.add(id);
      if (Date.now() >= deadline) {
        throw new Error(`${running.length} job(s) of the tenant still running after ${options.waitMs} ms (${running.join(', ')}); start the deletion again once they have ended`);
      }
      await sleep(POLL_MS);
    }
  }
}
