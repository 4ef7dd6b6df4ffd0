import { Injectable, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { SHARED_DATABASE } from '../config/env.schema';
import { TenantDatabases } from '../database/tenant-databases';
import { AppError } from '../common/errors/app-error';
import { Page } from '../common/http/cursor';
import { tenantFromRow, TenantRow } from '../database/schema';
import { Transactions } from '../database/transactions';
import { parseTenantHeader } from '../tenancy/tenant-identifier';
import { ErrorCode } from '../common/errors/error-codes';
import { FirstOwnerResult, MembersService } from '../members/members.service';
import { PlansService } from '../plans/plans.service';
import { TenantPlanInput } from '../plans/plans.schemas';
import type { PlanOverrides } from '../tenancy/entitlements';
import { TenantResolver } from './tenant-resolver.service';
import { DEFAULT_PLAN, TenantsRepository } from './tenants.repository';
import { CreateTenantInput, TenantView, UpdateTenantInput } from './tenants.schemas';

/** Response types live beside the API contract's schemas (GET /openapi.json), inferred from them; re-exported for the importers of this file. */
export type { TenantView };


export function toTenantView(row: TenantRow): TenantView {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    status: row.status,
    plan: row.plan,
    planOverrides: row.planOverrides,
    database: row.database,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** Slug cursors are opaque to clients like every other cursor. */
const encodeSlugCursor = (slug: string) => Buffer.from(slug).toString('base64url');
function decodeSlugCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const slug = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^[a-z0-9-]{1,63}$/.test(slug)) throw new AppError(ErrorCode.InvalidCursor, 'The cursor is not valid');
  return slug;
}

/** Tenants whose cached lookups are forgotten per page after their plan changed. */
const FORGET_PAGE_SIZE = 500;

@Injectable()
export class TenantsService implements OnModuleInit {
  constructor(
    private readonly tenants: TenantsRepository,
    private readonly resolver: TenantResolver,
    private readonly members: MembersService,
    private readonly plans: PlansService,
    private readonly transactions: Transactions,
    private readonly databases: TenantDatabases,
  ) {}

  onModuleInit(): void {
    // A plan's definition changed: its tenants' cached entitlements must go (README "Plans").
    this.plans.onPlanChanged((planId) => this.forgetTenantsOnPlan(planId));
  }

  /**
   * With `owner`: a password and an email without an account create the
   * account as owner (`owner.member`); an email that already has an account is
   * never linked (nor given this password): it gets an owner invitation
   * (`owner.invitation`, token shown once), as does an owner named without a
   * password. The password is hashed before anything is written; then the
   * tenant row, the owner's account and their membership (or the invitation)
   * are one transaction: a failure at any step (a crash included) leaves none
   * of them, and a 2xx means all of them are committed.
   */
  async create(input: CreateTenantInput): Promise<TenantView & { owner?: FirstOwnerResult }> {
    const { owner, database, ...named } = input;
    if (named.plan !== undefined) await this.requireKnownPlan(named.plan);
    const fields = { ...named, ...(await this.placement(named.slug, named.plan, database)) };
    const prepared = owner ? await this.members.prepareFirstOwner(owner) : undefined;
    const { row, result } = prepared
      ? await this.transactions.run('tenants.create-with-owner', async (platform) => {
          const created = await this.tenants.create(fields, platform);
          const found = await this.tenants.findWithPlan({ kind: 'id', value: created.id }, platform);
          if (!found) throw new Error('tenants.create: the new tenant is not visible in its own transaction');
          return { row: created, result: await this.members.addFirstOwner(prepared, tenantFromRow(found.tenant, found.plan), platform) };
        })
      : { row: await this.tenants.create(fields), result: undefined };
    // Once committed: a lookup of this slug cached as "unknown" meanwhile must not hide the new tenant.
    await this.resolver.forget(row);
    const view = toTenantView(row);
    return result ? { ...view, owner: result } : view;
  }

