import { Injectable } from '@nestjs/common';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import { MembershipRole } from '../database/schema';
import { InvitationsService } from '../members/invitations.service';
import { MembershipsRepository, UserTenantRow } from '../members/memberships.repository';
import { Tenant, TenantContext } from '../tenancy/tenant-context';
import { parseTenantHeader, TenantIdentifier } from '../tenancy/tenant-identifier';
import { PasswordHasher } from '../users/password-hasher';
import { UserProfile, UsersRepository } from '../users/users.repository';
import { AccessTokenService, IssuedAccessToken } from './access-token.service';
import { accountKey, addressKey, LoginThrottle } from './login-throttle';
import { AcceptInvitationInput, LoginInput } from './auth.schemas';
import { currentPrincipal } from './principal';

export interface TenantSummary {
  id: string;
  slug: string;
  name: string;
}

export interface SessionView extends IssuedAccessToken {
  user: UserProfile;
  tenant: TenantSummary;
  role: MembershipRole;
}

export type MeView =
  | { type: 'user'; user: UserProfile; tenant: TenantSummary; role: MembershipRole; tenants: Array<TenantSummary & { status: string; role: MembershipRole }> }
  | { type: 'api-key'; apiKey: { id: string; name: string }; tenant: TenantSummary; role: MembershipRole; tenants: [] };

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

@Injectable()
export class AuthService {
  constructor(
    private readonly users: UsersRepository,
    private readonly memberships: MembershipsRepository,
    private readonly invitations: InvitationsService,
    private readonly hasher: PasswordHasher,
    private readonly tokens: AccessTokenService,
    private readonly throttle: LoginThrottle,
  ) {}

  /**
   * Runs in the tenant the request names (a sign-in route: resolved, no
   * credential). A wrong email, a wrong password and a user who is not a
   * member of this tenant get the same 401, after the same work: one argon2
   * verification (of a dummy hash when there is no user) and one membership lookup.
   */
  async login(input: LoginInput, address: string | undefined): Promise<SessionView> {
    const keys = [accountKey(input.email), addressKey(address)];
    this.refuseIfThrottled(keys);
    const user = await this.users.findCredentialsByEmail(input.email);
    const passwordOk = await this.hasher.verify(user?.passwordHash, input.password);
    const role = await this.memberships.findRole(user?.id ?? NO_USER);
    if (!user || !passwordOk || !role) {
      this.throttle.recordFailure(keys);
      throw invalidCredentials();
    }
    this.throttle.reset(keys[0]);
    return this.session({ id: user.id, email: user.email, name: user.name }, TenantContext.current(), role);
  }

  /** Accepts an invitation of the tenant the request names and signs the user in there. */
  async acceptInvitation(input: AcceptInvitationInput, address: string | undefined): Promise<SessionView> {
    const addressKeys = [addressKey(address)];
    this.refuseIfThrottled(addressKeys);
    const result = await this.invitations.accept(input.token, input.password, input.name);
    if (result.outcome === 'invalid-invitation') {
      this.throttle.recordFailure(addressKeys);
      throw new AppError(ErrorCode.InvitationInvalid, 'The invitation is invalid, expired or already used');
    }
    if (result.outcome === 'wrong-password') {
      this.throttle.recordFailure([accountKey(result.email), ...addressKeys]);
      throw new AppError(
        ErrorCode.InvalidCredentials,
        'This email already has an account: accept the invitation with that account\'s password',
      );
    }
    const [user, role] = await Promise.all([this.users.findById(result.userId), this.memberships.findRole(result.userId)]);
    if (!user || !role) throw new AppError(ErrorCode.Internal, 'Accepted invitation left no membership');
    return this.session(user, TenantContext.current(), role);
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

  private refuseIfThrottled(keys: string[]): void {
    const wait = this.throttle.retryAfterSeconds(keys);
    if (wait > 0) {
      throw new AppError(ErrorCode.TooManyRequests, 'Too many failed sign-in attempts: retry later', undefined, {
        'retry-after': String(wait),
      });
    }
  }

  private async session(user: UserProfile, tenant: Pick<Tenant, 'id' | 'slug' | 'name'>, role: MembershipRole): Promise<SessionView> {
    const token = await this.tokens.issue({ userId: user.id, tenantId: tenant.id });
    return { ...token, user: { id: user.id, email: user.email, name: user.name }, tenant: summary(tenant), role };
  }
}
