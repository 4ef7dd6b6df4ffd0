import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { CacheService } from '../cache/cache.service';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import { AppConfig } from '../config/app-config';
import { tenantFromRow } from '../database/schema';
import { entitlementsOf } from '../tenancy/entitlements';
import { Tenant, TenantContext } from '../tenancy/tenant-context';
import { parseTenantHeader, TenantIdentifier } from '../tenancy/tenant-identifier';
import { TenantsRepository } from './tenants.repository';

/** Platform cache namespace (`p:tenant-lookup:...`): tenant lookups run before any tenant context exists. */
const LOOKUP_NAMESPACE = 'tenant-lookup';
const lookupKey = (identifier: TenantIdentifier) => `${identifier.kind}.${identifier.value}`;


/**
 * Turns an identifier into an active tenant, or the right error. The tenant
 * comes with its entitlements (plan + overrides, read in the same statement),
 * so plan checks cost nothing per request and follow the same cache. Lookups
 * (misses included, so a flood of unknown slugs does not reach Postgres) are
 * cached for TENANT_CACHE_TTL_MS through CacheService's platform namespace
 * (Redis when configured, so shared by every instance; else in-process). A
 * suspension or plan change made through TenantsService (or a plan edited
 * through PlansService) is forgotten at once in that store (every instance sharing the Redis sees it immediately); otherwise it
 * takes effect within the TTL.
 *
 * It lives with the tenants feature, not with admission (src/admission), because
 * TenantsService must forget a tenant it changed and run work as a tenant it
 * created; admission uses it from above, so the arrow stays one-way.
 */
@Injectable()
export class TenantResolver {
  private readonly ttlMs: number;

  constructor(
    private readonly tenants: TenantsRepository,
    private readonly cache: CacheService,
    config: AppConfig,
  ) {
    this.ttlMs = config.tenancy.cacheTtlMs;
  }

  /** Any status; undefined when no such tenant. */
  async find(identifier: TenantIdentifier): Promise<Tenant | undefined> {
    const tenant = await this.cache.platform.getOrSet(
      LOOKUP_NAMESPACE,
      lookupKey(identifier),
      async (): Promise<Tenant | null> => {
        const found = await this.tenants.findWithPlan(identifier);
        return found ? tenantFromRow(found.tenant, found.plan) : null;
      },
      this.ttlMs,
    );
    return tenant ?? undefined;
  }

  /** 404 for unknown, 403 for suspended. */
  async resolveActive(identifier: TenantIdentifier): Promise<Tenant> {
    const tenant = await this.find(identifier);
    if (!tenant) throw new AppError(ErrorCode.TenantNotFound, 'Tenant not found');
    if (tenant.status !== 'active') throw new AppError(ErrorCode.TenantSuspended, 'Tenant is suspended');
    return tenant;
  }

  /** Whether an unfinished deletion holds the tenant (read each time, not cached: asked before a job starts). */
  deletionUnfinished(tenantId: string): Promise<boolean> {
    return this.tenants.deletionUnfinished(tenantId);
  }

  /**
   * Called after a tenant changes, so the change is visible at once. If the store
   * is down the deletion is replayed when it returns (CacheService), and entries
   * expire within the TTL anyway.
   */
  forget(tenant: Pick<Tenant, 'id' | 'slug'>): Promise<void> {
    return this.cache.platform.delete(LOOKUP_NAMESPACE, lookupKey({ kind: 'id', value: tenant.id }), lookupKey({ kind: 'slug', value: tenant.slug }));
  }

  /**
   * A tenant named by a platform admin (a route parameter or a CLI argument), whatever its
   * status: exports and imports also serve suspended tenants. Unparseable or unknown: 404.
   */
  async findByIdOrSlug(idOrSlug: string): Promise<Tenant> {
    let identifier;
    try {
      identifier = parseTenantHeader(idOrSlug);
    } catch {
      identifier = undefined;
    }
    const tenant = identifier ? await this.find(identifier) : undefined;
    if (!tenant) throw AppError.notFound('Tenant');
    return tenant;
  }

  /**
   * Runs fn as the given tenant outside HTTP (scripts, jobs). The tenant must
   * exist and be active, exactly as for a request.
   */
  async runForTenant<T>(idOrSlug: string, fn: () => PromiseLike<T>, jobId: string = randomUUID()): Promise<T> {
    const identifier = parseTenantHeader(idOrSlug);
    if (!identifier) throw new AppError(ErrorCode.TenantRequired, 'A tenant is required');
    const tenant = await this.resolveActive(identifier);
    // Awaited inside the scope: a lazy Drizzle builder returned by fn must execute there too.
    return TenantContext.run({ tenant, requestId: jobId }, async () => await fn());
  }
}
