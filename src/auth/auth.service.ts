import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import { MembershipRole } from '../database/schema';
import { Transactions } from '../database/transactions';
import { InvitationsService, UsableInvitation } from '../members/invitations.service';
import { MembershipsRepository, UserTenantRow } from '../members/memberships.repository';
import { Tenant, TenantContext } from '../tenancy/tenant-context';
import { parseTenantHeader, TenantIdentifier } from '../tenancy/tenant-identifier';
import { PasswordHasher } from '../users/password-hasher';
import { UserCredentials, UserProfile, UsersRepository } from '../users/users.repository';
import { AccessTokenService } from './access-token.service';
import { accountAddressKey, accountKey, addressKey, LoginThrottle, ThrottleReservation } from './login-throttle';
import { AcceptInvitationInput, LoginInput, meView, sessionView } from './auth.schemas';
import { currentPrincipal } from '../access/principal';

export interface TenantSummary {
  id: string;
  slug: string;
  name: string;
}

/** The response types, inferred from the schemas the API contract shows (auth.schemas.ts). */
export type SessionView = z.infer<typeof sessionView>;
export type MeView = z.infer<typeof meView>;

/** An accepted invitation: who joined, with which role. */
interface Accepted {
  user: UserProfile;
  role: MembershipRole;
}

/** Looked up in place of a missing user, so that "no such email" does the same work as "wrong password". */
const NO_USER = '00000000-0000-0000-0000-000000000000';

const summary = (tenant: Pick<Tenant, 'id' | 'slug' | 'name'>): TenantSummary => ({ id: tenant.id, slug: tenant.slug, name: tenant.name });

function parseTarget(target: string): TenantIdentifier {
  try {
    const identifier = parseTenantHeader(target);
    if (identifier) return identifier;
  } catch {
    /* reported below, as a body field */
  }
  throw AppError.validation([{ path: 'tenant', message: 'must be a tenant id (UUID) or slug' }]);
}

function invalidCredentials(): AppError {
  return new AppError(ErrorCode.InvalidCredentials, 'Invalid email or password for this tenant');
}

function invitationInvalid(): AppError {
  return new AppError(ErrorCode.InvitationInvalid, 'The invitation is invalid, expired or already used');
}

@Injectable()
export class AuthService {
  constructor(
    private readonly users: UsersRepository,
    private readonly memberships: MembershipsRepository,
    private readonly invitations: InvitationsService,
    private readonly hasher: PasswordHasher,
    private readonly tokens: AccessTokenService,
    private readonly throttle: LoginThrottle,
    private readonly transactions: Transactions,
  ) {}

  /**
   * Runs in the tenant the request names (a sign-in route: resolved, no
   * credential). A wrong email, a wrong password and a user who is not a
   * member of this tenant get the same 401, after the same work: one argon2
   * verification (of a dummy hash when there is no user) and one membership lookup.
   * The attempt is counted against the account and the address before the
   * password is verified (so parallel guesses cannot all slip under the limit)
   * and given back if it succeeds.
   */
  async login(input: LoginInput, address: string | undefined): Promise<SessionView> {
    const pair = accountAddressKey(input.email, address);
    return this.throttled([await this.reserve([pair, accountKey(input.email), addressKey(address)])], async () => {
      const user = await this.users.findCredentialsByEmail(input.email);
      const passwordOk = await this.hasher.verify(user?.passwordHash, input.password);
      const role = await this.memberships.findRole(user?.id ?? NO_USER);
      if (!user || !passwordOk || !role) throw invalidCredentials();
      await this.throttle.reset(pair);
      return this.session({ id: user.id, email: user.email, name: user.name }, TenantContext.current(), role);
    });
  }

  /**
   * Accepts an invitation of the tenant the request names and signs the user
   * in there. The token says which email is invited; the caller must then be
   * that email's account holder: if the email has an account, `password` must
   * be that account's current password (counted like a sign-in, per account and
   * per address); if it has none, the account is created with `password`. So
   * an account joins a tenant only with its holder's password, and an
   * invitation never sets or replaces the password of an existing account.
   */
  async acceptInvitation(input: AcceptInvitationInput, address: string | undefined): Promise<SessionView> {
    const reservations = [await this.reserve([addressKey(address)])];
    return this.throttled(reservations, async () => {
      const invitation = await this.invitations.findUsable(input.token);
      if (!invitation) throw invitationInvalid();
      const existing = await this.users.findCredentialsByEmail(invitation.email);
      const accepted =
        (existing ? undefined : await this.acceptWithNewAccount(invitation, input)) ??
        (await this.acceptWithExistingAccount(invitation, input, existing, address, reservations));
      return this.session(accepted.user, TenantContext.current(), accepted.role);
    });
  }

  /**
   * The email has no account: it is created with `password` and the invitation
   * completed in ONE transaction, so an acceptance that fails (the invitation
   * revoked, replaced or used meanwhile, or any error) leaves no account
   * behind. The password is hashed before the transaction opens. Undefined
   * (nothing written) when the account was created concurrently meanwhile: it
   * is an existing account then.
   */
  private async acceptWithNewAccount(invitation: UsableInvitation, input: AcceptInvitationInput): Promise<Accepted | undefined> {
    const passwordHash = await this.hasher.hash(input.password);
    return this.transactions.run('auth.accept-invitation.new-account', async (platform) => {
      const user = await this.users.createIfAbsent({ email: invitation.email, name: input.name, passwordHash }, platform);
      if (!user) return undefined;
      // Before the tenant step, outside this transaction: a copy left by a rollback is inert (no membership, no password).
      await this.users.copyToTenantDatabase(TenantContext.current(), user);
      const role = await platform.asTenant(TenantContext.current(), (tx) => this.invitations.complete(invitation, input.token, user.id, tx));
      // Thrown inside the transaction: the account just created is rolled back with it.
      if (!role) throw invitationInvalid();
      return { user, role };
    });
  }

