import { Injectable } from '@nestjs/common';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import { decodeCursor, Page, toPage } from '../common/http/cursor';
import { MembershipRole } from '../database/schema';
import { TenantDb } from '../database/tenant-db';
import { PlatformTransaction } from '../database/transactions';
import { Tenant, TenantContext } from '../tenancy/tenant-context';
import { AccessCache } from '../access/access-cache';
import { Principal } from '../access/principal';
import { mayManageRole } from '../access/permissions';
import { PasswordHasher } from '../users/password-hasher';
import { UsersRepository } from '../users/users.repository';
import { CreatedInvitation, InvitationsService } from './invitations.service';
import { MemberRow, MembershipsRepository } from './memberships.repository';
import { UsageLedger } from '../usage/usage-ledger.service';
import { InviteMemberInput, ListQuery, MemberView } from './members.schemas';

/** Response types live beside the API contract's schemas (GET /openapi.json), inferred from them; re-exported for the importers of this file. */
export type { MemberView };


/** POST /members: always an invitation, whatever the email (see MembersService.invite). */
export interface InviteMemberResult {
  invitation: CreatedInvitation;
}

/**
 * A new tenant's first owner (POST /tenants, platform admin): `member` when the
 * account was created by this request, otherwise `invitation` (the email had
 * an account, which is never linked without its holder accepting, or no
 * password was given). Exactly one of the two is set.
 */
export interface FirstOwnerResult {
  member: MemberView | null;
  invitation: CreatedInvitation | null;
}

/** The first owner, checked and hashed before the tenant exists (TenantsService.create). */
export interface PreparedFirstOwner {
  email: string;
  account?: { passwordHash: string; name?: string };
}

const toView = (row: MemberRow): MemberView => ({
  userId: row.userId,
  email: row.email,
  name: row.name,
  role: row.role,
  joinedAt: row.createdAt.toISOString(),
});