  /**
   * An owner invitation for an existing tenant: how the platform admin gives a
   * tenant an owner again (its owner left, or it was created without one).
   * Never links an account directly; the holder accepts with their own password.
   */
  async inviteOwner(idOrSlug: string, email: string): Promise<{ invitation: FirstOwnerResult['invitation'] }> {
    const row = await this.findRow(idOrSlug);
    return { invitation: await this.resolver.runForTenant(row.id, () => this.members.issueOwnerInvitation(email)) };
  }

  async list(limit: number, cursor?: string): Promise<Page<TenantView>> {
    const rows = await this.tenants.list(limit + 1, decodeSlugCursor(cursor));
    const hasMore = rows.length > limit;
    const items = rows.slice(0, limit);
    return { items: items.map(toTenantView), nextCursor: hasMore ? encodeSlugCursor(items[items.length - 1].slug) : null };
  }

  count(): Promise<number> {
    return this.tenants.count();
  }

  async get(idOrSlug: string): Promise<TenantView> {
    return toTenantView(await this.findRow(idOrSlug));
  }

  /** The tenant by id or slug, any status, or undefined (offboarding resumes deletions of tenants already gone). */
  async find(idOrSlug: string): Promise<TenantView | undefined> {
    try {
      return await this.get(idOrSlug);
    } catch (error) {
      if (error instanceof AppError && error.code === ErrorCode.NotFound) return undefined;
      throw error;
    }
  }

  async update(idOrSlug: string, changes: UpdateTenantInput & { planOverrides?: PlanOverrides }): Promise<TenantView> {
    const existing = await this.findRow(idOrSlug);
    if (changes.plan !== undefined) await this.requireKnownPlan(changes.plan);
    const row = await this.tenants.update(existing.id, changes);
    if (!row) throw AppError.notFound('Tenant');
    // A suspension must bite at once here (and on every instance sharing the Redis cache); others follow within the TTL.
    await this.resolver.forget(row);
    return toTenantView(row);
  }

  /**
   * Moves the tenant onto a plan with its overrides (replaced as a whole). Like
   * a suspension, it bites at once on every instance sharing Redis.
   */
  async setPlan(idOrSlug: string, input: TenantPlanInput): Promise<TenantView> {
    return this.update(idOrSlug, { plan: input.plan, planOverrides: input.overrides });
  }

  /**
   * A dedicated placement (TENANT_DATABASES): the tenant's id is chosen here and its anchor written
   * on its database (provisioned on first use) before the tenant row exists, so the row never points
   * at a database that is not ready. Creation failing after this leaves an unreachable anchor (no
   * rows, a slug derived from the unused id), never a tenant without its database.
   */
  private async placement(slug: string, plan: string | undefined, database: string | undefined): Promise<{ id?: string; database?: string }> {
    if (database === undefined || database === SHARED_DATABASE) return {};
    if (!this.databases.isRegistered(database)) throw AppError.validation([{ path: 'database', message: `no database "${database}" is registered (TENANT_DATABASES)` }]);
    // Checked before anything is written on the dedicated database (the insert still enforces it).
    if (await this.tenants.findWithPlan({ kind: 'slug', value: slug })) throw new AppError(ErrorCode.Conflict, 'A resource with the same unique value already exists');
    const id = randomUUID();
    await this.databases.place(database, id, await this.plans.get(plan ?? DEFAULT_PLAN));
    return { id, database };
  }

  private async requireKnownPlan(plan: string): Promise<void> {
    if (!(await this.plans.exists(plan))) throw AppError.validation([{ path: 'plan', message: `unknown plan "${plan}"` }]);
  }

  private async forgetTenantsOnPlan(planId: string): Promise<void> {
    let after: string | undefined;
    for (;;) {
      const page = await this.tenants.listOnPlan(planId, FORGET_PAGE_SIZE, after);
      await Promise.all(page.map((tenant) => this.resolver.forget(tenant)));
      if (page.length < FORGET_PAGE_SIZE) return;
      after = page[page.length - 1].id;
    }
  }

  private async findRow(idOrSlug: string): Promise<TenantRow> {
    let identifier;
    try {
      identifier = parseTenantHeader(idOrSlug);
    } catch {
      throw AppError.notFound('Tenant');
    }
    const found = identifier && (await this.tenants.findWithPlan(identifier));
    if (!found) throw AppError.notFound('Tenant');
    return found.tenant;
  }
}
