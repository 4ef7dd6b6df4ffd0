import { Injectable } from '@nestjs/common';
import type { JobHandler, JobKindOptions } from './job-types';

export interface JobKind {
  kind: string;
  handler: JobHandler<unknown>;
  options: Required<JobKindOptions>;
}

const KIND_PATTERN = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*$/;
/** pg-boss caps a job's expiration below 24 hours. */
const MAX_TIMEOUT_SECONDS = 86_399;

/**
 * The job kinds this build knows, registered by feature modules in onModuleInit
 * (JobsService.register). One registry for the service (enqueue checks the
 * kind) and the worker (runs its handler).
 */
@Injectable()
export class JobKinds {
  private readonly kinds = new Map<string, JobKind>();

  register<P>(kind: string, handler: JobHandler<P>, options: JobKindOptions = {}): void {
    if (!KIND_PATTERN.test(kind) || kind.length > 100) throw new Error(`job kind "${kind}": lower-case words, digits and dashes, dot-separated (e.g. exports.tenant)`);
    if (this.kinds.has(kind)) throw new Error(`job kind "${kind}" is registered twice`);
    const resolved: Required<JobKindOptions> = {
      retryLimit: options.retryLimit ?? 2,
      retryDelaySeconds: options.retryDelaySeconds ?? 10,
      retryBackoff: options.retryBackoff ?? false,
      timeoutSeconds: options.timeoutSeconds ?? 900,
      runsOnSuspendedTenants: options.runsOnSuspendedTenants ?? false,
      onGivenUp: options.onGivenUp ?? (async () => undefined),
    };
    const { retryLimit, retryDelaySeconds, timeoutSeconds } = resolved;
    if (!Number.isInteger(retryLimit) || retryLimit < 0 || retryLimit > 100) throw new Error(`job kind "${kind}": retryLimit must be an integer 0-100`);
    if (!Number.isInteger(retryDelaySeconds) || retryDelaySeconds < 0) throw new Error(`job kind "${kind}": retryDelaySeconds must be an integer >= 0`);
    if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > MAX_TIMEOUT_SECONDS) {
      throw new Error(`job kind "${kind}": timeoutSeconds must be an integer 1-${MAX_TIMEOUT_SECONDS}`);
    }
    this.kinds.set(kind, { kind, handler: handler as JobHandler<unknown>, options: resolved });
  }

  get(kind: string): JobKind | undefined {
    return this.kinds.get(kind);
  }
}
