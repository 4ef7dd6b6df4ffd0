import { Injectable } from '@nestjs/common';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import { AppConfig } from '../config/app-config';
import { TenantRow } from '../database/schema';
import { TenantsRepository } from '../tenants/tenants.repository';
import { Tenant } from './tenant-context';
import { TenantIdentifier } from './tenant-identifier';

interface CacheEntry {
  tenant: Tenant | null;
  expiresAt: number;
}

const MAX_ENTRIES = 10_000;

export function toTenant(row: TenantRow): Tenant {
  return { id: row.id, slug: row.slug, name: row.name, status: row.status, plan: row.plan };
}

/**
 * Turns an identifier into an active tenant, or the right error. Lookups
 * (misses included, so a flood of unknown slugs does not reach Postgres) are
 * kept in memory for TENANT_CACHE_TTL_MS: a suspension made on another instance
 * takes effect within that time, one made through this instance at once.
 */
@Injectable()
export class TenantResolver {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly ttlMs: number;

  constructor(
    private readonly tenants: TenantsRepository,
    config: AppConfig,
  ) {
    this.ttlMs = config.tenancy.cacheTtlMs;
  }

  /** Any status; undefined when no such tenant. */
  async find(identifier: TenantIdentifier): Promise<Tenant | undefined> {
    const key = `${identifier.kind}:${identifier.value}`;
    const now = Date.now();
    const cached = this.cache.get(key);
    if (cached && cached.expiresAt > now) return cached.tenant ?? undefined;

    const row = identifier.kind === 'id' ? await this.tenants.findById(identifier.value) : await this.tenants.findBySlug(identifier.value);
    const tenant = row ? toTenant(row) : null;
    if (this.ttlMs > 0) {
      if (this.cache.size >= MAX_ENTRIES) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(key, { tenant, expiresAt: now + this.ttlMs });
    }
    return tenant ?? undefined;
  }

  /** 404 for unknown, 403 for suspended. */
  async resolveActive(identifier: TenantIdentifier): Promise<Tenant> {
    const tenant = await this.find(identifier);
    if (!tenant) throw new AppError(ErrorCode.TenantNotFound, 'Tenant not found');
    if (tenant.status !== 'active') throw new AppError(ErrorCode.TenantSuspended, 'Tenant is suspended');
    return tenant;
  }

  /** Called when this instance changes a tenant, so the change is visible here immediately. */
  forget(tenant: Pick<Tenant, 'id' | 'slug'>): void {
    this.cache.delete(`id:${tenant.id}`);
    this.cache.delete(`slug:${tenant.slug}`);
  }
}
