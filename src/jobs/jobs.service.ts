import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { optionalPrincipal } from '../access/principal';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import { decodeCursor, Page, toPage } from '../common/http/cursor';
import { UUID_PATTERN } from '../common/uuid';
import { JobRow } from '../database/schema';
import type { Tenant } from '../tenancy/tenant';
import { TenantContext } from '../tenancy/tenant-context';
import { JOB_FAILURES, JobPayloadRejectedError, UnknownJobKindError } from './job-errors';
import { JobKinds } from './job-kinds';
import { JobQueue } from './job-queue';
import { EnqueueOptions, JOB_TENANTS, JobHandler, JobKindOptions, JobTenants } from './job-types';
import { JobsRepository } from './jobs.repository';
import { JobView, ListJobsQuery } from './jobs.schemas';
import { JobsWorker } from './jobs.worker';

export type { JobView };

/** A queue is not a store: large inputs belong in the tenant's rows or files, the payload names them. */
const MAX_PAYLOAD_BYTES = 64 * 1024;
/**
 * Field names that say "secret". The payload is kept in the queue (shared database, readable by the
 * runtime role, archived for days): a job that needs a credential reads it where it lives.
 */
const SECRET_FIELD = /password|passwd|secret|token|credential|authorization|api[-_]?key|private[-_]?key/i;

const iso = (date: Date | null) => (date ? date.toISOString() : null);

export const toJobView = (row: JobRow): JobView => ({
  id: row.id,
  kind: row.kind,
  status: row.status,
  progress: { done: row.progressDone, total: row.progressTotal, stage: row.progressStage },
  attempts: row.attempts,
  maxAttempts: row.maxAttempts,
  lastError: row.lastErrorCode ? { code: row.lastErrorCode, message: row.lastError ?? '' } : null,
  result: row.result ?? null,
  requestedBy: row.requestedBy,
  createdAt: row.createdAt.toISOString(),
  startedAt: iso(row.startedAt),
  finishedAt: iso(row.finishedAt),
  updatedAt: row.updatedAt.toISOString(),
});

function checkPayload(payload: unknown): void {
  let text: string | undefined;
  try {
    text = JSON.stringify(payload ?? null);
  } catch {
    throw new JobPayloadRejectedError('it is not JSON');
  }
  if (text === undefined) throw new JobPayloadRejectedError('it is not JSON');
  if (Buffer.byteLength(text) > MAX_PAYLOAD_BYTES) throw new JobPayloadRejectedError(`it is over ${MAX_PAYLOAD_BYTES} bytes`);
  const secrets: string[] = [];
  JSON.parse(text, (key, value: unknown) => {
    if (key && SECRET_FIELD.test(key)) secrets.push(key);
    return value;
  });
  if (secrets.length) throw new JobPayloadRejectedError(`field(s) ${[...new Set(secrets)].join(', ')} look like secrets; payloads are stored in the queue in clear`);
}

/**
 * Tenant-aware background jobs (README "Background jobs"). A feature registers a
 * kind once (onModuleInit) and enqueues work for the current tenant; the worker
 * later runs the handler inside that tenant's context. The tenant is never
 * taken from the payload: it travels beside it, from the context of whoever
 * enqueued.
 */
@Injectable()
export class JobsService {
  constructor(
    private readonly kinds: JobKinds,
    private readonly jobs: JobsRepository,
    private readonly queue: JobQueue,
    private readonly worker: JobsWorker,
    @Inject(JOB_TENANTS) private readonly tenants: JobTenants,
  ) {}

  register<P>(kind: string, handler: JobHandler<P>, options?: JobKindOptions): void {
    this.kinds.register(kind, handler, options);
  }

  /**
   * A job of `kind` for the current tenant. Outside a tenant context it throws
   * MissingTenantContextError before anything is written: tenant work is never
   * queued without its tenant.
   */
  async enqueue<P>(kind: string, payload: P, options: EnqueueOptions = {}): Promise<JobView> {
    const tenant = TenantContext.current();
    return await this.enqueueAs(tenant, kind, payload, options, optionalPrincipal()?.id ?? null);
  }

  /**
   * Platform work (offboarding, moves) a platform admin starts for a named tenant,
   * from outside any tenant context. The tenant must exist; a suspended one only
   * for kinds that run on suspended tenants.
   */
  async enqueueForTenant<P>(tenantId: string, kind: string, payload: P, options: EnqueueOptions = {}): Promise<JobView> {
    const current = TenantContext.scope();
    if (current && current.tenant.id !== tenantId.toLowerCase()) {
      throw new AppError(ErrorCode.Internal, 'enqueueForTenant for another tenant than the current tenant context');
    }
    const registered = this.kinds.get(kind);
    if (!registered) throw new UnknownJobKindError(kind);
    const id = tenantId.toLowerCase();
    const tenant = UUID_PATTERN.test(id) ? await this.tenants.find({ kind: 'id', value: id }) : undefined;
    if (!tenant) throw new AppError(ErrorCode.TenantNotFound, 'Tenant not found');
    if (tenant.status !== 'active' && !registered.options.runsOnSuspendedTenants) throw new AppError(ErrorCode.TenantSuspended, 'Tenant is suspended');
    if (await this.tenants.deletionUnfinished(tenant.id)) throw new AppError(ErrorCode.Conflict, 'The tenant is being deleted: no work can be queued for it');
    return await TenantContext.run({ tenant, requestId: current?.requestId ?? randomUUID() }, () => this.enqueueAs(tenant, kind, payload, options, null));
  }

  /** The row first (the tenant sees it queued), then the queue; a queue that refuses leaves the row failed, not queued forever. */
  private async enqueueAs(tenant: Tenant, kind: string, payload: unknown, options: EnqueueOptions, requestedBy: string | null): Promise<JobView> {
    const registered = this.kinds.get(kind);
    if (!registered) throw new UnknownJobKindError(kind);
    checkPayload(payload);
    const { retryLimit, retryDelaySeconds, retryBackoff, timeoutSeconds } = registered.options;
    const row = await this.jobs.create({ id: randomUUID(), kind, maxAttempts: retryLimit + 1, requestedBy });
    try {
      await this.queue.send(
        { tenantId: tenant.id, jobId: row.id, kind, payload: payload ?? null },
        { retryLimit, retryDelaySeconds, retryBackoff, timeoutSeconds, delaySeconds: options.delaySeconds },
      );
    } catch (error) {
      await this.jobs.failAttempt(row.id, JOB_FAILURES.notQueued, 'failed').catch(() => undefined);
      throw error;
    }
    this.worker.notify();
    return toJobView(row);
  }

  async get(id: string): Promise<JobView> {
    const row = await this.jobs.findById(id);
    if (!row) throw AppError.notFound('Job');
    return toJobView(row);
  }

  async list(query: ListJobsQuery): Promise<Page<JobView>> {
    const rows = await this.jobs.list({ limit: query.limit + 1, after: decodeCursor(query.cursor) });
    return toPage(rows, query.limit, toJobView);
  }
}
