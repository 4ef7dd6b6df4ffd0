/** The label value of every tenant past the cap. */
export const OTHER_TENANTS = 'other';

/**
 * Bounds the `tenant` label: the first `limit` tenants seen since start keep
 * their id as the label, every later one shares `other`. A label per tenant
 * without a cap would make the series count grow with the customer base (each
 * series costs memory in this process and in Prometheus); first-come is simple
 * and stable for the life of the process (a tenant never moves between labels).
 */
export class TenantLabels {
  private readonly labelled = new Set<string>();

  constructor(private readonly limit: number) {}

  labelFor(tenantId: string): string {
    if (this.labelled.has(tenantId)) return tenantId;
    if (this.labelled.size >= this.limit) return OTHER_TENANTS;
    this.labelled.add(tenantId);
    return tenantId;
  }
}
