/**
 * The tenant as every layer knows it. Declared here, at the bottom, so the
 * schema (database/schema/tenants.ts) and the tenant context share one
 * definition without the context depending on the data layer.
 */
import type { Entitlements } from './entitlements';

export const TENANT_STATUSES = ['active', 'suspended'] as const;
export type TenantStatus = (typeof TENANT_STATUSES)[number];

/** What the rest of the request knows about its tenant. */
export interface Tenant {
  id: string;
  slug: string;
  name: string;
  status: TenantStatus;
  plan: string;
  /** The plan's features and limits with this tenant's overrides applied (src/plans). */
  entitlements: Entitlements;
  /** The database holding its rows: "shared" or a dedicated database's name (the tenant directory). */
  database: string;
}
