import { Injectable } from '@nestjs/common';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import { decodeCursor, Page, toPage } from '../common/http/cursor';
import { MembershipRole } from '../database/schema';
import { TenantDb } from '../database/tenant-db';
import { Principal } from '../auth/principal';
import { mayManageRole } from '../auth/permissions';
import { PasswordHasher } from '../users/password-hasher';
import { UsersRepository } from '../users/users.repository';
import { CreatedInvitation, InvitationsService } from './invitations.service';
import { MemberRow, MembershipsRepository } from './memberships.repository';
import { AddMemberInput, ListQuery } from './members.schemas';

export interface MemberView {
  userId: string;
  email: string;
  name: string;
  role: MembershipRole;
  joinedAt: string;
}

/** Exactly one of the two is set: the member added now, or the invitation that will add them. */
export interface AddMemberResult {
  member: MemberView | null;
  invitation: CreatedInvitation | null;
}

const toView = (row: MemberRow): MemberView => ({
  userId: row.userId,
  email: row.email,
  name: row.name,
  role: row.role,
  joinedAt: row.createdAt.toISOString(),
});

function accountExists(): AppError {
  return new AppError(ErrorCode.Conflict, 'An account with this email already exists: add it without a password');
}

function insufficientRole(): AppError {
  return new AppError(ErrorCode.InsufficientRole, 'Only an owner can grant, change or remove the owner role');
}

/**
 * Members of the current tenant. The route's @Can already admitted the actor
 * (members:manage); the owner rules depend on the target, so they are checked
 * here against the same matrix (mayManageRole), and the last-owner rule under
 * row locks in one transaction.
 */
@Injectable()
export class MembersService {
  constructor(
    private readonly memberships: MembershipsRepository,
    private readonly invitations: InvitationsService,
    private readonly users: UsersRepository,
    private readonly hasher: PasswordHasher,
    private readonly db: TenantDb,
  ) {}

  async list(query: ListQuery): Promise<Page<MemberView>> {
    const rows = await this.memberships.list({ limit: query.limit + 1, after: decodeCursor(query.cursor) });
    return toPage(rows, query.limit, toView);
  }

  /**
   * `actor` is undefined only for a new tenant's first owner, named by the platform admin.
   * - with a password: creates the account (409 if the email already has one: we never set an existing account's password);
   * - without: links an existing account now, or creates an invitation for a new one (token returned once).
   */
  async add(input: AddMemberInput, actor: Principal | undefined): Promise<AddMemberResult> {
    if (actor && !mayManageRole(actor.role, input.role)) throw insufficientRole();
    const existing = await this.users.findCredentialsByEmail(input.email);
    if (input.password !== undefined) {
      if (existing) throw accountExists();
      const user = await this.users.create({ email: input.email, name: input.name, passwordHash: await this.hasher.hash(input.password) });
      return { member: await this.link(user.id, input.role), invitation: null };
    }
    if (existing) return { member: await this.link(existing.id, input.role), invitation: null };
    return { member: null, invitation: await this.invitations.create(input.email, input.role, actor?.id ?? null) };
  }

  /** 409 when the email already has an account (so a password cannot be set for it). */
  async assertNoAccount(email: string): Promise<void> {
    if (await this.users.findCredentialsByEmail(email)) throw accountExists();
  }

  async changeRole(userId: string, role: MembershipRole, actor: Principal): Promise<MemberView> {
    await this.db.transaction(async (tx) => {
      const locked = await this.memberships.lockOwnersAnd(tx, userId);
      const target = locked.find((m) => m.userId === userId);
      if (!target) throw AppError.notFound('Member');
      if (!mayManageRole(actor.role, target.role) || !mayManageRole(actor.role, role)) throw insufficientRole();
      if (target.role === 'owner' && role !== 'owner') assertAnotherOwner(locked, userId);
      await this.memberships.updateRole(tx, userId, role);
    });
    return this.get(userId);
  }

  async remove(userId: string, actor: Principal): Promise<void> {
    await this.db.transaction(async (tx) => {
      const locked = await this.memberships.lockOwnersAnd(tx, userId);
      const target = locked.find((m) => m.userId === userId);
      if (!target) throw AppError.notFound('Member');
      if (!mayManageRole(actor.role, target.role)) throw insufficientRole();
      if (target.role === 'owner') assertAnotherOwner(locked, userId);
      await this.memberships.delete(tx, userId);
    });
  }

  async get(userId: string): Promise<MemberView> {
    const row = await this.memberships.findMember(userId);
    if (!row) throw AppError.notFound('Member');
    return toView(row);
  }

  async revokeInvitation(id: string, actor: Principal): Promise<void> {
    const invitation = await this.invitations.findPending(id);
    if (!invitation) throw AppError.notFound('Invitation');
    if (!mayManageRole(actor.role, invitation.role)) throw insufficientRole();
    await this.invitations.revoke(id);
  }

  private async link(userId: string, role: MembershipRole): Promise<MemberView> {
    await this.memberships.create({ userId, role });
    return this.get(userId);
  }
}

function assertAnotherOwner(locked: Array<{ userId: string; role: MembershipRole }>, userId: string): void {
  if (!locked.some((m) => m.role === 'owner' && m.userId !== userId)) {
    throw new AppError(ErrorCode.LastOwner, 'A tenant must keep at least one owner: make another member owner first');
  }
}
