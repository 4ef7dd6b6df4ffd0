import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppError } from '../common/errors/app-error';
import { decodeCursor, Page, toPage } from '../common/http/cursor';
import { AppConfig } from '../config/app-config';
import { InvitationRow, MembershipRole } from '../database/schema';
import { TenantDb } from '../database/tenant-db';
import { hexToUuid, randomSecret, sameDigest, sha256Hex, uuidToHex } from '../common/crypto/secret-token';
import { InvitationsRepository } from './invitations.repository';
import { MembershipsRepository } from './memberships.repository';
import { UsageLedger } from '../usage/usage-ledger.service';
import { CreatedInvitation, InvitationView, ListQuery } from './members.schemas';

/** Response types live beside the API contract's schemas (GET /openapi.json), inferred from them; re-exported for the importers of this file. */
export type { CreatedInvitation, InvitationView };

/** An invitation whose token matched, not used, not expired: what acceptance works on. */
export interface UsableInvitation {
  id: string;
  email: string;
  role: MembershipRole;
}

/** `inv_<invitation id, 32 hex>_<secret>`: the id finds the row, the SHA-256 of the whole token must match. */
const TOKEN_PATTERN = /^inv_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;

export function parseInvitationToken(token: string): { id: string } | undefined {
  const match = TOKEN_PATTERN.exec(token);
  return match ? { id: hexToUuid(match[1]) } : undefined;
}

const toView = (row: InvitationRow): InvitationView => ({
  id: row.id,
  email: row.email,
  role: row.role,
  createdAt: row.createdAt.toISOString(),
  expiresAt: row.expiresAt.toISOString(),
});

/**
 * Invitations of the current tenant: issue (token shown once), list, revoke,
 * and the tenant side of acceptance. Who may accept (the account's own
 * password, or a new account) is decided by AuthService.acceptInvitation
 * before complete() adds the membership: this service never reads or writes
 * an account.
 */
@Injectable()
export class InvitationsService {
  private readonly ttlMs: number;

  constructor(
    private readonly invitations: InvitationsRepository,
    private readonly memberships: MembershipsRepository,
    private readonly usage: UsageLedger,
    private readonly db: TenantDb,
    config: AppConfig,
  ) {
    this.ttlMs = config.auth.invitationTtlHours * 3600 * 1000;
  }

  /**
   * A new invitation for `email`, replacing this tenant's pending ones for the
   * same email (their tokens stop working): inviting again renews. The same
   * whether or not the email has an account anywhere. `assertMayReplace` guards
   * the replaced invitations' roles (an admin cannot cancel an owner
   * invitation, as they cannot revoke one); it throws to refuse. With `tx`,
   * inside that transaction (a new tenant's first owner: see MembersService.addFirstOwner).
   */
  async issue(
    email: string,
    role: MembershipRole,
    invitedBy: string | null,
    assertMayReplace: (role: MembershipRole) => void = () => undefined,
    tx: TenantDb = this.db,
  ): Promise<CreatedInvitation> {
    const normalized = email.trim().toLowerCase();
    const id = randomUUID();
    const token = `inv_${uuidToHex(id)}_${randomSecret()}`;
    const row = await tx.transaction(async (inner) => {
      const pending = await this.invitations.lockPendingByEmail(inner, normalized);
      for (const old of pending) assertMayReplace(old.role);
      await this.invitations.deletePendingByIds(inner, pending.map((old) => old.id));
      return this.invitations.create(
        { id, email: normalized, role, tokenHash: sha256Hex(token), invitedBy, expiresAt: new Date(Date.now() + this.ttlMs) },
        inner,
      );
    });
    return { ...toView(row), token };
  }

  async listPending(query: ListQuery): Promise<Page<InvitationView>> {
    const rows = await this.invitations.listPending({ limit: query.limit + 1, after: decodeCursor(query.cursor) });
    return toPage(rows, query.limit, toView);
  }

  async findPending(id: string): Promise<InvitationView | undefined> {
    const row = await this.invitations.findById(id);
    return row && !row.acceptedAt ? toView(row) : undefined;
  }

  async revoke(id: string): Promise<void> {
    if (!(await this.invitations.deletePending(id))) throw AppError.notFound('Invitation');
  }

  /** The invitation of the current tenant this token opens, if it can still be accepted. */
  async findUsable(token: string): Promise<UsableInvitation | undefined> {
    const parsed = parseInvitationToken(token);
    if (!parsed) return undefined;
    const row = await this.invitations.findById(parsed.id);
    if (!row || !this.usable(row, token)) return undefined;
    return { id: row.id, email: row.email, role: row.role };
  }

  /**
   * Adds `userId` (an account that has just proved it holds the invitation's
   * email: see AuthService.acceptInvitation) with the invitation's role and
   * marks the invitation used. Re-checked under the row lock, so of two
   * concurrent acceptances of one token only one wins; undefined for the loser,
   * or when the invitation was revoked or replaced meanwhile. With `db` bound to
   * a transaction (an account created for this acceptance: AuthService), inside it.
   */
  complete(invitation: UsableInvitation, token: string, userId: string, db: TenantDb = this.db): Promise<MembershipRole | undefined> {
    return db.transaction(async (tx) => {
      const locked = await this.invitations.lockById(tx, invitation.id);
      if (!locked || !this.usable(locked, token)) return undefined;
      const joined = await this.memberships.createIfAbsent({ userId, role: locked.role }, tx);
      // Counted against the plan's members limit (403 QUOTA_EXCEEDED rolls the acceptance back).
      if (joined) await this.usage.record({ metric: 'members', delta: 1, reason: 'members.join', key: `members.join:${joined}` }, tx);
      await this.invitations.markAccepted(tx, locked.id, userId);
      return locked.role;
    });
  }

  private usable(row: InvitationRow, token: string): boolean {
    return sameDigest(row.tokenHash, sha256Hex(token)) && !row.acceptedAt && row.expiresAt.getTime() > Date.now();
  }
}
