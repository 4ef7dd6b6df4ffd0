import { ExecutionContext, Injectable, Logger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import { ApiKeysService } from '../api-keys/api-keys.service';
import { isApiKeyLike, parseApiKey } from '../api-keys/api-key-token';
import { MembershipsRepository } from '../members/memberships.repository';
import { bearerToken, TenantRequest } from '../tenancy/access.guard';
import { RequestAuthenticator } from '../tenancy/request-authenticator';
import { TenancyService, tenantAmbiguous } from '../tenancy/tenancy.service';
import { Tenant, TenantContext } from '../tenancy/tenant-context';
import { TenantIdentifier } from '../tenancy/tenant-identifier';
import { TenantResolver } from '../tenancy/tenant-resolver.service';
import { AccessTokenService } from './access-token.service';
import { REQUIRED_ACTION } from './can.decorator';
import { Action, allows } from './permissions';
import { Principal } from './principal';

interface Verified {
  /** The tenant the credential belongs to (not yet compared with the one the request names). */
  tenant: Tenant;
  principal: { kind: 'user'; userId: string } | Principal;
}

const CHALLENGE = { 'www-authenticate': 'Bearer' };

function unauthenticated(message = 'A valid bearer token or API key is required'): AppError {
  return new AppError(ErrorCode.Unauthenticated, message, undefined, CHALLENGE);
}

/**
 * One body for "your credential is not for this tenant", whether the tenant the
 * request names exists or not (it is never looked up), and for "you are no
 * longer a member of it".
 */
function accessDenied(): AppError {
  return new AppError(ErrorCode.TenantAccessDenied, 'This credential does not give access to the tenant named by the request');
}

function names(identifier: TenantIdentifier, tenant: Tenant): boolean {
  return identifier.kind === 'id' ? identifier.value === tenant.id : identifier.value === tenant.slug;
}

/**
 * Admits a request to a tenant route (AccessGuard calls it). The order, each
 * step only after the previous one passed (README "Authentication and roles"):
 *
 * 1. the route declares an action (@Can), else refused: fail closed;
 * 2. what the request names: 400 missing/malformed/two values, or header and
 *    subdomain that visibly disagree;
 * 3. no credential: the tenancy answers as before (404 unknown, 403
 *    suspended), and otherwise 401;
 * 4. the credential: a JWT (HS256, iss/aud/exp/nbf) or an API key (looked up
 *    in the scope of its own tenant, SHA-256 compared in constant time, not
 *    revoked); anything wrong: 401;
 * 5. the credential's tenant must be the one named: 403 TENANT_ACCESS_DENIED
 *    (or 400 TENANT_AMBIGUOUS when header and subdomain name different ones);
 * 6. that tenant must be active: 403 TENANT_SUSPENDED, for every credential;
 * 7. a user must still be a member (read now, not from the token): 403;
 * 8. the role (membership's or key's) must allow the action: 403 INSUFFICIENT_ROLE.
 *
 * Only then are request.tenant and request.principal set; the interceptor
 * enters the TenantContext after the guard. Singleton, no request scope: the
 * membership and key lookups run in a TenantContext entered here just for them.
 */
@Injectable()
export class CredentialAuthenticator extends RequestAuthenticator {
  private readonly logger = new Logger(CredentialAuthenticator.name);

  constructor(
    private readonly reflector: Reflector,
    private readonly tenancy: TenancyService,
    private readonly resolver: TenantResolver,
    private readonly tokens: AccessTokenService,
    private readonly memberships: MembershipsRepository,
    private readonly apiKeys: ApiKeysService,
  ) {
    super();
  }

  async admit(context: ExecutionContext, request: TenantRequest): Promise<void> {
    const action = this.reflector.getAllAndOverride<Action | undefined>(REQUIRED_ACTION, [context.getHandler(), context.getClass()]);
    if (!action) {
      this.logger.error(`tenant route ${context.getClass().name}.${context.getHandler().name} declares no @Can action; refused`);
      throw new AppError(ErrorCode.Forbidden, 'Forbidden');
    }

    const named = this.tenancy.namedIdentifiers(request.headers);
    const [first, second] = named;
    // Two identifiers of the same kind that differ visibly disagree, without any lookup.
    if (second && first.kind === second.kind && first.value !== second.value) throw tenantAmbiguous();

    if (request.headers.authorization === undefined) {
      await this.tenancy.resolveRequestTenant(request.headers);
      throw unauthenticated();
    }
    const token = bearerToken(request.headers.authorization);
    if (!token) throw unauthenticated();

    const { tenant, principal } = isApiKeyLike(token)
      ? await this.verifyApiKey(token, request.id)
      : await this.verifyAccessToken(token);

    const matching = named.filter((id) => names(id, tenant)).length;
    if (matching === 0) throw accessDenied();
    if (matching < named.length) throw tenantAmbiguous();
    if (tenant.status !== 'active') throw new AppError(ErrorCode.TenantSuspended, 'Tenant is suspended');

    const resolved = principal.kind === 'user' ? await this.withMembership(tenant, principal.userId, request.id) : principal;
    if (!allows(resolved.role, action)) {
      throw new AppError(ErrorCode.InsufficientRole, `Your role (${resolved.role}) does not allow this action`);
    }
    request.tenant = tenant;
    request.principal = Object.freeze(resolved);
  }

  /** A verified user session: the role comes later, from the membership. */
  private async verifyAccessToken(token: string): Promise<Verified> {
    const claims = await this.tokens.verify(token);
    const tenant = await this.resolver.find({ kind: 'id', value: claims.tenantId });
    if (!tenant) throw unauthenticated('The access token is invalid or expired');
    return { tenant, principal: { kind: 'user', userId: claims.userId } };
  }

  private async verifyApiKey(token: string, requestId: string | undefined): Promise<Verified> {
    const parsed = parseApiKey(token);
    const tenant = parsed && (await this.resolver.find({ kind: 'id', value: parsed.tenantId }));
    if (!parsed || !tenant) throw unauthenticated('The API key is invalid or revoked');
    // Looked up in the scope of the tenant the key names: TenantDb and RLS both confine the lookup to it.
    const key = await TenantContext.run({ tenant, requestId }, () => this.apiKeys.verify(parsed, token));
    if (!key) throw unauthenticated('The API key is invalid or revoked');
    return { tenant, principal: { kind: 'api-key', id: key.id, keyId: key.id, name: key.name, role: key.role } };
  }

  private async withMembership(tenant: Tenant, userId: string, requestId: string | undefined): Promise<Principal> {
    const role = await TenantContext.run({ tenant, requestId }, () => this.memberships.findRole(userId));
    if (!role) throw accessDenied();
    return { kind: 'user', id: userId, userId, role };
  }
}
