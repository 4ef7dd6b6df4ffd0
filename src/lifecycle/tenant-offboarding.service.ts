import { Injectable, Logger } from '@nestjs/common';
import { Readable } from 'node:stream';
import { CacheService } from '../cache/cache.service';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import { decodeCursor, Page, toPage } from '../common/http/cursor';
import { TenantDeletionRow, TenantDeletionStep, TenantDeletionStepName, TenantDeletionVerification } from '../database/schema';
import { TableCounts, TenantErasure, TenantPlacement } from '../database/tenant-erasure';
import { StorageService } from '../storage/storage.service';
import { entitlementsOf } from '../tenancy/entitlements';
import { Tenant, TenantContext } from '../tenancy/tenant-context';
import { parseTenantHeader } from '../tenancy/tenant-identifier';
import { TenantResolver } from '../tenants/tenant-resolver.service';
import { TenantsService, TenantView } from '../tenants/tenants.service';
import { TenantExporter } from '../exports/tenant-exporter';
import { TenantDeletionsRepository } from './tenant-deletions.repository';
import { TenantDeletionView } from './tenant-offboarding.schemas';

export type { TenantDeletionView };

/** The job kind this operation registers as, once the jobs module is there (src/jobs). */
export const TENANT_DELETION_JOB = 'tenants.delete';

/** What starts a deletion: the payload of the job it will become. */
export interface TenantDeletionRequest {
  /** The tenant, by id or slug (a tenant whose row is already gone: the id or slug its unfinished report names). */
  tenantId: string;
  /** Who asked: `admin-key:<fingerprint>` (HTTP) or `cli:<os user>`. Kept in the report. */
  requestedBy: string;
  reason?: string;
  /**
   * Export the tenant's data first (TenantExporter: every row and file), into a platform-level archive that
   * outlives the deletion. Fixed when the deletion starts; a resumed deletion does not export twice.
   */
  export?: boolean;
}

/** The jobs contract's progress and context (src/jobs, built separately): the same shape, so this registers as a handler unchanged. */
export interface OffboardingProgress {
  done: number;
  total?: number;
  stage?: string;
}
export interface OffboardingContext {
  report(progress: OffboardingProgress): Promise<void>;
}

const NO_PROGRESS: OffboardingContext = { report: async () => undefined };

/** Steps reported as progress (the export seam included). */
const STEP_COUNT = 8;

/** The deletion did not finish: its report (status failed, the error) says where it stopped; starting it again resumes. */
export class TenantDeletionFailedError extends AppError {
  constructor(
    readonly report: TenantDeletionView,
    cause: unknown,
  ) {
    super(ErrorCode.Internal, `The tenant deletion ${report.id} failed at a step; its report says which; start it again to resume`);
    this.name = 'TenantDeletionFailedError';
    this.cause = cause;
  }
}

/** Verification found something left: the deletion is not done (a straggling write, a purge that missed). */
class VerificationFailedError extends Error {
  constructor(verification: TenantDeletionVerification) {
    const left = [
      ...Object.entries(verification.rows).filter(([, n]) => n > 0).map(([table, n]) => `${n} row(s) in ${table}`),
      ...(verification.cacheKeys > 0 ? [`${verification.cacheKeys} cache key(s)`] : []),
      ...(verification.objects > 0 ? [`${verification.objects} storage object(s)`] : []),
    ];
    super(`verification found data left: ${left.join(', ')}`);
    this.name = 'VerificationFailedError';
  }
}

const sum = (counts: Record<string, number> | undefined) => Object.values(counts ?? {}).reduce((a, b) => a + b, 0);

/** What the report says, with the totals of every attempt. */
export function toTenantDeletionView(row: TenantDeletionRow): TenantDeletionView {
  const rows: Record<string, number> = {};
  let cacheKeys = 0;
  let objects = 0;
  let rowsBefore: Record<string, number> | null = null;
  for (const step of row.steps) {
    if (step.status !== 'done') continue;
    if (step.name === 'count-rows' && rowsBefore === null) rowsBefore = step.counts ?? {};
    if (step.name === 'delete-rows') for (const [table, n] of Object.entries(step.counts ?? {})) rows[table] = (rows[table] ?? 0) + n;
    if (step.name === 'purge-cache') cacheKeys += step.counts?.keys ?? 0;
    if (step.name === 'delete-objects') objects += step.counts?.objects ?? 0;
  }
  return {
    id: row.id,
    tenantId: row.tenantId,
    tenantSlug: row.tenantSlug,
    database: row.database,
    requestedBy: row.requestedBy,
    reason: row.reason,
    exportRequested: row.exportRequested,
    exportKey: row.exportKey,
    status: row.status,
    attempts: row.attempts,
    rowsBefore,
    deleted: { rows, cacheKeys, objects },
    steps: row.steps,
    verification: row.verification,
    error: row.error,
    startedAt: row.startedAt.toISOString(),
    finishedAt: row.finishedAt?.toISOString() ?? null,
  };
}

