import { entitlementsOf, FEATURES, type Entitlements } from '../../src/tenancy/entitlements';
import type { Tenant } from '../../src/tenancy/tenant-context';

/** Every feature, no limits: what tests that are not about plans run with (the enterprise plan's definition). */
export const UNLIMITED_ENTITLEMENTS: Entitlements = entitlementsOf({
  id: 'enterprise',
  name: 'Enterprise',
  features: FEATURES,
  limits: { documents: null, storage_bytes: null, members: null, api_keys: null, requests_per_minute: null },
});

/** A Tenant for the data layer from a tenants row read in SQL (tests that insert tenants directly). */
export function testTenant(row: { id: string; slug: string; name: string; status: Tenant['status']; plan?: string; database?: string }): Tenant {
  return { id: row.id, slug: row.slug, name: row.name, status: row.status, plan: row.plan ?? 'enterprise', entitlements: UNLIMITED_ENTITLEMENTS, database: row.database ?? 'shared' };
}
