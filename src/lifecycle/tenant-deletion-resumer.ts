import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { PeriodicSweep } from '../common/async/periodic-sweep';
import { AppConfig } from '../config/app-config';
import { TenantOffboardingService } from './tenant-offboarding.service';

/** Reports taken per sweep: each is claimed (one UPDATE) and then runs in the background; the rest wait for the next sweep. */
const SWEEP_BATCH = 10;

/**
 * Resumes tenant deletions whose run died (README "Offboarding"): every
 * TENANT_DELETION_SWEEP_INTERVAL_MS, the running reports whose lease expired are launched again
 * (TenantOffboardingService.launch: the same claim as any start, so two instances sweeping at once
 * still run each report once). Failed reports are not resumed: an operator reads the error, then
 * starts them again (DELETE /tenants/:idOrSlug, `tenants delete`).
 *
 * Only on instances that run background work (JOBS_WORKER=on, as JobsWorker decides) and only in
 * the application (AppModule), never in the CLI's context. Stopped at SIGTERM (main.ts) and at
 * shutdown; the runs themselves stop at a step boundary (TenantOffboardingService.stopRuns).
 */
@Injectable()
export class TenantDeletionResumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('TenantDeletionResumer');
  private readonly sweeps = new PeriodicSweep(
    () => this.sweepOnce(),
    () => undefined, // sweepOnce logs its own failures
  );
  private stopped = false;

  constructor(
    private readonly offboarding: TenantOffboardingService,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.jobs.worker) return;
    this.sweeps.start(this.config.offboarding.sweepIntervalMs);
  }

  /** SIGTERM (main.ts): no sweep from now on. */
  stop(): Promise<void> {
    this.stopped = true;
    return this.sweeps.stop();
  }

  async beforeApplicationShutdown(): Promise<void> {
    // A sweep in flight only claims (the runs go on in the background, stopped by the service's own hook).
    await this.stop();
  }

  /** One sweep (also the tests' way to resume without waiting for the interval); never throws. Resolves with the reports launched. */
  sweep(): Promise<void> {
    return this.stopped ? Promise.resolve() : this.sweeps.runNow();
  }

  private async sweepOnce(): Promise<void> {
    let ids: string[];
    try {
      ids = await this.offboarding.findResumable(SWEEP_BATCH);
    } catch (error) {
      this.logger.warn(`looking for tenant deletions to resume failed: ${(error as Error).message}`);
      return;
    }
    for (const id of ids) {
      if (this.stopped) return;
      if (this.offboarding.isRunning(id)) continue;
      try {
        const report = await this.offboarding.launch(id);
        if (report.leaseOwner === this.offboarding.leaseOwner) this.logger.warn(`resuming tenant deletion ${id} of ${report.tenantSlug} (attempt ${report.attempts}): its previous run's lease expired`);
      } catch (error) {
        this.logger.warn(`resuming tenant deletion ${id} failed: ${(error as Error).message}`);
      }
    }
  }
}
