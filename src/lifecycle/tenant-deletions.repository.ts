import { Injectable } from '@nestjs/common';
import { and, asc, desc, eq, isNull, lt, ne, or, sql } from 'drizzle-orm';
import { DummyValue, GenerateSql } from '../database/generate-sql.decorator';
import { TenantDeletionRow, tenantDeletions, TenantDeletionStep, TenantDeletionVerification } from '../database/schema';
import { SystemDb } from '../database/system-db';

export interface NewTenantDeletion {
  tenantId: string;
  tenantSlug: string;
  database: string;
  requestedBy: string;
  reason?: string;
  exportRequested?: boolean;
}

/**
 * The deletion reports (platform table tenant_deletions): every query a named system operation.
 * The runtime role may insert and update them, never delete one (drizzle/0017).
 */
@Injectable()
export class TenantDeletionsRepository {
  constructor(private readonly systemDb: SystemDb) {}

  /** The tenant's unfinished (running or failed) deletion, by tenant id or by the slug it had. */
  @GenerateSql({ name: 'by id', params: [{ kind: 'id', value: DummyValue.UUID }] }, { name: 'by slug', params: [{ kind: 'slug', value: DummyValue.STRING }] })
  findUnfinished(tenant: { kind: 'id' | 'slug'; value: string }): Promise<TenantDeletionRow | undefined> {
    return this.systemDb.run('tenant-deletions.findUnfinished', async (db) => {
      const [row] = await db
        .select()
        .from(tenantDeletions)
        .where(and(tenant.kind === 'id' ? eq(tenantDeletions.tenantId, tenant.value) : eq(tenantDeletions.tenantSlug, tenant.value), ne(tenantDeletions.status, 'completed')))
        .orderBy(desc(tenantDeletions.startedAt))
        .limit(1);
      return row;
    });
  }

  /**
   * A new report, status running; undefined when the tenant already has an unfinished one (the
   * partial unique index: two starts racing get one report, and the loser resumes it). Its lease
   * has no owner and expires after `reserveMs`: the starter claims it at once, the resumer's
   * sweep leaves it alone until then (a starter that died before claiming it is resumed after).
   */
  @GenerateSql({ params: [{ tenantId: DummyValue.UUID, tenantSlug: 'sample-tenant', database: 'shared', requestedBy: 'cli:ops', reason: DummyValue.STRING, exportRequested: true }, 60_000] })
  create(input: NewTenantDeletion, reserveMs: number): Promise<TenantDeletionRow | undefined> {
    return this.systemDb.run('tenant-deletions.create', async (db) => {
      const [row] = await db
        .insert(tenantDeletions)
        .values({ ...input, leaseExpiresAt: sql`now() + ${reserveMs}::int * interval '1 millisecond'` })
        .onConflictDoNothing()
        .returning();
      return row;
    });
  }

  /**
   * Claims an unfinished report for one run (README "Offboarding", the lease), in one statement: only
   * when nobody holds it (no owner, or its lease expired) or `owner` does already. Running, one more
   * attempt, the last error cleared, leased to `owner` for `leaseMs` (the database's clock, one for
   * every instance). Undefined: completed, or another owner's lease is live (findById says which).
   */
  @GenerateSql({ params: [DummyValue.UUID, 'host:1:abcdef12', 60_000] })
  claim(id: string, owner: string, leaseMs: number): Promise<TenantDeletionRow | undefined> {
    return this.systemDb.run('tenant-deletions.claim', async (db) => {
      const [row] = await db
        .update(tenantDeletions)
        .set({
          status: 'running',
          attempts: sql`${tenantDeletions.attempts} + 1`,
          error: null,
          leaseOwner: owner,
          leaseExpiresAt: sql`now() + ${leaseMs}::int * interval '1 millisecond'`,
          updatedAt: new Date(),
        })
        .where(
          and(
            eq(tenantDeletions.id, id),
            ne(tenantDeletions.status, 'completed'),
            or(isNull(tenantDeletions.leaseOwner), lt(tenantDeletions.leaseExpiresAt, sql`now()`), eq(tenantDeletions.leaseOwner, owner)),
          ),
        )
        .returning();
      return row;
    });
  }

  /** Extends `owner`'s lease by `leaseMs` from now; false when it holds the lease no more (taken over, or finished). */
  @GenerateSql({ params: [DummyValue.UUID, 'host:1:abcdef12', 60_000] })
  renewLease(id: string, owner: string, leaseMs: number): Promise<boolean> {
    return this.systemDb.run('tenant-deletions.renewLease', async (db) => {
      const rows = await db
        .update(tenantDeletions)
        .set({ leaseExpiresAt: sql`now() + ${leaseMs}::int * interval '1 millisecond'` })
        .where(and(eq(tenantDeletions.id, id), eq(tenantDeletions.leaseOwner, owner), eq(tenantDeletions.status, 'running')))
        .returning({ id: tenantDeletions.id });
      return rows.length === 1;
    });
  }

  /**
   * Gives the lease up without finishing (a run stopped at a step boundary by shutdown): still
   * running, its lease expired now, so the next sweep of any worker instance resumes it.
   */
  @GenerateSql({ params: [DummyValue.UUID, 'host:1:abcdef12'] })
  releaseLease(id: string, owner: string): Promise<boolean> {
    return this.systemDb.run('tenant-deletions.releaseLease', async (db) => {
      const rows = await db
        .update(tenantDeletions)
        .set({ leaseOwner: null, leaseExpiresAt: sql`now()`, updatedAt: new Date() })
        .where(and(eq(tenantDeletions.id, id), eq(tenantDeletions.leaseOwner, owner)))
        .returning({ id: tenantDeletions.id });
      return rows.length === 1;
    });
  }