  /** The email has an account: proved by its password (throttled per account and address), then the invitation is completed. */
  private async acceptWithExistingAccount(
    invitation: UsableInvitation,
    input: AcceptInvitationInput,
    found: UserCredentials | undefined,
    address: string | undefined,
    reservations: ThrottleReservation[],
  ): Promise<Accepted> {
    // Not found earlier: created concurrently (another acceptance for the same email), so read it now.
    const existing = found ?? (await this.users.findCredentialsByEmail(invitation.email));
    if (!existing) throw new AppError(ErrorCode.Internal, 'Account vanished while accepting an invitation');
    const pair = accountAddressKey(invitation.email, address);
    reservations.push(await this.reserve([pair, accountKey(invitation.email)]));
    // An account without a password (none is created by the API) cannot prove itself: refused like a wrong password.
    if (!(await this.hasher.verify(existing.passwordHash, input.password))) {
      throw new AppError(ErrorCode.InvalidCredentials, "This email already has an account: accept the invitation with that account's password");
    }
    await this.throttle.reset(pair);
    // A tenant on a dedicated database: the membership there refers to the user's copy (written first, idempotent).
    await this.users.copyToTenantDatabase(TenantContext.current(), existing);
    const role = await this.invitations.complete(invitation, input.token, existing.id);
    if (!role) throw invitationInvalid();
    const user = await this.users.findById(existing.id);
    if (!user) throw new AppError(ErrorCode.Internal, 'Accepted invitation left no user');
    return { user, role };
  }

  /**
   * A token for another tenant the signed-in user belongs to, without the
   * password. The current token was verified for the current tenant by the
   * guard; the target membership is read with the user's own cross-tenant
   * read (SystemDb.asUser). Not a member, or no such tenant: the same 403.
   */
  async switchTenant(target: string): Promise<SessionView> {
    const principal = currentPrincipal();
    if (principal.kind !== 'user') throw new AppError(ErrorCode.Forbidden, 'Only a user session can switch tenants');
    const identifier = parseTarget(target);
    const tenants = await this.memberships.listTenantsOfUser(principal.userId);
    const match = tenants.find((t) => (identifier.kind === 'id' ? t.id === identifier.value : t.slug === identifier.value));
    if (!match) throw new AppError(ErrorCode.TenantAccessDenied, 'You are not a member of that tenant');
    if (match.status !== 'active') throw new AppError(ErrorCode.TenantSuspended, 'Tenant is suspended');
    const user = await this.users.findById(principal.userId);
    if (!user) throw new AppError(ErrorCode.TenantAccessDenied, 'You are not a member of that tenant');
    return this.session(user, match, match.role);
  }

  async me(): Promise<MeView> {
    const principal = currentPrincipal();
    const tenant = summary(TenantContext.current());
    if (principal.kind === 'api-key') {
      return { type: 'api-key', apiKey: { id: principal.keyId, name: principal.name }, tenant, role: principal.role, tenants: [] };
    }
    const [user, tenants] = await Promise.all([this.users.findById(principal.userId), this.memberships.listTenantsOfUser(principal.userId)]);
    if (!user) throw new AppError(ErrorCode.TenantAccessDenied, 'You are not a member of that tenant');
    return {
      type: 'user',
      user,
      tenant,
      role: principal.role,
      tenants: tenants.map((t: UserTenantRow) => ({ ...summary(t), status: t.status, role: t.role })),
    };
  }

  /** Counts one attempt against `keys`, or answers 429 with Retry-After (nothing counted) when one of them is at its limit. */
  private async reserve(keys: string[]): Promise<ThrottleReservation> {
    const reservation = await this.throttle.reserve(keys);
    if (!reservation.granted) {
      throw new AppError(ErrorCode.TooManyRequests, 'Too many failed sign-in attempts: retry later', undefined, {
        'retry-after': String(reservation.retryAfterSeconds),
      });
    }
    return reservation;
  }

  /**
   * Runs an attempt whose reservations were taken: a wrong password or
   * invitation keeps them (they are the recorded failure); a success, or any
   * other failure (429 on a second key, a database error), gives them back.
   */
  private async throttled<T>(reservations: ThrottleReservation[], attempt: () => Promise<T>): Promise<T> {
    try {
      const result = await attempt();
      await this.releaseAll(reservations);
      return result;
    } catch (error) {
      const guessFailed = error instanceof AppError && (error.code === ErrorCode.InvalidCredentials || error.code === ErrorCode.InvitationInvalid);
      if (!guessFailed) await this.releaseAll(reservations);
      throw error;
    }
  }

  private async releaseAll(reservations: ThrottleReservation[]): Promise<void> {
    for (const reservation of reservations) await this.throttle.release(reservation);
  }

  private session(user: UserProfile, tenant: Pick<Tenant, 'id' | 'slug' | 'name'>, role: MembershipRole): SessionView {
    const token = this.tokens.issue({ userId: user.id, tenantId: tenant.id });
    return { ...token, user: { id: user.id, email: user.email, name: user.name }, tenant: summary(tenant), role };
  }
}
