import { z } from 'zod';
import { UUID_PATTERN } from '../common/uuid';
import { FEATURES, LIMITS, LimitName } from '../tenancy/entitlements';
import { currentUseView } from '../usage/usage.schemas';

export const PLAN_ID_PATTERN = /^[a-z0-9_-]{1,50}$/;
export const planId = z
  .string()
  .trim()
  .regex(PLAN_ID_PATTERN, '1-50 characters: lowercase letters, digits, "-" and "_"')
  // Plan ids are names people read (and clients show); an id-shaped one would read as some tenant's or row's id.
  .refine((id) => !UUID_PATTERN.test(id), 'must not look like a UUID');

/** A limit: a whole number from 0, or null for unlimited. */
const limitValue = z.union([z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), z.null()]);

const limitsShape = Object.fromEntries(LIMITS.map((name) => [name, limitValue])) as Record<LimitName, typeof limitValue>;

/** PUT /plans/:id: the whole definition (every limit named, so a plan never has an accidental gap). */
export const planDefinitionSchema = z.strictObject({
  name: z.string().trim().min(1).max(100),
  features: z.array(z.enum(FEATURES)).max(FEATURES.length).transform((features) => [...new Set(features)]),
  limits: z.strictObject(limitsShape),
});
export type PlanDefinitionInput = z.infer<typeof planDefinitionSchema>;

const limitsView = z.strictObject(limitsShape).meta({ id: 'PlanLimits' });

/** Per-tenant overrides: any subset; `features.x: false` takes a plan feature away, a limit of null lifts it. */
export const planOverridesSchema = z.strictObject({
  features: z.strictObject(Object.fromEntries(FEATURES.map((f) => [f, z.boolean().optional()])) as Record<(typeof FEATURES)[number], z.ZodOptional<z.ZodBoolean>>).optional(),
  limits: z.strictObject(Object.fromEntries(LIMITS.map((name) => [name, limitValue.optional()])) as Record<LimitName, z.ZodOptional<typeof limitValue>>).optional(),
}).meta({ id: 'PlanOverrides' });
export type PlanOverridesInput = z.infer<typeof planOverridesSchema>;

/** PUT /tenants/:idOrSlug/plan: the plan and the tenant's overrides (replaced as a whole; {} clears them). */
export const tenantPlanSchema = z.strictObject({
  plan: planId,
  overrides: planOverridesSchema.default({}),
});
export type TenantPlanInput = z.infer<typeof tenantPlanSchema>;

export const planParamsSchema = z.strictObject({ id: planId });

// Responses (GET /openapi.json).
export const planView = z
  .strictObject({ id: z.string(), name: z.string(), features: z.array(z.enum(FEATURES)), limits: limitsView, createdAt: z.iso.datetime(), updatedAt: z.iso.datetime() })
  .meta({ id: 'Plan' });
export const planList = z.strictObject({ items: z.array(planView) }).meta({ id: 'PlanList' });
/** GET /plan: the plan with the tenant's overrides applied. */
export const entitlementsView = z
  .strictObject({ plan: z.string(), features: z.array(z.enum(FEATURES)), limits: limitsView, usage: currentUseView })
  .meta({ id: 'Entitlements' });
