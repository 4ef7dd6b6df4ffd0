import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { optionalPrincipal } from '../access/principal';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import { decodeCursor, Page, toPage } from '../common/http/cursor';
import { PeriodicSweep } from '../common/async/periodic-sweep';
import { AppConfig } from '../config/app-config';
import { ExportRow } from '../database/schema';
import { JobsService } from '../jobs/jobs.service';
import { StorageService } from '../storage/storage.service';
import { TenantContext } from '../tenancy/tenant-context';
import { TenantResolver } from '../tenants/tenant-resolver.service';
import { TenantsService } from '../tenants/tenants.service';
import { ExportsRepository } from './exports.repository';
import { ExportView, ListExportsQuery, PlatformExportView } from './exports.schemas';
import { EXPORT_JOB_ATTEMPTS, TENANT_EXPORT_JOB, TenantExporter } from './tenant-exporter';

const iso = (date: Date | null) => (date ? date.toISOString() : null);

export const toExportView = (row: ExportRow): ExportView => ({
  id: row.id,
  status: row.status,
  jobId: row.jobId,
  tables: row.tables ?? null,
  fileCount: row.fileCount,
  sizeBytes: row.sizeBytes,
  checksumSha256: row.checksumSha256,
  error: row.errorCode ? { code: row.errorCode, message: row.error ?? '' } : null,
  requestedBy: row.requestedBy,
  createdAt: row.createdAt.toISOString(),
  startedAt: iso(row.startedAt),
  finishedAt: iso(row.finishedAt),
});

const toPlatformExportView = (tenantId: string, row: ExportRow): PlatformExportView => ({ ...toExportView(row), tenantId, archiveKey: row.archiveKey });

/** An export whose job was given up by the queue (its last attempt's worker died): failed for good, a new export may be requested. */
export const EXPORT_ABANDONED = { code: 'EXPORT_ABANDONED', message: 'The export stopped when the worker writing it died on its last attempt; request a new export' };

/** The payload of a `tenants.export` job: which export row to write (the tenant travels beside it). */
interface ExportJobPayload {
  exportId: string;
}

/** How often worker instances delete expired exports (EXPORT_RETENTION_DAYS): retention is counted in days, an hour late is fine. */
const RETENTION_SWEEP_INTERVAL_MS = 3_600_000;
/** Tenants listed per page, and expired exports deleted per tenant per sweep (the next sweep takes the rest). */
const SWEEP_PAGE = 200;

/** A download: the archive's bytes and what the response says about them. */
export interface ExportDownload {
  body: Readable;
  sizeBytes: number;
  checksumSha256: string;
  filename: string;
}

/**
 * Tenant data exports (README "Export and import"): requested by a tenant admin (POST /exports) or
 * the platform admin (POST /tenants/:idOrSlug/export), written by a background job
 * (`tenants.export`, TenantExporter), downloaded through the API once succeeded.
 */