/**
 * Offboarding, verified (README "Offboarding"): the platform admin deletes a tenant.
 *
 *   suspend -> export (when asked: every row and file into a platform-level archive) -> count rows -> delete rows (every tenant table of its
 *   database, batched, as the owner role) -> purge its cache keys -> delete its storage prefix ->
 *   verify (zero rows in every tenant table, zero keys, zero objects) -> delete its tenants row
 *   (and its anchor on a dedicated database) -> completed
 *
 * Each step is recorded in the report (tenant_deletions) before the next one starts; a failure
 * records the step and the error (status failed). Every step is idempotent, so starting the
 * deletion again resumes the same report and finishes the job: a tenant whose row a previous
 * attempt already deleted still gets its purge and verification. Written as a job handler
 * (`delete(payload, { report })`, the jobs contract) so it can become the `tenants.delete` job.
 *
 * The runtime role still cannot delete tenants: the rows go through TenantErasure's owner
 * connections (src/database/tenant-erasure.ts), named and logged like every platform operation.
 */
@Injectable()
export class TenantOffboardingService {
  private readonly logger = new Logger('TenantOffboarding');
  /** Runs in progress in this process, by report id: a second start joins instead of racing. */
  private readonly running = new Map<string, Promise<TenantDeletionView>>();

  constructor(
    private readonly deletions: TenantDeletionsRepository,
    private readonly tenants: TenantsService,
    private readonly resolver: TenantResolver,
    private readonly erasure: TenantErasure,
    private readonly cache: CacheService,
    private readonly storage: StorageService,
    private readonly exporter: TenantExporter,
  ) {}

  /**
   * The job handler: starts (or resumes) the tenant's deletion and runs it to the end. Resolves
   * with the completed report; rejects with TenantDeletionFailedError (its report: status failed).
   */
  async delete(payload: TenantDeletionRequest, context: OffboardingContext = NO_PROGRESS): Promise<TenantDeletionView> {
    const report = await this.start(payload);
    return this.run(report.id, context);
  }

  /**
   * Finds the tenant and its unfinished report, or starts one (status running, nothing done yet).
   * Refuses before anything changes: an unknown tenant (404), an export asked for on a deletion
   * that started without one (409), no owner connection for its database. The HTTP route calls this, then run() (a job, later).
   */
  async start(request: TenantDeletionRequest, confirmSlug?: string): Promise<TenantDeletionView> {
    const identifier = this.identifierOf(request.tenantId);
    const tenant = await this.tenants.find(request.tenantId);
    const unfinished = await this.deletions.findUnfinished(tenant ? { kind: 'id', value: tenant.id } : identifier);
    if (!tenant && !unfinished) throw AppError.notFound('Tenant');
    const slug = tenant?.slug ?? unfinished!.tenantSlug;
    if (confirmSlug !== undefined && confirmSlug !== slug) {
      throw AppError.validation([{ path: 'confirm', message: "must be the tenant's slug, typed out" }]);
    }
    const database = unfinished?.database ?? tenant!.database;
    if (!this.erasure.canErase(database)) {
      throw new AppError(ErrorCode.Internal, 'Tenant deletion is not configured on this instance (the owner connection of the tenant\'s database is missing)');
    }
    if (unfinished) {
      // An export asked for now cannot be added to a deletion that started without one: its rows may be gone already.
      if (request.export && !unfinished.exportRequested) {
        throw new AppError(ErrorCode.Conflict, 'An unfinished deletion of this tenant was started without export; resume it without export, or export the tenant first (POST /tenants/:idOrSlug/export)');
      }
      return toTenantDeletionView(unfinished);
    }
    const created = await this.deletions.create({
      tenantId: tenant!.id,
      tenantSlug: tenant!.slug,
      database,
      requestedBy: request.requestedBy,
      reason: request.reason,
      exportRequested: request.export ?? false,
    });
    // Lost a race with another start for this tenant: that report is the one.
    const report = created ?? (await this.deletions.findUnfinished({ kind: 'id', value: tenant!.id }));
    if (!report) throw new AppError(ErrorCode.Conflict, 'The tenant deletion was completed meanwhile');
    return toTenantDeletionView(report);
  }

