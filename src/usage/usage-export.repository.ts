import { Injectable } from '@nestjs/common';
import { asc, eq } from 'drizzle-orm';
import { plans, tenantFromRow, tenants } from '../database/schema';
import { GenerateSql } from '../database/generate-sql.decorator';
import { SystemDb } from '../database/system-db';
import { TenantDb } from '../database/tenant-db';
import type { Tenant } from '../tenancy/tenant';

/**
 * The one cross-tenant read of usage: the billing export (platform admin).
 * The ledger is tenant data under forced RLS, so there is no query that reads
 * every tenant's rows at once: one named, audited platform transaction lists
 * the tenants, then enters each in turn (PlatformTransaction.asTenant: the
 * tenant set transaction-locally, a TenantDb bound to the same connection), so
 * every tenant's figures come from one consistent transaction and each is read
 * under its own tenant only.
 */
@Injectable()
export class UsageExportRepository {
  constructor(private readonly systemDb: SystemDb) {}

  /** fn once per tenant (slug order), as that tenant; the audit log names the operation and each tenant. */
  @GenerateSql({ params: [async () => undefined] })
  forEachTenant<T>(fn: (tenant: Tenant, tx: TenantDb) => Promise<T>): Promise<T[]> {
    return this.systemDb.transaction('usage.export', async (platform) => {
      const rows = await this.systemDb.run(
        'usage.export.listTenants',
        (db) => db.select({ tenant: tenants, plan: plans }).from(tenants).innerJoin(plans, eq(plans.id, tenants.plan)).orderBy(asc(tenants.slug)),
        platform,
      );
      const results: T[] = [];
      for (const { tenant: row, plan } of rows) {
        const tenant = tenantFromRow(row, plan);
        results.push(await platform.asTenant(tenant, (tx) => fn(tenant, tx)));
      }
      return results;
    });
  }
}
