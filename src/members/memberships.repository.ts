import { Injectable } from '@nestjs/common';
import { and, asc, eq, inArray, ne, or, sql } from 'drizzle-orm';
import { Cursor } from '../common/http/cursor';
import { MembershipRole, memberships, tenants, TenantStatus, users } from '../database/schema';
import { SystemDb } from '../database/system-db';
import { SHARED_DATABASE } from '../config/env.schema';
import { Placeholders, TenantDb } from '../database/tenant-db';
import { DummyValue, GenerateSql } from '../database/generate-sql.decorator';

export interface MemberRow {
  /** The membership id (cursor key); the API addresses members by userId. */
  id: string;
  userId: string;
  email: string;
  name: string;
  role: MembershipRole;
  createdAt: Date;
}

export interface UserTenantRow {
  id: string;
  slug: string;
  name: string;
  status: TenantStatus;
  role: MembershipRole;
}

const memberColumns = {
  id: memberships.id,
  userId: memberships.userId,
  email: users.email,
  name: users.name,
  role: memberships.role,
  createdAt: memberships.createdAt,
};

/**
 * Memberships of the current tenant (TenantDb: filtered by tenant and RLS),
 * plus the one cross-tenant read: a user's own memberships (SystemDb.asUser,
 * allowed by the memberships_self_read policy). Methods that take part in a
 * transaction accept the transaction's handle.
 */
@Injectable()
export class MembershipsRepository {
  /** Runs on every authenticated tenant request: prepared, built once here. */
  private readonly roleOf;

  constructor(
    private readonly db: TenantDb,
    private readonly systemDb: SystemDb,
  ) {
    this.roleOf = db.prepared((q, p: Placeholders<{ userId: string }>) =>
      q.select({ role: memberships.role }).from(memberships).where(eq(memberships.userId, p.userId)).limit(1),
    );
  }

  /** The per-request check behind "revocation is immediate": one indexed lookup (tenant_id, user_id). */
  @GenerateSql({ params: [DummyValue.UUID] })
  async findRole(userId: string): Promise<MembershipRole | undefined> {
    const [row] = await this.roleOf.execute({ userId });
    return row?.role;
  }

  @GenerateSql({ params: [DummyValue.UUID] })
  async findMember(userId: string, db: TenantDb = this.db): Promise<MemberRow | undefined> {
    const [row] = await db
      .select(memberColumns)
      .from(memberships)
      .innerJoin(users, eq(users.id, memberships.userId))
      .where(eq(memberships.userId, userId))
      .limit(1);
    return row;
  }

  /**
   * The member of this tenant with this email, if any. One query (memberships
   * of this tenant joined to users), the same work whether or not the email
   * has an account elsewhere: only membership here is visible to the caller.
   */
  @GenerateSql({ params: [DummyValue.EMAIL] })
  async findMemberByEmail(email: string): Promise<MemberRow | undefined> {
    const [row] = await this.db
      .select(memberColumns)
      .from(memberships)
      .innerJoin(users, eq(users.id, memberships.userId))
      .where(eq(sql`lower(${users.email})`, email.trim().toLowerCase()))
      .limit(1);
    return row;
  }

  /** Oldest first, keyset-paginated on (created_at, id). */
  @GenerateSql({ name: 'first page', params: [{ limit: DummyValue.NUMBER }] }, { name: 'after a cursor', params: [{ limit: DummyValue.NUMBER, after: { createdAt: DummyValue.DATE, id: DummyValue.UUID_2 } }] })
  list(options: { limit: number; after?: Cursor }): Promise<MemberRow[]> {
    return this.db
      .select(memberColumns)
      .from(memberships)
      .innerJoin(users, eq(users.id, memberships.userId))
      .where(options.after ? sql`(${memberships.createdAt}, ${memberships.id}) > (${options.after.createdAt}, ${options.after.id})` : undefined)
      .orderBy(asc(memberships.createdAt), asc(memberships.id))
      .limit(options.limit);
  }

  /**
   * 409 CONFLICT when the user is already a member. Only for an account created
   * in the same request (a new tenant's first owner, by the platform admin):
   * an existing account joins a tenant only by accepting an invitation (createIfAbsent).
   */
  @GenerateSql({ params: [{ userId: DummyValue.UUID, role: 'member' }] })
  async create(input: { userId: string; role: MembershipRole }, db: TenantDb = this.db): Promise<string> {
    const [row] = await db.insert(memberships).values(input).returning({ id: memberships.id });
    return row.id;
  }

  /** For invitation acceptance (the account proved itself): an existing membership (added meanwhile) is kept as it is. */
  @GenerateSql({ params: [{ userId: DummyValue.UUID, role: 'member' }, DummyValue.TX] })
  /** The new membership's id; undefined when the user already was a member. */
  async createIfAbsent(input: { userId: string; role: MembershipRole }, db: TenantDb): Promise<string | undefined> {
    const [row] = await db.insert(memberships).values(input).onConflictDoNothing().returning({ id: memberships.id });
    return row?.id;
  }