  /** Runs (or resumes) the steps of report `id`; in this process, one run per report at a time. */
  run(id: string, context: OffboardingContext = NO_PROGRESS): Promise<TenantDeletionView> {
    const current = this.running.get(id);
    if (current) return current;
    const run = this.runSteps(id, context).finally(() => this.running.delete(id));
    this.running.set(id, run);
    return run;
  }

  async get(id: string): Promise<TenantDeletionView> {
    const row = await this.deletions.findById(id);
    if (!row) throw AppError.notFound('Tenant deletion');
    return toTenantDeletionView(row);
  }

  async list(limit: number, cursor?: string): Promise<Page<TenantDeletionView>> {
    const after = decodeCursor(cursor);
    const rows = await this.deletions.list(limit + 1, after && { startedAt: after.createdAt, id: after.id });
    return toPage(rows, limit, toTenantDeletionView, (row) => ({ createdAt: row.startedAt, id: row.id }));
  }

  private identifierOf(idOrSlug: string): { kind: 'id' | 'slug'; value: string } {
    let identifier;
    try {
      identifier = parseTenantHeader(idOrSlug);
    } catch {
      identifier = undefined;
    }
    if (!identifier) throw AppError.notFound('Tenant');
    return identifier;
  }

  private async runSteps(id: string, context: OffboardingContext): Promise<TenantDeletionView> {
    const begun = await this.deletions.resume(id);
    if (!begun) {
      // Completed already (a re-run of a finished job): nothing to do.
      return this.get(id);
    }
    const attempt = begun.attempts;
    const placement: TenantPlacement = { tenantId: begun.tenantId, database: begun.database };
    const countedBefore = begun.steps.some((step) => step.name === 'count-rows' && step.status === 'done');
    let done = 0;
    const step = async (name: TenantDeletionStepName, fn: () => Promise<Pick<TenantDeletionStep, 'counts' | 'note'> & { skipped?: boolean }>) => {
      const startedAt = new Date().toISOString();
      await context.report({ done, total: STEP_COUNT, stage: name });
      try {
        const { skipped, ...outcome } = await fn();
        await this.deletions.appendStep(id, { name, attempt, status: skipped ? 'skipped' : 'done', startedAt, finishedAt: new Date().toISOString(), ...outcome });
      } catch (error) {
        const note = error instanceof Error ? error.message : String(error);
        await this.deletions.appendStep(id, { name, attempt, status: 'failed', startedAt, finishedAt: new Date().toISOString(), note });
        throw error;
      }
      done++;
    };

    try {
      this.logger.log(`tenant deletion ${id} of ${begun.tenantSlug} (${begun.tenantId}) on ${begun.database}: attempt ${attempt}, asked by ${begun.requestedBy}`);
      const tenant = await this.tenants.find(begun.tenantId);
      // Suspension first: every request of the tenant is refused from now on (its cached lookup is
      // forgotten, at once on every instance sharing Redis), sessions and API keys included.
      await step('suspend', async () => {
        if (!tenant) return { skipped: true, note: 'the tenant row is already deleted' };
        if (tenant.status !== 'suspended') await this.tenants.update(tenant.id, { status: 'suspended' });
        return {};
      });
      const scope = this.scopeOf(begun, tenant);
      await step('export', async () => this.exportBeforeDeletion(begun, scope));
      await step('count-rows', async () => {
        if (countedBefore) return { skipped: true, note: 'counted by an earlier attempt' };
        return { counts: await this.erasure.countRows(placement) };
      });
      let deletedSoFar = 0;
      await step('delete-rows', async () => ({
        counts: await this.erasure.deleteRows(placement, {
          onBatch: (table, deleted) => {
            deletedSoFar += deleted;
            return context.report({ done, total: STEP_COUNT, stage: `delete-rows: ${deletedSoFar} rows (${table})` });
          },
        }),
      }));
      await step('purge-cache', async () => ({ counts: { keys: await TenantContext.run(scope, () => this.cache.purgeTenant()) } }));
      await step('delete-objects', async () => ({ counts: { objects: await TenantContext.run(scope, () => this.storage.deleteTenantObjects()) } }));
      await step('verify', async () => {
        const verification = await this.verify(placement, scope);
        await this.deletions.recordVerification(id, verification);
        if (!verification.ok) throw new VerificationFailedError(verification);
        return { counts: { rows: sum(verification.rows), cacheKeys: verification.cacheKeys, objects: verification.objects } };
      });
      await step('delete-tenant', async () => {
        const deleted = await this.erasure.deleteTenantRecords(placement);
        // Its lookups (by id and slug) cached as "suspended" must go too: the tenant is unknown now.
        await this.resolver.forget({ id: begun.tenantId, slug: begun.tenantSlug });
        const left = await this.erasure.tenantRecordsLeft(placement);
        if (left.tenant || left.anchor) throw new Error(`the tenant's ${left.tenant ? 'row' : 'anchor'} is still there after its deletion`);
        return { counts: { tenant: deleted.tenant ? 1 : 0, anchor: deleted.anchor ? 1 : 0 } };
      });
      await context.report({ done: STEP_COUNT, total: STEP_COUNT, stage: 'completed' });
      const finished = await this.deletions.finish(id, 'completed');
      this.logger.log(`tenant deletion ${id} of ${begun.tenantSlug} (${begun.tenantId}) completed and verified`);
      return toTenantDeletionView(finished!);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.logger.error(`tenant deletion ${id} of ${begun.tenantSlug} (${begun.tenantId}) failed: ${message}`);
      const failed = await this.deletions.finish(id, 'failed', message);
      throw new TenantDeletionFailedError(toTenantDeletionView(failed!), error);
    }
  }