@Injectable()
export class ExportsService implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Exports');
  private readonly retention = new PeriodicSweep(
    () => this.sweepOnce(new Date()),
    (error) => this.logger.warn(`export retention sweep failed: ${(error as Error).message}`),
  );

  constructor(
    private readonly exports: ExportsRepository,
    private readonly exporter: TenantExporter,
    private readonly jobs: JobsService,
    private readonly storage: StorageService,
    private readonly resolver: TenantResolver,
    private readonly tenants: TenantsService,
    private readonly config: AppConfig,
  ) {}

  /** Retention runs where the job worker runs (JOBS_WORKER=on), like the queue's maintenance; API-only instances do not sweep. */
  onApplicationBootstrap(): void {
    if (!this.config.jobs.worker || this.config.exports.retentionDays === 0) return;
    this.retention.start(RETENTION_SWEEP_INTERVAL_MS);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.retention.stop();
  }

  onModuleInit(): void {
    this.jobs.register<ExportJobPayload>(
      TENANT_EXPORT_JOB,
      async (payload, context) => {
        const row = await this.exporter.run(payload.exportId, { report: context.report, final: context.attempt >= EXPORT_JOB_ATTEMPTS });
        return { exportId: row.id, status: row.status, sizeBytes: row.sizeBytes, files: row.fileCount };
      },
      // A suspended tenant can still be exported ("give me my data" after a suspension); an hour per attempt.
      {
        retryLimit: EXPORT_JOB_ATTEMPTS - 1,
        retryDelaySeconds: 30,
        retryBackoff: true,
        timeoutSeconds: 3600,
        runsOnSuspendedTenants: true,
        // The last attempt's worker died: no handler runs again to fail the row, which would stay running.
        onGivenUp: async (payload) => {
          const exportId = (payload as Partial<ExportJobPayload> | null)?.exportId;
          if (typeof exportId === 'string') await this.exports.fail(exportId, EXPORT_ABANDONED, true);
        },
      },
    );
  }

  /** POST /exports: a new export of the current tenant, queued (202). */
  async request(): Promise<ExportView> {
    return toExportView(await this.enqueue(optionalPrincipal()?.id ?? 'unknown', false));
  }

  /** POST /tenants/:idOrSlug/export (platform admin): the same, for any tenant whatever its status. */
  async requestForTenant(idOrSlug: string, requestedBy: string): Promise<PlatformExportView> {
    const tenant = await this.resolver.findByIdOrSlug(idOrSlug);
    return TenantContext.run({ tenant, requestId: randomUUID() }, async () => toPlatformExportView(tenant.id, await this.enqueue(requestedBy, true)));
  }

  async list(query: ListExportsQuery): Promise<Page<ExportView>> {
    const rows = await this.exports.list({ limit: query.limit + 1, after: decodeCursor(query.cursor) });
    return toPage(rows, query.limit, toExportView);
  }

  async get(id: string): Promise<ExportView> {
    return toExportView(await this.row(id));
  }

  async getForTenant(idOrSlug: string, id: string): Promise<PlatformExportView> {
    const tenant = await this.resolver.findByIdOrSlug(idOrSlug);
    return TenantContext.run({ tenant, requestId: randomUUID() }, async () => toPlatformExportView(tenant.id, await this.row(id)));
  }

  /** The archive of a succeeded export of the current tenant; EXPORT_NOT_READY (409) before. */
  async download(id: string): Promise<ExportDownload> {
    const row = await this.row(id);
    if (row.status !== 'succeeded' || !row.archiveKey) throw new AppError(ErrorCode.ExportNotReady, `The export is ${row.status}: there is nothing to download yet`);
    const { body } = await this.storage.openExportArchive(row.archiveKey);
    return { body, sizeBytes: row.sizeBytes!, checksumSha256: row.checksumSha256!, filename: `${TenantContext.current().slug}-export-${row.id}.tar.gz` };
  }

  async downloadForTenant(idOrSlug: string, id: string): Promise<ExportDownload> {
    const tenant = await this.resolver.findByIdOrSlug(idOrSlug);
    return TenantContext.run({ tenant, requestId: randomUUID() }, () => this.download(id));
  }

  /**
   * DELETE /exports/:id: the archive (through the storage layer), then the row. In that order, so a
   * failure in between leaves a row that can be deleted again, never an archive no row names.
   * 404 when there is no such export (a second DELETE too); EXPORT_RUNNING (409) while its job may
   * still write the archive.
   */
  async delete(id: string): Promise<void> {
    const row = await this.row(id);
    if (row.status === 'queued' || row.status === 'running') throw new AppError(ErrorCode.ExportRunning, `The export is ${row.status}: delete it once it finished`);
    await this.deleteFinished(row);
  }

  /** DELETE /tenants/:idOrSlug/exports/:id (platform admin): the same, for any tenant whatever its status. */
  async deleteForTenant(idOrSlug: string, id: string): Promise<void> {
    const tenant = await this.resolver.findByIdOrSlug(idOrSlug);
    await TenantContext.run({ tenant, requestId: randomUUID() }, () => this.delete(id));
  }

  /**
   * Retention (EXPORT_RETENTION_DAYS): every tenant's exports that finished more than that many
   * days before `now` lose their archive and their row. Tenant by tenant, each in its own context
   * (its database, its RLS), whatever its status; a tenant that cannot be written now (paused by a
   * move, its database down) is left for the next sweep. Two instances sweeping at once delete the
   * same exports twice: harmless (a missing object is not an error, a deleted row is skipped).
   * Resolves with the exports deleted; 0 when retention is off.
   */
  sweepExpired(): Promise<number> {
    return this.retention.runNow();
  }

  private async sweepOnce(now: Date): Promise<number> {
    const days = this.config.exports.retentionDays;
    if (days === 0) return 0;
    const cutoff = new Date(now.getTime() - days * 86_400_000);
    let deleted = 0;
    let cursor: string | undefined;
    do {
      const page = await this.tenants.list(SWEEP_PAGE, cursor);
      for (const listed of page.items) {
        try {
          const tenant = await this.resolver.findByIdOrSlug(listed.id);
          deleted += await TenantContext.run({ tenant, requestId: randomUUID() }, async () => {
            let n = 0;
            for (const row of await this.exports.findExpired(cutoff, SWEEP_PAGE)) if (await this.deleteFinished(row)) n++;
            return n;
          });
        } catch (error) {
          this.logger.warn(`export retention: tenant ${listed.id} skipped this time (${(error as Error).message})`);
        }
      }
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    if (deleted) this.logger.log(`export retention: ${deleted} export(s) finished before ${cutoff.toISOString()} deleted`);
    return deleted;
  }

  /** The archive, then the row, of a finished export of the current tenant; false when the row was gone (or started again) meanwhile. */
  private async deleteFinished(row: ExportRow): Promise<boolean> {
    if (row.archiveKey) await this.storage.deleteExportArchive(row.archiveKey);
    return await this.exports.delete(row.id);
  }

  /**
   * The row first (the tenant sees it queued), then the job. A queue that refuses leaves the row
   * failed (not queued forever), and the request fails: a 202 means the job is in the queue.
   */
  private async enqueue(requestedBy: string, platform: boolean): Promise<ExportRow> {
    const row = await this.exports.create({ id: randomUUID(), requestedBy });
    const payload: ExportJobPayload = { exportId: row.id };
    try {
      // The tenant's own request: the job row names its principal; the platform's: a platform job (any tenant status).
      const job = platform ? await this.jobs.enqueueForTenant(TenantContext.currentId(), TENANT_EXPORT_JOB, payload) : await this.jobs.enqueue(TENANT_EXPORT_JOB, payload);
      return (await this.exports.setJob(row.id, job.id)) ?? row;
    } catch (error) {
      this.logger.error(`export ${row.id}: the job could not be queued (${(error as Error).message})`);
      await this.exports.fail(row.id, { code: 'NOT_QUEUED', message: 'The export could not be queued; request it again' }, true).catch(() => undefined);
      throw error;
    }
  }

  private async row(id: string): Promise<ExportRow> {
    const row = await this.exports.findById(id);
    if (!row) throw AppError.notFound('Export');
    return row;
  }
}
