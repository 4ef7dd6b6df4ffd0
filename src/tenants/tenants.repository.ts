import { Injectable } from '@nestjs/common';
import { and, asc, count, eq, gt, ne } from 'drizzle-orm';
import { PlatformTransaction, SystemDb } from '../database/system-db';
import { PlanRow, plans, tenantDeletions, TenantRow, tenants, TenantStatus } from '../database/schema';
import type { PlanOverrides } from '../tenancy/entitlements';
import { DummyValue, GenerateSql } from '../database/generate-sql.decorator';

/** The plan of a tenant created without one: the column's default. */
export const DEFAULT_PLAN = String(tenants.plan.default);

export interface NewTenant {
  /** Chosen beforehand for a dedicated placement (its anchor row is written there first). */
  id?: string;
  slug: string;
  name: string;
  plan?: string;
  database?: string;
}

export interface TenantChanges {
  name?: string;
  plan?: string;
  planOverrides?: PlanOverrides;
  status?: TenantStatus;
}

/** A tenant with its plan's row: what the tenant lookup caches (one query, one round trip). */
export interface TenantWithPlan {
  tenant: TenantRow;
  plan: PlanRow;
}

const withPlan = { tenant: tenants, plan: plans };

/** Platform table: every query is a named system operation. */
@Injectable()
export class TenantsRepository {
  constructor(private readonly systemDb: SystemDb) {}

  @GenerateSql({ params: [{ slug: 'sample-tenant', name: DummyValue.STRING, plan: 'free' }] })
  /** With `tx`, inside that platform transaction (e.g. a tenant created together with its first owner). */
  create(input: NewTenant, tx?: PlatformTransaction): Promise<TenantRow> {
    return this.systemDb.run('tenants.create', async (db) => {
      const [row] = await db.insert(tenants).values(input).returning();
      return row;
    }, tx);
  }

  /** Whether the tenant has an unfinished (running or failed) deletion: its jobs are not started, nor queued by the platform (src/jobs). */
  @GenerateSql({ params: [DummyValue.UUID] })
  deletionUnfinished(tenantId: string): Promise<boolean> {
    return this.systemDb.run('tenants.deletionUnfinished', async (db) => {
      const rows = await db
        .select({ id: tenantDeletions.id })
        .from(tenantDeletions)
        .where(and(eq(tenantDeletions.tenantId, tenantId), ne(tenantDeletions.status, 'completed')))
        .limit(1);
      return rows.length > 0;
    });
  }

  /** A tenant by id or slug, with its plan in the same statement: the lookup behind every request (then cached) and the admin routes. */
  @GenerateSql({ name: 'by id', params: [{ kind: 'id', value: DummyValue.UUID }] }, { name: 'by slug', params: [{ kind: 'slug', value: DummyValue.STRING }] })
  findWithPlan(identifier: { kind: 'id' | 'slug'; value: string }, tx?: PlatformTransaction): Promise<TenantWithPlan | undefined> {
    return this.systemDb.run('tenants.findWithPlan', async (db) => {
      const [row] = await db
        .select(withPlan)
        .from(tenants)
        .innerJoin(plans, eq(plans.id, tenants.plan))
        .where(identifier.kind === 'id' ? eq(tenants.id, identifier.value) : eq(tenants.slug, identifier.value))
        .limit(1);
      return row;
    }, tx);
  }

  /** Tenants on a plan, keyset-paginated by id (to forget their cached lookups after the plan changed). */
  @GenerateSql({ name: 'first page', params: [DummyValue.STRING, DummyValue.NUMBER] })
  listOnPlan(plan: string, limit: number, afterId?: string): Promise<Array<Pick<TenantRow, 'id' | 'slug'>>> {
    return this.systemDb.run('tenants.listOnPlan', (db) =>
      db
        .select({ id: tenants.id, slug: tenants.slug })
        .from(tenants)
        .where(and(eq(tenants.plan, plan), afterId ? gt(tenants.id, afterId) : undefined))
        .orderBy(asc(tenants.id))
        .limit(limit),
    );
  }

  /** Ordered by slug, keyset-paginated on it (slugs are unique). */
  @GenerateSql({ name: 'first page', params: [DummyValue.NUMBER] }, { name: 'after a slug', params: [DummyValue.NUMBER, DummyValue.STRING] })
  list(limit: number, afterSlug?: string): Promise<TenantRow[]> {
    return this.systemDb.run('tenants.list', (db) =>
      db
        .select()
        .from(tenants)
        .where(afterSlug ? gt(tenants.slug, afterSlug) : undefined)
        .orderBy(asc(tenants.slug))
        .limit(limit),
    );
  }

  /** How many tenants exist: the total of the ops CLI's paged list (its progress bar). */
  @GenerateSql()
  count(): Promise<number> {
    return this.systemDb.run('tenants.count', async (db) => {
      const [row] = await db.select({ count: count() }).from(tenants);
      return row.count;
    });
  }

  @GenerateSql({ params: [DummyValue.UUID, { name: DummyValue.STRING, plan: 'free', status: 'active' }] })
  update(id: string, changes: TenantChanges): Promise<TenantRow | undefined> {
    return this.systemDb.run('tenants.update', async (db) => {
      const [row] = await db
        .update(tenants)
        .set({ ...changes, updatedAt: new Date() })
        .where(and(eq(tenants.id, id)))
        .returning();
      return row;
    });
  }
}