  /**
   * The export before deletion (README "Offboarding", "Export and import"): after suspension (nothing
   * changes under it) and before any row is deleted, the tenant's rows and files are written into one
   * archive at a platform-level key (offboarding-exports/<tenantId>/<deletionId>.tar.gz), outside the
   * tenant's prefix, so delete-objects leaves it for the operator to fetch (GET /tenant-deletions/:id/export).
   * The key is recorded once the archive is stored; a resumed deletion with it recorded does not export
   * again (the rows may be gone by then). A failed export fails the deletion before anything is deleted.
   */
  private async exportBeforeDeletion(report: TenantDeletionRow, scope: { tenant: Tenant; requestId: string }): Promise<Pick<TenantDeletionStep, 'counts' | 'note'> & { skipped?: boolean }> {
    if (!report.exportRequested) return { skipped: true, note: 'not requested' };
    if (report.exportKey) return { skipped: true, note: `exported by an earlier attempt: ${report.exportKey}` };
    const archive = await TenantContext.run(scope, () => this.exporter.writeArchive((body) => this.storage.putOffboardingExport(report.tenantId, report.id, body)));
    await this.deletions.recordExport(report.id, archive.key);
    const rows = archive.manifest.tables.reduce((total, table) => total + table.count, 0);
    return { counts: { rows, files: archive.manifest.files.length, bytes: archive.sizeBytes }, note: `${archive.key} sha256 ${archive.sha256}` };
  }

  /** The archive the deletion's export wrote (platform admin: GET /tenant-deletions/:id/export); 409 EXPORT_NOT_READY without one. */
  async openExport(id: string): Promise<{ body: Readable; size: number; filename: string }> {
    const report = await this.deletions.findById(id);
    if (!report) throw AppError.notFound('Tenant deletion');
    if (!report.exportKey) throw new AppError(ErrorCode.ExportNotReady, report.exportRequested ? 'The export before deletion has not been written yet' : 'This deletion did not export the tenant');
    const { body, size } = await this.storage.openOffboardingExport(report.exportKey);
    return { body, size, filename: `${report.tenantSlug}-offboarding-${report.id}.tar.gz` };
  }

  /** Zero rows in every tenant table of its database, zero cache keys and zero objects under its prefixes. */
  private async verify(placement: TenantPlacement, scope: { tenant: Tenant; requestId: string }): Promise<TenantDeletionVerification> {
    const rows: TableCounts = await this.erasure.countRows(placement);
    const [cacheKeys, objects] = await TenantContext.run(scope, () => Promise.all([this.cache.countTenantKeys(), this.storage.countTenantObjects()]));
    return { ok: sum(rows) === 0 && cacheKeys === 0 && objects === 0, at: new Date().toISOString(), rows, cacheKeys, objects };
  }

  /**
   * The tenant context the cache and storage layers build their keys from. Not through
   * TenantResolver.runForTenant, which admits active tenants only: this one is suspended, or
   * already gone (a resumed deletion), and only its id reaches those layers.
   */
  private scopeOf(report: TenantDeletionRow, tenant: TenantView | undefined): { tenant: Tenant; requestId: string } {
    const plan = tenant?.plan ?? 'deleted';
    return {
      requestId: `tenant-deletion:${report.id}`,
      tenant: {
        id: report.tenantId,
        slug: report.tenantSlug,
        name: tenant?.name ?? report.tenantSlug,
        status: 'suspended',
        plan,
        // Nothing of the plan is used by a purge; none is granted.
        entitlements: entitlementsOf({ id: plan, name: plan, features: [], limits: { documents: 0, storage_bytes: 0, members: 0, api_keys: 0, requests_per_minute: 0 } }),
        database: report.database,
      },
    };
  }
}
