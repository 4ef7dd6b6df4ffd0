import { Injectable } from '@nestjs/common';
import { AppError } from '../common/errors/app-error';
import { PlanRow, UsageMetric } from '../database/schema';
import { UsageService } from '../usage/usage.service';
import { completeLimits, Entitlements, Feature, FEATURES, Limits } from '../tenancy/entitlements';
import { TenantContext } from '../tenancy/tenant-context';
import { PlansRepository } from './plans.repository';
import { PlanDefinitionInput } from './plans.schemas';

export interface PlanView {
  id: string;
  name: string;
  features: Feature[];
  limits: Limits;
  createdAt: string;
  updatedAt: string;
}

export function toPlanView(row: PlanRow): PlanView {
  return { id: row.id, name: row.name, features: FEATURES.filter((f) => row.features.includes(f)), limits: completeLimits(row.limits), createdAt: row.createdAt.toISOString(), updatedAt: row.updatedAt.toISOString() };
}

/** Called after a plan's definition changed, with its id (TenantsService forgets the cached lookups of its tenants). */
export type PlanChangedListener = (planId: string) => Promise<void>;

/**
 * Plans as data: the definitions (platform admin), and what the current
 * tenant is entitled to (its plan with its overrides, carried by the tenant
 * context). Assigning a plan to a tenant is TenantsService's (it owns the
 * tenant row and its cached lookup).
 */
@Injectable()
export class PlansService {
  private readonly listeners: PlanChangedListener[] = [];

  constructor(
    private readonly plans: PlansRepository,
    private readonly usage: UsageService,
  ) {}

  onPlanChanged(listener: PlanChangedListener): void {
    this.listeners.push(listener);
  }

  async list(): Promise<{ items: PlanView[] }> {
    return { items: (await this.plans.list()).map(toPlanView) };
  }

  async get(id: string): Promise<PlanView> {
    const row = await this.plans.findById(id);
    if (!row) throw AppError.notFound('Plan');
    return toPlanView(row);
  }

  async exists(id: string): Promise<boolean> {
    return (await this.plans.findById(id)) !== undefined;
  }

  /**
   * Creates or replaces a plan. Its tenants' cached lookups are forgotten
   * before this returns, so the change bites at once on every instance that
   * shares Redis (others: within TENANT_CACHE_TTL_MS).
   */
  async put(id: string, input: PlanDefinitionInput): Promise<{ plan: PlanView; created: boolean }> {
    const { row, created } = await this.plans.upsert(id, input);
    if (!created) for (const listener of this.listeners) await listener(id);
    return { plan: toPlanView(row), created };
  }

  /** What the current tenant may do: its plan, features and limits (overrides applied), and its current use of each counted metric. */
  async current(): Promise<Entitlements & { usage: Record<UsageMetric, number> }> {
    return { ...TenantContext.current().entitlements, usage: await this.usage.currentUse() };
  }
}