  /**
   * Locks the target's membership and every owner's, in id order (so two
   * concurrent owner changes queue instead of deadlocking), and returns them.
   * Under READ COMMITTED a waiting transaction re-reads the rows after the
   * first commits, so it counts the owners as they are now.
   */
  @GenerateSql({ params: [DummyValue.TX, DummyValue.UUID, DummyValue.UUID_2] })
  lockOwnersAnd(tx: TenantDb, ...userIds: string[]): Promise<Array<{ userId: string; role: MembershipRole }>> {
    return tx
      .select({ userId: memberships.userId, role: memberships.role })
      .from(memberships)
      .where(or(eq(memberships.role, 'owner'), inArray(memberships.userId, userIds)))
      .orderBy(asc(memberships.id))
      .for('update');
  }

  @GenerateSql({ params: [DummyValue.TX, DummyValue.UUID, 'admin'] })
  async updateRole(tx: TenantDb, userId: string, role: MembershipRole): Promise<void> {
    await tx.update(memberships).set({ role, updatedAt: new Date() }).where(eq(memberships.userId, userId));
  }

  @GenerateSql({ params: [DummyValue.TX, DummyValue.UUID] })
  /** The removed membership's id, if there was one. */
  async delete(tx: TenantDb, userId: string): Promise<string | undefined> {
    const [row] = await tx.delete(memberships).where(eq(memberships.userId, userId)).returning({ id: memberships.id });
    return row?.id;
  }

  /**
   * Every tenant the user belongs to, with their role there (GET /me, switching tenants). Memberships
   * live where their tenant's rows are, so each dedicated database is asked too (in parallel); its
   * tenants' slug, name and status come from the shared database, which also says where each tenant
   * is placed now: a membership read on a database its tenant has left is not listed. Only the
   * dedicated databases some tenant is placed on are asked: a registered database that holds no tenant
   * yet may not even exist (provisioning creates it with its first tenant), and asking every
   * registered one would open (and, under a tight DB_POOL_BUDGET, evict) pools for nothing.
   */
  @GenerateSql({ params: [DummyValue.UUID] })
  async listTenantsOfUser(userId: string): Promise<UserTenantRow[]> {
    const inUse = new Set(await this.dedicatedDatabasesInUse());
    const dedicated = this.systemDb.dedicatedDatabases().filter((database) => inUse.has(database));
    const [onShared, ...elsewhere] = await Promise.all([
      this.systemDb.asUser('memberships.listTenantsOfUser', userId, (db) =>
        db
          .select({ id: tenants.id, slug: tenants.slug, name: tenants.name, status: tenants.status, role: memberships.role })
          .from(memberships)
          .innerJoin(tenants, eq(tenants.id, memberships.tenantId))
          .where(and(eq(memberships.userId, userId), eq(tenants.database, SHARED_DATABASE))),
      ),
      ...dedicated.map(async (database) => {
        const found = await this.systemDb.asUser(
          'memberships.listTenantsOfUser',
          userId,
          (db) => db.select({ tenantId: memberships.tenantId, role: memberships.role }).from(memberships).where(eq(memberships.userId, userId)),
          database,
        );
        return found.map((membership) => ({ ...membership, database }));
      }),
    ]);
    const placedElsewhere = elsewhere.flat();
    const rows: UserTenantRow[] = [...onShared];
    if (placedElsewhere.length > 0) {
      const placed = await this.systemDb.run('memberships.tenantsOfUserElsewhere', (db) =>
        db
          .select({ id: tenants.id, slug: tenants.slug, name: tenants.name, status: tenants.status, database: tenants.database })
          .from(tenants)
          .where(inArray(tenants.id, placedElsewhere.map((membership) => membership.tenantId))),
      );
      for (const membership of placedElsewhere) {
        const tenant = placed.find((candidate) => candidate.id === membership.tenantId && candidate.database === membership.database);
        if (tenant) rows.push({ id: tenant.id, slug: tenant.slug, name: tenant.name, status: tenant.status, role: membership.role });
      }
    }
    return rows.sort((a, b) => (a.slug < b.slug ? -1 : a.slug > b.slug ? 1 : 0));
  }

  /** The dedicated databases at least one tenant is placed on now (tenants.database, shared database). */
  @GenerateSql()
  async dedicatedDatabasesInUse(): Promise<string[]> {
    const rows = await this.systemDb.run('memberships.dedicatedDatabasesInUse', (db) =>
      db.selectDistinct({ database: tenants.database }).from(tenants).where(ne(tenants.database, SHARED_DATABASE)),
    );
    return rows.map((row) => row.database);
  }
}
