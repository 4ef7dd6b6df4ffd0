import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppError } from '../common/errors/app-error';
import { decodeCursor, Page, toPage } from '../common/http/cursor';
import { AppConfig } from '../config/app-config';
import { InvitationRow, MembershipRole } from '../database/schema';
import { TenantDb } from '../database/tenant-db';
import { hexToUuid, randomSecret, sameDigest, sha256Hex, uuidToHex } from '../auth/secret-token';
import { PasswordHasher } from '../users/password-hasher';
import { UsersRepository } from '../users/users.repository';
import { InvitationsRepository } from './invitations.repository';
import { MembershipsRepository } from './memberships.repository';
import { ListQuery } from './members.schemas';

export interface InvitationView {
  id: string;
  email: string;
  role: MembershipRole;
  createdAt: string;
  expiresAt: string;
}

/** Returned once, when the invitation is created: the only time the token exists outside the invitee's hands. */
export interface CreatedInvitation extends InvitationView {
  token: string;
}

export type AcceptResult =
  | { outcome: 'accepted'; userId: string; email: string; role: MembershipRole }
  | { outcome: 'invalid-invitation' }
  | { outcome: 'wrong-password'; email: string };

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

/** Invitations of the current tenant: create (token shown once), list, revoke, accept. */
@Injectable()
export class InvitationsService {
  private readonly ttlMs: number;

  constructor(
    private readonly invitations: InvitationsRepository,
    private readonly memberships: MembershipsRepository,
    private readonly users: UsersRepository,
    private readonly hasher: PasswordHasher,
    private readonly db: TenantDb,
    config: AppConfig,
  ) {
    this.ttlMs = config.auth.invitationTtlHours * 3600 * 1000;
  }

  async create(email: string, role: MembershipRole, invitedBy: string | null): Promise<CreatedInvitation> {
    const id = randomUUID();
    const token = `inv_${uuidToHex(id)}_${randomSecret()}`;
    const row = await this.invitations.create({
      id,
      email: email.toLowerCase(),
      role,
      tokenHash: sha256Hex(token),
      invitedBy,
      expiresAt: new Date(Date.now() + this.ttlMs),
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

  /**
   * Accepts an invitation of the current tenant. A new email gets an account
   * with `password`; an existing account must prove it knows its password (an
   * invitation token alone never sets or replaces anyone's password).
   */
  async accept(token: string, password: string, name: string | undefined): Promise<AcceptResult> {
    const parsed = parseInvitationToken(token);
    if (!parsed) return { outcome: 'invalid-invitation' };
    const invitation = await this.invitations.findById(parsed.id);
    if (!invitation || !this.usable(invitation, token)) return { outcome: 'invalid-invitation' };

    // Account work first, outside the transaction, so one request never holds two pooled connections.
    const existing = await this.users.findCredentialsByEmail(invitation.email);
    let userId: string;
    if (existing?.passwordHash) {
      if (!(await this.hasher.verify(existing.passwordHash, password))) return { outcome: 'wrong-password', email: invitation.email };
      userId = existing.id;
    } else if (existing) {
      await this.users.setInitialPassword(existing.id, await this.hasher.hash(password));
      userId = existing.id;
    } else {
      userId = (await this.users.create({ email: invitation.email, name, passwordHash: await this.hasher.hash(password) })).id;
    }

    return this.db.transaction(async (tx) => {
      // Re-checked under the row lock: two concurrent acceptances of one token, only one wins.
      const locked = await this.invitations.lockById(tx, invitation.id);
      if (!locked || !this.usable(locked, token)) return { outcome: 'invalid-invitation' } as const;
      await this.memberships.createIfAbsent({ userId, role: locked.role }, tx);
      await this.invitations.markAccepted(tx, locked.id, userId);
      return { outcome: 'accepted', userId, email: locked.email, role: locked.role } as const;
    });
  }

  private usable(row: InvitationRow, token: string): boolean {
    return sameDigest(row.tokenHash, sha256Hex(token)) && !row.acceptedAt && row.expiresAt.getTime() > Date.now();
  }
}
