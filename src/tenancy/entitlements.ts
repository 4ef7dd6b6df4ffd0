/**
 * What a tenant's plan allows: the features it may use and its limits. Declared
 * here, at the bottom with Tenant, because every layer reads it from the tenant
 * context (the guard for @RequiresFeature, quotas, rate limits) while the plans
 * themselves are data (the `plans` table, src/plans).
 */
export const FEATURES = ['attachments', 'api_keys'] as const;
export type Feature = (typeof FEATURES)[number];

/** Counted limits. `null` means unlimited. */
export const LIMITS = ['documents', 'storage_bytes', 'members', 'api_keys', 'requests_per_minute'] as const;
export type LimitName = (typeof LIMITS)[number];
export type Limits = Record<LimitName, number | null>;

export interface PlanDefinition {
  id: string;
  name: string;
  features: readonly Feature[];
  limits: Limits;
}

/** Per-tenant exceptions set by the platform admin: a feature turned on or off, a limit raised or lowered. */
export interface PlanOverrides {
  features?: Partial<Record<Feature, boolean>>;
  limits?: Partial<Record<LimitName, number | null>>;
}

export interface Entitlements {
  plan: string;
  features: readonly Feature[];
  limits: Readonly<Limits>;
}

/** The plan with the tenant's overrides applied: what the tenant may do right now. */
export function entitlementsOf(plan: PlanDefinition, overrides: PlanOverrides = {}): Entitlements {
  const features = new Set<Feature>(plan.features.filter((feature) => (FEATURES as readonly string[]).includes(feature)));
  for (const [feature, on] of Object.entries(overrides.features ?? {}) as Array<[Feature, boolean | undefined]>) {
    if (on === true) features.add(feature);
    else if (on === false) features.delete(feature);
  }
  const limits = completeLimits(plan.limits);
  for (const name of LIMITS) {
    const override = overrides.limits?.[name];
    if (override !== undefined) limits[name] = override;
  }
  return Object.freeze({ plan: plan.id, features: Object.freeze(FEATURES.filter((f) => features.has(f))), limits: Object.freeze(limits) });
}

/**
 * Every limit by name from a plan row's `limits`: a limit the row does not name
 * (a plan written before that limit existed) is unlimited until the plan says
 * otherwise, and names that are not limits are dropped.
 */
export function completeLimits(limits: Partial<Limits>): Limits {
  return Object.fromEntries(LIMITS.map((name) => [name, limits[name] ?? null])) as Limits;
}
