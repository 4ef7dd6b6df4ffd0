import { Injectable } from '@nestjs/common';
import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import { Cursor } from '../common/http/cursor';
import { InvitationRow, invitations, MembershipRole } from '../database/schema';
import { TenantDb } from '../database/tenant-db';
import { DummyValue, GenerateSql } from '../database/generate-sql.decorator';

export interface NewInvitation {
  id: string;
  email: string;
  role: MembershipRole;
  tokenHash: string;
  invitedBy: string | null;
  expiresAt: Date;
}

/** Invitations of the current tenant; every query through TenantDb. */
@Injectable()
export class InvitationsRepository {
  constructor(private readonly db: TenantDb) {}

  @GenerateSql({ params: [{ id: DummyValue.UUID, email: DummyValue.EMAIL, role: 'member', tokenHash: DummyValue.STRING, invitedBy: DummyValue.UUID_2, expiresAt: DummyValue.DATE }] })
  async create(input: NewInvitation, db: TenantDb = this.db): Promise<InvitationRow> {
    const [row] = await db.insert(invitations).values(input).returning();
    return row;
  }

  /**
   * Locks this tenant's pending invitations for `email` (expired ones
   * included), so the one that replaces them is written under the lock. Two
   * concurrent invitations of an email that has none yet cannot block each
   * other this way (there is no row to lock): both are kept, see README.
   */
  @GenerateSql({ params: [DummyValue.TX, DummyValue.EMAIL] })
  lockPendingByEmail(tx: TenantDb, email: string): Promise<InvitationRow[]> {
    return tx
      .select()
      .from(invitations)
      .where(and(eq(invitations.email, email), isNull(invitations.acceptedAt)))
      .orderBy(asc(invitations.id))
      .for('update');
  }

  @GenerateSql({ params: [DummyValue.TX, [DummyValue.UUID, DummyValue.UUID_2]] })
  async deletePendingByIds(tx: TenantDb, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await tx.delete(invitations).where(and(inArray(invitations.id, ids), isNull(invitations.acceptedAt)));
  }

  @GenerateSql({ params: [DummyValue.UUID] })
  async findById(id: string): Promise<InvitationRow | undefined> {
    const [row] = await this.db.select().from(invitations).where(eq(invitations.id, id)).limit(1);
    return row;
  }

  /** Locks the invitation so that two acceptances of the same token cannot both succeed. */
  @GenerateSql({ params: [DummyValue.TX, DummyValue.UUID] })
  async lockById(tx: TenantDb, id: string): Promise<InvitationRow | undefined> {
    const [row] = await tx.select().from(invitations).where(eq(invitations.id, id)).limit(1).for('update');
    return row;
  }

  @GenerateSql({ params: [DummyValue.TX, DummyValue.UUID, DummyValue.UUID_2] })
  async markAccepted(tx: TenantDb, id: string, userId: string): Promise<void> {
    await tx.update(invitations).set({ acceptedAt: new Date(), acceptedBy: userId }).where(eq(invitations.id, id));
  }

  /** Not yet accepted (expired ones included, so an admin sees and can revoke them), oldest first. */
  @GenerateSql({ name: 'first page', params: [{ limit: DummyValue.NUMBER }] }, { name: 'after a cursor', params: [{ limit: DummyValue.NUMBER, after: { createdAt: DummyValue.DATE, id: DummyValue.UUID_2 } }] })
  listPending(options: { limit: number; after?: Cursor }): Promise<InvitationRow[]> {
    return this.db
      .select()
      .from(invitations)
      .where(
        and(
          isNull(invitations.acceptedAt),
          options.after ? sql`(${invitations.createdAt}, ${invitations.id}) > (${options.after.createdAt}, ${options.after.id})` : undefined,
        ),
      )
      .orderBy(asc(invitations.createdAt), asc(invitations.id))
      .limit(options.limit);
  }

  /** Deletes a pending invitation; accepted ones stay as a record. */
  @GenerateSql({ params: [DummyValue.UUID] })
  async deletePending(id: string): Promise<boolean> {
    const rows = await this.db
      .delete(invitations)
      .where(and(eq(invitations.id, id), isNull(invitations.acceptedAt)))
      .returning({ id: invitations.id });
    return rows.length > 0;
  }
}