function alreadyMember(): AppError {
  return new AppError(ErrorCode.Conflict, 'This email is already a member of this tenant');
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
    private readonly usage: UsageLedger,
    private readonly invitations: InvitationsService,
    private readonly users: UsersRepository,
    private readonly hasher: PasswordHasher,
    private readonly db: TenantDb,
    private readonly accessCache: AccessCache,
  ) {}

  async list(query: ListQuery): Promise<Page<MemberView>> {
    const rows = await this.memberships.list({ limit: query.limit + 1, after: decodeCursor(query.cursor) });
    return toPage(rows, query.limit, toView);
  }

  /**
   * POST /members. An admin never creates, changes or links an account: the
   * answer is always a new invitation (token shown once), the same response
   * whether or not the email has an account anywhere, and the account joins
   * only when the token's holder accepts it proving they own it (AuthService.acceptInvitation).
   * 409 only if the email is already a member of this tenant (visible to its
   * admins in GET /members anyway). A pending invitation for the same email is replaced.
   */
  async invite(input: InviteMemberInput, actor: Principal): Promise<InviteMemberResult> {
    if (!mayManageRole(actor.role, input.role)) throw insufficientRole();
    if (await this.memberships.findMemberByEmail(input.email)) throw alreadyMember();
    const invitation = await this.invitations.issue(input.email, input.role, actor.id, (replaced) => {
      if (!mayManageRole(actor.role, replaced)) throw insufficientRole();
    });
    return { invitation };
  }

  /**
   * Before the tenant is created: hashes the first owner's password, if one was
   * given, so nothing that can fail is left for after (the tenant is never
   * created for a request that fails here).
   */
  async prepareFirstOwner(owner: { email: string; password?: string; name?: string }): Promise<PreparedFirstOwner> {
    if (owner.password === undefined) return { email: owner.email };
    return { email: owner.email, account: { passwordHash: await this.hasher.hash(owner.password), name: owner.name } };
  }

  /**
   * A new tenant's first owner (platform admin, trusted), inside the platform
   * transaction that has just written the tenant row (TenantsService.create),
   * so the tenant, the account and the membership or invitation commit
   * together or not at all. With a password and an email that has no account,
   * creates the account and makes it owner. An email that already has an
   * account is never linked (its holder may not know about this tenant) and
   * never gets this password: it gets an owner invitation instead, exactly as
   * when no password was given.
   */
  async addFirstOwner(owner: PreparedFirstOwner, tenant: Tenant, platform: PlatformTransaction): Promise<FirstOwnerResult> {
    const created = owner.account ? await this.users.createIfAbsent({ email: owner.email, ...owner.account }, platform) : undefined;
    // A tenant on a dedicated database: its membership there refers to the user's copy (inert if this transaction rolls back).
    if (created) await this.users.copyToTenantDatabase(tenant, created);
    // A membership or invitation is a tenant row: written as the new tenant, through TenantDb, in the same transaction.
    return platform.asTenant(tenant, async (tx) => {
      if (!created) return { member: null, invitation: await this.issueOwnerInvitation(owner.email, tx) };
      const joined = await this.memberships.create({ userId: created.id, role: 'owner' }, tx);
      await this.usage.record({ metric: 'members', delta: 1, reason: 'members.join', key: `members.join:${joined}` }, tx);
      return { member: await this.get(created.id, tx), invitation: null };
    });
  }

  /** An owner invitation in the current tenant (never links an account): a first owner, or the platform admin's POST /tenants/:idOrSlug/owner-invitations. */
  issueOwnerInvitation(email: string, tx?: TenantDb): Promise<CreatedInvitation> {
    return this.invitations.issue(email, 'owner', null, undefined, tx);
  }

  async changeRole(userId: string, role: MembershipRole, actor: Principal): Promise<MemberView> {
    // The answer is read in the same transaction: after the actor lowers their own role, a new
    // statement would be refused (the request's claim is the role it was admitted with).
    const changed = await this.db.transaction(async (tx) => {
      const locked = await this.memberships.lockOwnersAnd(tx, userId, ...actingUser(actor));
      const target = locked.find((m) => m.userId === userId);
      if (!target) throw AppError.notFound('Member');
      const actorRole = roleUnderLock(actor, locked);
      if (!mayManageRole(actorRole, target.role) || !mayManageRole(actorRole, role)) throw insufficientRole();
      if (target.role === 'owner' && role !== 'owner') assertAnotherOwner(locked, userId);
      await this.memberships.updateRole(tx, userId, role);
      return this.get(userId, tx);
    });
    this.accessCache.forgetMember(TenantContext.currentId(), userId);
    return changed;
  }

  async remove(userId: string, actor: Principal): Promise<void> {
    await this.db.transaction(async (tx) => {
      const locked = await this.memberships.lockOwnersAnd(tx, userId, ...actingUser(actor));
      const target = locked.find((m) => m.userId === userId);
      if (!target) throw AppError.notFound('Member');
      if (!mayManageRole(roleUnderLock(actor, locked), target.role)) throw insufficientRole();
      if (target.role === 'owner') assertAnotherOwner(locked, userId);
      const left = await this.memberships.delete(tx, userId);
      if (left) await this.usage.record({ metric: 'members', delta: -1, reason: 'members.remove', key: `members.remove:${left}` }, tx);
    });
    this.accessCache.forgetMember(TenantContext.currentId(), userId);
  }

  async get(userId: string, db?: TenantDb): Promise<MemberView> {
    const row = await this.memberships.findMember(userId, db);
    if (!row) throw AppError.notFound('Member');
    return toView(row);
  }

  async revokeInvitation(id: string, actor: Principal): Promise<void> {
    const invitation = await this.invitations.findPending(id);
    if (!invitation) throw AppError.notFound('Invitation');
    if (!mayManageRole(actor.role, invitation.role)) throw insufficientRole();
    await this.invitations.revoke(id);
  }
}

/** A user acting is locked too, so a demotion committed meanwhile is seen (API keys have a fixed role). */
function actingUser(actor: Principal): string[] {
  return actor.kind === 'user' ? [actor.userId] : [];
}

/** The actor's role as of the lock: the guard admitted it earlier, and it may have changed since. */
function roleUnderLock(actor: Principal, locked: Array<{ userId: string; role: MembershipRole }>): MembershipRole {
  if (actor.kind !== 'user') return actor.role;
  const own = locked.find((m) => m.userId === actor.userId);
  if (!own) throw insufficientRole();
  return own.role;
}

function assertAnotherOwner(locked: Array<{ userId: string; role: MembershipRole }>, userId: string): void {
  if (!locked.some((m) => m.role === 'owner' && m.userId !== userId)) {
    throw new AppError(ErrorCode.LastOwner, 'A tenant must keep at least one owner: make another member owner first');
  }
}
