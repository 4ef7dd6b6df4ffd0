import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import { TenantContext } from './tenant-context';
import { parseTenantHeader, sameIdentifier, TenantIdentifier, tenantSlugFromHost } from './tenant-identifier';
import { TenantResolver } from './tenant-resolver.service';
import { Tenant } from './tenant-context';
import { AppConfig } from '../config/app-config';

export interface TenantRequestHeaders {
  'x-tenant-id'?: string | string[];
  host?: string;
}

/** The same 400 wherever the header and the subdomain turn out to name two tenants. */
export function tenantAmbiguous(): AppError {
  return new AppError(ErrorCode.TenantAmbiguous, 'x-tenant-id and the subdomain name different tenants');
}

@Injectable()
export class TenancyService {
  constructor(
    private readonly resolver: TenantResolver,
    private readonly config: AppConfig,
  ) {}

  /**
   * What the request names, from x-tenant-id and/or the subdomain. Throws 400
   * for a malformed or doubled header; undefined when neither names a tenant.
   */
  identifiersOf(headers: TenantRequestHeaders): { header?: TenantIdentifier; host?: TenantIdentifier } {
    const header = parseTenantHeader(headers['x-tenant-id']);
    const slug = tenantSlugFromHost(headers.host, this.config.tenancy.baseDomain);
    return { header, host: slug ? { kind: 'slug', value: slug } : undefined };
  }

  /** The identifiers the request gives (header first, then subdomain); 400 TENANT_REQUIRED when none. */
  namedIdentifiers(headers: TenantRequestHeaders): TenantIdentifier[] {
    const { header, host } = this.identifiersOf(headers);
    const named = [header, host].filter((id): id is TenantIdentifier => id !== undefined);
    if (named.length === 0) {
      throw new AppError(ErrorCode.TenantRequired, 'Name the tenant with the x-tenant-id header or a tenant subdomain');
    }
    return named;
  }

  /** Resolution order: 400 missing/malformed -> 404 unknown -> 400 header/subdomain disagree -> 403 suspended. */
  async resolveRequestTenant(headers: TenantRequestHeaders): Promise<Tenant> {
    const [first, second] = this.namedIdentifiers(headers);
    if (second && !sameIdentifier(first, second)) {
      const [a, b] = await Promise.all([this.resolver.find(first), this.resolver.find(second)]);
      if (!a || !b) throw new AppError(ErrorCode.TenantNotFound, 'Tenant not found');
      if (a.id !== b.id) throw tenantAmbiguous();
    }
    return this.resolver.resolveActive(first);
  }

  /**
   * Runs fn as the given tenant outside HTTP (scripts, jobs). The tenant must
   * exist and be active, exactly as for a request.
   */
  async runForTenant<T>(idOrSlug: string, fn: () => PromiseLike<T>, jobId: string = randomUUID()): Promise<T> {
    const identifier = parseTenantHeader(idOrSlug);
    if (!identifier) throw new AppError(ErrorCode.TenantRequired, 'A tenant is required');
    const tenant = await this.resolver.resolveActive(identifier);
    // Awaited inside the scope: a lazy Drizzle builder returned by fn must execute there too.
    return TenantContext.run({ tenant, requestId: jobId }, async () => await fn());
  }
}