  /**
   * Running reports nobody holds: their lease expired (the run's process died, or stopped at
   * shutdown), or they have none (started before leases existed). Failed ones are not listed:
   * an operator reads the error first, then starts them again. Oldest lease first.
   */
  @GenerateSql({ params: [10] })
  findResumable(limit: number): Promise<string[]> {
    return this.systemDb.run('tenant-deletions.findResumable', async (db) => {
      const rows = await db
        .select({ id: tenantDeletions.id })
        .from(tenantDeletions)
        .where(and(eq(tenantDeletions.status, 'running'), or(isNull(tenantDeletions.leaseExpiresAt), lt(tenantDeletions.leaseExpiresAt, sql`now()`))))
        .orderBy(asc(tenantDeletions.leaseExpiresAt))
        .limit(limit);
      return rows.map((row) => row.id);
    });
  }

  /**
   * Appends one step's record (jsonb concatenation in the statement: no read-modify-write), and
   * renews the lease. Fenced: written only while `owner` holds the lease; false otherwise (a run
   * that lost its lease stops without writing over the run that took it over).
   */
  @GenerateSql({ params: [DummyValue.UUID, { name: 'suspend', attempt: 1, status: 'done', startedAt: DummyValue.STRING, finishedAt: DummyValue.STRING }, 'host:1:abcdef12', 60_000] })
  appendStep(id: string, step: TenantDeletionStep, owner: string, leaseMs: number): Promise<boolean> {
    return this.systemDb.run('tenant-deletions.appendStep', async (db) => {
      const rows = await db
        .update(tenantDeletions)
        .set({
          steps: sql`${tenantDeletions.steps} || jsonb_build_array(${JSON.stringify(step)}::jsonb)`,
          leaseExpiresAt: sql`now() + ${leaseMs}::int * interval '1 millisecond'`,
          updatedAt: new Date(),
        })
        .where(and(eq(tenantDeletions.id, id), eq(tenantDeletions.leaseOwner, owner)))
        .returning({ id: tenantDeletions.id });
      return rows.length === 1;
    });
  }

  /** Where the export before deletion stored its archive (set once written; a resumed deletion does not export again). */
  @GenerateSql({ params: [DummyValue.UUID, DummyValue.STRING] })
  recordExport(id: string, exportKey: string): Promise<void> {
    return this.systemDb.run('tenant-deletions.recordExport', async (db) => {
      await db.update(tenantDeletions).set({ exportKey, updatedAt: new Date() }).where(eq(tenantDeletions.id, id));
    });
  }

  @GenerateSql({ params: [DummyValue.UUID, { ok: true, at: DummyValue.STRING, rows: {}, cacheKeys: 0, objects: 0 }] })
  recordVerification(id: string, verification: TenantDeletionVerification): Promise<void> {
    return this.systemDb.run('tenant-deletions.recordVerification', async (db) => {
      await db.update(tenantDeletions).set({ verification, updatedAt: new Date() }).where(eq(tenantDeletions.id, id));
    });
  }

  /**
   * completed or failed (with the error), and the time it ended; the lease cleared. Fenced like
   * appendStep: undefined when `owner` no longer holds the lease.
   */
  @GenerateSql({ params: [DummyValue.UUID, 'host:1:abcdef12', 'failed', DummyValue.STRING] })
  finish(id: string, owner: string, status: 'completed' | 'failed', error?: string): Promise<TenantDeletionRow | undefined> {
    return this.systemDb.run('tenant-deletions.finish', async (db) => {
      const now = new Date();
      const [row] = await db
        .update(tenantDeletions)
        .set({ status, error: error ?? null, finishedAt: now, updatedAt: now, leaseOwner: null, leaseExpiresAt: null })
        .where(and(eq(tenantDeletions.id, id), eq(tenantDeletions.leaseOwner, owner)))
        .returning();
      return row;
    });
  }

  @GenerateSql({ params: [DummyValue.UUID] })
  findById(id: string): Promise<TenantDeletionRow | undefined> {
    return this.systemDb.run('tenant-deletions.findById', async (db) => {
      const [row] = await db.select().from(tenantDeletions).where(eq(tenantDeletions.id, id)).limit(1);
      return row;
    });
  }

  /** Newest first, keyset-paginated on (started_at, id). */
  @GenerateSql({ name: 'first page', params: [DummyValue.NUMBER] }, { name: 'after a report', params: [DummyValue.NUMBER, { startedAt: DummyValue.DATE, id: DummyValue.UUID }] })
  list(limit: number, after?: { startedAt: Date; id: string }): Promise<TenantDeletionRow[]> {
    return this.systemDb.run('tenant-deletions.list', (db) =>
      db
        .select()
        .from(tenantDeletions)
        .where(
          after
            ? or(lt(tenantDeletions.startedAt, after.startedAt), and(eq(tenantDeletions.startedAt, after.startedAt), lt(tenantDeletions.id, after.id)))
            : undefined,
        )
        .orderBy(desc(tenantDeletions.startedAt), desc(tenantDeletions.id))
        .limit(limit),
    );
  }
}
