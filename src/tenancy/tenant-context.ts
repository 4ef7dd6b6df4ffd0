import { AsyncLocalStorage } from 'node:async_hooks';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import type { Tenant } from './tenant';

// Re-exported: most code that enters or reads the context also names the Tenant type.
export type { Tenant } from './tenant';

export interface TenantScope {
  tenant: Tenant;
  /** Correlates log lines of this unit of work (the HTTP request id, or a job id). */
  requestId?: string;
  /** Filled by admission (the Principal of src/access) for HTTP requests. */
  principal?: unknown;
  /** What admission let in, re-checked by PostgreSQL with every statement of the unit of work. */
  claim?: AccessClaim;
}

/**
 * The access a request was admitted with. Admission may read it from a short
 * in-process cache (src/access/access-cache.ts), so the database layer sends it
 * along with every statement of the request (tenancy_enter(), migration 0007):
 * a removed member, a revoked key or a lowered role is refused by PostgreSQL in
 * the same round trip, whatever any instance's cache still holds.
 */
export interface AccessClaim {
  readonly kind: 'user' | 'api-key';
  /** The user id or the API key id. */
  readonly id: string;
  /** One of the membership roles (viewer, member, admin, owner). */
  readonly role: string;
  /**
   * Whether PostgreSQL has confirmed the claim during this unit of work (admission
   * read it there, or a statement carrying it succeeded). A request that ends
   * without confirmation is confirmed before it answers (TenantContextInterceptor).
   */
  confirmed: boolean;
}

/** Reading the tenant outside a tenant scope is a bug; it must fail, never fall back to "all tenants". */
export class MissingTenantContextError extends AppError {
  constructor() {
    super(ErrorCode.Internal, 'No tenant context: tenant data accessed outside a tenant scope');
    this.name = 'MissingTenantContextError';
  }
}

const storage = new AsyncLocalStorage<TenantScope>();

/**
 * The tenant of the current unit of work. Entered only with run() (never
 * enterWith(), which leaks into whatever continues on the same async path), by
 * TenantContextInterceptor (src/admission) for HTTP and by
 * TenantResolver.runForTenant (src/tenants) for scripts and jobs, and by
 * PlatformTransaction.asTenant (src/database) for the tenant part of a platform transaction;
 * background writers that hold a Tenant already enter it directly: the usage flush
 * (src/usage), and src/jobs (enqueueForTenant, and the worker for a suspended tenant's job).
 */
export const TenantContext = {
  run<T>(scope: TenantScope, fn: () => T): T {
    return storage.run(Object.freeze({ ...scope }), fn);
  },

  /** The current tenant; throws when there is none. */
  current(): Tenant {
    const scope = storage.getStore();
    if (!scope) throw new MissingTenantContextError();
    return scope.tenant;
  },

  currentId(): string {
    return TenantContext.current().id;
  },

  scope(): TenantScope | undefined {
    return storage.getStore();
  },

  /** Runs fn with no tenant at all, e.g. to prove that untenanted code sees nothing. */
  exit<T>(fn: () => T): T {
    return storage.exit(fn);
  },
};

/**
 * Marks an error with the claim its statement carried. A result can reach more
 * requests than the one that loaded it (the cache's single flight shares one
 * load), so whoever maps a refused claim must know whose claim it was.
 */
export function tagWithClaim(error: unknown, claim: AccessClaim): void {
  if (typeof error === 'object' && error !== null) Object.defineProperty(error, 'claim', { value: claim, configurable: true });
}

/** The claim a failed statement carried (set by tagWithClaim), if any. */
export function claimOf(error: unknown): AccessClaim | undefined {
  return (error as { claim?: AccessClaim } | undefined)?.claim ?? (error as { cause?: { claim?: AccessClaim } } | undefined)?.cause?.claim;
}
