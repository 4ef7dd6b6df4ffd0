import { CanActivate, ExecutionContext, Injectable, Logger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { createHash, timingSafeEqual } from 'node:crypto';
import { AccessCache } from '../access/access-cache';
import { apiKeyInvalid, tenantAccessDenied } from '../access/access-errors';
import { REQUIRED_ACTION } from '../access/can.decorator';
import { featureNotInPlan, hasFeature, REQUIRED_FEATURE } from '../access/requires-feature.decorator';
import type { Feature } from '../tenancy/entitlements';
import { Action, allows } from '../access/permissions';
import { Principal } from '../access/principal';
import { ROUTE_ACCESS, RouteAccess } from '../access/route-access.decorator';
import { isApiKeyLike, parseApiKey } from '../api-keys/api-key-token';
import { ApiKeysService } from '../api-keys/api-keys.service';
import { AccessTokenService } from '../auth/access-token.service';
import { sameDigest, sha256Hex } from '../common/crypto/secret-token';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import { BEARER_CHALLENGE, invalidTokenChallenge } from '../common/http/www-authenticate';
import { AppConfig } from '../config/app-config';
import { compileTrustProxy, TrustProxyFn, trustedProxyCount } from '../config/trust-proxy';
import { MembershipsRepository } from '../members/memberships.repository';
import { RecentRefusals } from '../rate-limits/recent-refusals';
import { BudgetStillSpent, RequestRateLimiter, setResponseHeaders } from '../rate-limits/request-rate-limiter';
import { RequestUsage } from '../usage/request-usage';
import { AccessClaim, Tenant, TenantContext } from '../tenancy/tenant-context';
import { effectiveHost, parseTenantHeader, sameIdentifier, TenantIdentifier, tenantSlugFromHost } from '../tenancy/tenant-identifier';
import { TenantResolver } from '../tenants/tenant-resolver.service';

/** What AccessGuard leaves on the request for TenantContextInterceptor. */
export interface TenantRequest {
  id?: string;
  headers: Record<string, string | string[] | undefined>;
  tenant?: Tenant;
  /** Who is calling (a Principal, set on tenant routes); carried into the TenantContext. */
  principal?: unknown;
  /** The access admitted (set with principal), re-checked by PostgreSQL with the request's statements. */
  claim?: AccessClaim;
  /** The connection (Fastify and Express both expose the Node socket here). */
  socket?: { remoteAddress?: string };
  method: string;
  /** Fastify's matched route (its pattern in `url`); absent on Express. */
  routeOptions?: { url?: string };
}

interface Verified {
  /** The tenant the credential belongs to (not yet compared with the one the request names). */
  tenant: Tenant;
  principal: { kind: 'user'; userId: string } | Principal;
  /** Whether the key was read from PostgreSQL on this request (false: from AccessCache). */
  confirmed?: boolean;
}

/** A principal whose role is known, and whether PostgreSQL said so on this request. */
interface Admitted {
  principal: Principal;
  confirmed: boolean;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export function bearerToken(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/**
 * The Authorization header's credential, when it uses the Bearer scheme:
 * 'none' (no header, another scheme, or "Bearer" alone: nothing to judge),
 * 'malformed' (Bearer with something that is not one token), or the token.
 */
function presentedBearer(header: string | string[] | undefined): { token: string } | 'none' | 'malformed' {
  const token = bearerToken(header);
  if (token) return { token };
  return typeof header === 'string' && /^Bearer\s+\S/i.test(header) ? 'malformed' : 'none';
}

/** 401 when no bearer credential was presented: the plain challenge, no error code (RFC 6750 §3.1). */
function credentialRequired(message = 'A valid bearer token or API key is required'): AppError {
  return new AppError(ErrorCode.Unauthenticated, message, undefined, { 'www-authenticate': BEARER_CHALLENGE });
}

/** 401 for a bearer credential that was presented and is not valid: error="invalid_token" (RFC 6750 §3.1). */
function invalidToken(message: string): AppError {
  return new AppError(ErrorCode.Unauthenticated, message, undefined, { 'www-authenticate': invalidTokenChallenge(message) });
}

/** The same 400 wherever the header and the subdomain turn out to name two tenants. */
function tenantAmbiguous(): AppError {
  return new AppError(ErrorCode.TenantAmbiguous, 'x-tenant-id and the subdomain name different tenants');
}

function names(identifier: TenantIdentifier, tenant: Tenant): boolean {
  return identifier.kind === 'id' ? identifier.value === tenant.id : identifier.value === tenant.slug;
}

/**
 * Global guard, the first thing a request meets after routing, and the one
 * place that decides whether a request gets in (README "Authentication and
 * roles" has the same order):
 * - public routes: always;
 * - platform-admin routes: the admin bearer key (compared in constant time);
 *   no tenant credential of any kind is accepted there;
 * - tenant routes: admitToTenant, steps 1..8 below;
 * - tenant sign-in routes: resolve the tenant (400/404/403) only;
 * - routes that declare nothing are refused.
 * Guards run before interceptors, so the tenant context itself is entered by
 * TenantContextInterceptor, around pipes, handler and response. Singleton, no
 * request scope: the membership and key lookups run in a TenantContext entered
 * here just for them.
 *
 * Roles and keys read here are kept in AccessCache for a few seconds; what was
 * admitted travels with the request as its AccessClaim, which PostgreSQL
 * re-checks with every statement (see AccessCache for why that keeps revocation
 * immediate on every instance).
 */
@Injectable()
export class AccessGuard implements CanActivate {
  private readonly logger = new Logger(AccessGuard.name);
  private readonly adminKeyDigest: Buffer;
  /** During a rotation's overlap window (ADMIN_API_KEY_PREVIOUS): the key being rotated out. */
  private readonly previousAdminKeyDigest?: Buffer;
  private readonly baseDomain: string;
  private readonly trustProxy: TrustProxyFn;

  constructor(
    private readonly reflector: Reflector,
    private readonly resolver: TenantResolver,
    private readonly tokens: AccessTokenService,
    private readonly memberships: MembershipsRepository,
    private readonly apiKeys: ApiKeysService,
    private readonly accessCache: AccessCache,
    private readonly rateLimiter: RequestRateLimiter,
    private readonly recentRefusals: RecentRefusals,
    private readonly requestUsage: RequestUsage,
    config: AppConfig,
  ) {
    this.adminKeyDigest = digest(config.adminApiKey);
    this.previousAdminKeyDigest = config.previousAdminApiKey === undefined ? undefined : digest(config.previousAdminApiKey);
    this.baseDomain = config.tenancy.baseDomain;
    this.trustProxy = compileTrustProxy(config.http.trustProxy);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const access = this.reflector.getAllAndOverride<RouteAccess | undefined>(ROUTE_ACCESS, [context.getHandler(), context.getClass()]);
    const request = context.switchToHttp().getRequest<TenantRequest>();
    switch (access) {
      case 'public':
        return true;
      case 'platform-admin':
        this.requireAdminKey(request);
        return true;
      // Every request admitted for a tenant is metered here, where it is admitted (a map increment;
      // RequestUsage writes the counts to the usage ledger per interval).
      case 'tenant':
        await this.admitToTenant(context, request);
        this.requestUsage.count(request.tenant!);
        return true;
      case 'tenant-sign-in':
        request.tenant = await this.resolveNamedTenant(this.namedIdentifiers(request));
        this.requestUsage.count(request.tenant);
        return true;
      default:
        this.logger.error(`route ${context.getClass().name}.${context.getHandler().name} declares no access rule; refused`);
        throw new AppError(ErrorCode.Forbidden, 'Forbidden');
    }
  }

  /**
   * A tenant route. Each step runs only after the previous one passed:
   *
   * 1. the route declares an action (@Can), else refused: fail closed;
   * 2. what the request names: 400 missing/malformed/two values, or header and
   *    subdomain that visibly disagree;
   * 3. no credential: the tenancy answers as for sign-in (404 unknown, 403
   *    suspended), and otherwise 401;
   * 4. the credential: a JWT (HS256, iss/aud/exp/nbf) or an API key (looked up
   *    in the scope of its own tenant, SHA-256 compared in constant time, not
   *    revoked); anything wrong: 401;
   * 5. the credential's tenant must be the one named: 403 TENANT_ACCESS_DENIED
   *    (or 400 TENANT_AMBIGUOUS when header and subdomain name different ones);
   * 6. that tenant must be active: 403 TENANT_SUSPENDED, for every credential;
   * 7. a user must still be a member (never taken from the token; read from
   *    PostgreSQL, or from AccessCache and then re-checked with the request's statements): 403;
   * 8. the role (membership's or key's) must allow the action: 403 INSUFFICIENT_ROLE
   *    (a cached role that does not allow it is read again first, so a promotion counts at once);
   * 9. the tenant's plan must include the route's feature (@RequiresFeature), and
   *    the api_keys feature for a request made with an API key: 403 FEATURE_NOT_IN_PLAN;
   * 10. the tenant's request budget (plan's requests_per_minute) and, for an API key, the key's
   *    share of it: 429 TOO_MANY_REQUESTS with Retry-After. Last, so only admitted requests count
   *    (a stranger cannot spend a tenant's budget), and one Redis round trip at most (none when unlimited).
   *
   * Only then are request.tenant, request.principal and request.claim set.
   */
  private async admitToTenant(context: ExecutionContext, request: TenantRequest): Promise<void> {
    // 1. The action.
    const action = this.reflector.getAllAndOverride<Action | undefined>(REQUIRED_ACTION, [context.getHandler(), context.getClass()]);
    if (!action) {
      this.logger.error(`tenant route ${context.getClass().name}.${context.getHandler().name} declares no @Can action; refused`);
      throw new AppError(ErrorCode.Forbidden, 'Forbidden');
    }

    // 2. What the request names. Two identifiers of the same kind that differ visibly disagree, without any lookup.
    const named = this.namedIdentifiers(request);
    const [first, second] = named;
    if (second && first.kind === second.kind && first.value !== second.value) throw tenantAmbiguous();

    // 3. No credential at all.
    if (request.headers.authorization === undefined) {
      await this.resolveNamedTenant(named);
      throw credentialRequired();
    }
    const presented = presentedBearer(request.headers.authorization);
    if (presented === 'none') throw credentialRequired();
    if (presented === 'malformed') throw invalidToken('The bearer credential is malformed');
    const { token } = presented;

    // 4. The credential, and the tenant it belongs to.
    const { tenant, principal, confirmed: keyConfirmed } = await (isApiKeyLike(token) ? this.verifyApiKey(token, request.id) : this.verifyAccessToken(token)).catch(
      (error: unknown) => {
        // AccessTokenService's 401 carries no challenge: a token was presented, so it is error="invalid_token".
        throw error instanceof AppError && error.code === ErrorCode.Unauthenticated && !error.headers ? invalidToken(error.message) : error;
      },
    );

    // 5. Its tenant is the one named (by every identifier given).
    const matching = named.filter((id) => names(id, tenant)).length;
    if (matching === 0) throw tenantAccessDenied();
    if (matching < named.length) throw tenantAmbiguous();

    // 6. The tenant is active.
    if (tenant.status !== 'active') throw new AppError(ErrorCode.TenantSuspended, 'Tenant is suspended');

    // 7. A user is still a member, with their current role.
    const { principal: resolved, confirmed } =
      principal.kind === 'user' ? await this.withMembership(tenant, principal.userId, action, request.id) : { principal, confirmed: keyConfirmed === true };

    // 8. The role allows the action.
    if (!allows(resolved.role, action)) {
      throw new AppError(ErrorCode.InsufficientRole, `Your role (${resolved.role}) does not allow this action`);
    }

    // 9. The plan includes what the route needs (a plan downgrade turns API keys off with the routes that manage them).
    const feature = this.reflector.getAllAndOverride<Feature | undefined>(REQUIRED_FEATURE, [context.getHandler(), context.getClass()]);
    if (feature && !hasFeature(tenant, feature)) throw featureNotInPlan(feature, tenant);
    if (resolved.kind === 'api-key' && !hasFeature(tenant, 'api_keys')) throw featureNotInPlan('api_keys', tenant);

    // 10. The request budget. The headers go on the answer whatever it is, a later error included.
    const limits = await this.rateLimiter.admit(tenant, resolved.kind === 'api-key' ? { kind: 'api-key', keyId: resolved.keyId } : { kind: 'user' }).catch((error: unknown) => {
      // Spent and still being asked: the same request is answered before admission for a moment (RecentRefusals).
      const route = request.routeOptions?.url;
      if (error instanceof BudgetStillSpent && route) this.recentRefusals.remember({ method: request.method, route, headers: request.headers }, error);
      throw error;
    });
    if (limits) setResponseHeaders(context.switchToHttp().getResponse(), limits);
    request.tenant = tenant;
    request.principal = Object.freeze(resolved);
    request.claim = { kind: resolved.kind, id: resolved.id, role: resolved.role, confirmed };
  }

  /**
   * The identifiers the request gives, from x-tenant-id and/or the subdomain
   * (header first). 400 for a malformed or doubled header; 400 TENANT_REQUIRED
   * when neither names a tenant.
   */
  private namedIdentifiers(request: TenantRequest): TenantIdentifier[] {
    const header = parseTenantHeader(request.headers['x-tenant-id']);
    // Node and Fastify always give Host as one string. X-Forwarded-Host replaces it only when sent by trusted proxies.
    const forwardedHost = request.headers['x-forwarded-host'];
    const proxies = forwardedHost === undefined ? 0 : trustedProxyCount(request.socket?.remoteAddress, request.headers['x-forwarded-for'], this.trustProxy);
    const host = effectiveHost(request.headers.host as string | undefined, forwardedHost, proxies);
    const slug = tenantSlugFromHost(host, this.baseDomain);
    const named: TenantIdentifier[] = [];
    if (header) named.push(header);
    if (slug) named.push({ kind: 'slug', value: slug });
    if (named.length === 0) {
      throw new AppError(ErrorCode.TenantRequired, 'Name the tenant with the x-tenant-id header or a tenant subdomain');
    }
    return named;
  }

  /**
   * The tenant the identifiers name, without a credential (sign-in routes, step 3).
   * Order: 404 unknown -> 400 header/subdomain disagree -> 403 suspended.
   */
  private async resolveNamedTenant([first, second]: TenantIdentifier[]): Promise<Tenant> {
    if (second && !sameIdentifier(first, second)) {
      const [a, b] = await Promise.all([this.resolver.find(first), this.resolver.find(second)]);
      if (!a || !b) throw new AppError(ErrorCode.TenantNotFound, 'Tenant not found');
      if (a.id !== b.id) throw tenantAmbiguous();
    }
    return this.resolver.resolveActive(first);
  }

  private requireAdminKey(request: TenantRequest): void {
    const presented = presentedBearer(request.headers.authorization);
    if (presented === 'none') throw credentialRequired('A valid platform admin key is required');
    if (presented === 'malformed') throw invalidToken('A valid platform admin key is required');
    const presentedDigest = digest(presented.token);
    if (timingSafeEqual(presentedDigest, this.adminKeyDigest)) return;
    if (this.previousAdminKeyDigest && timingSafeEqual(presentedDigest, this.previousAdminKeyDigest)) {
      // Accepted, and said: the rotation is over when no client sends the old key any more (README "Ops CLI").
      this.logger.warn('platform admin key: a request used ADMIN_API_KEY_PREVIOUS; move its client to ADMIN_API_KEY before unsetting it');
      return;
    }
    throw invalidToken('A valid platform admin key is required');
  }

  /** A verified user session: the role comes later, from the membership. */
  private async verifyAccessToken(token: string): Promise<Verified> {
    const claims = this.tokens.verify(token);
    const tenant = await this.resolver.find({ kind: 'id', value: claims.tenantId });
    if (!tenant) throw invalidToken('The access token is invalid or expired');
    return { tenant, principal: { kind: 'user', userId: claims.userId } };
  }

  private async verifyApiKey(token: string, requestId: string | undefined): Promise<Verified> {
    const parsed = parseApiKey(token);
    const tenant = parsed && (await this.resolver.find({ kind: 'id', value: parsed.tenantId }));
    if (!parsed || !tenant) throw apiKeyInvalid();
    const digest = sha256Hex(token);
    const cached = this.accessCache.apiKey(parsed.keyId);
    if (cached && cached.tenantId === tenant.id && sameDigest(cached.digest, digest)) {
      return { tenant, principal: { kind: 'api-key', id: parsed.keyId, keyId: parsed.keyId, name: cached.name, role: cached.role }, confirmed: false };
    }
    // Looked up in the scope of the tenant the key names: TenantDb and RLS both confine the lookup to it.
    const key = await TenantContext.run({ tenant, requestId }, () => this.apiKeys.verify(parsed, token));
    if (!key) throw apiKeyInvalid();
    this.accessCache.rememberApiKey(key.id, { tenantId: tenant.id, digest, name: key.name, role: key.role });
    return { tenant, principal: { kind: 'api-key', id: key.id, keyId: key.id, name: key.name, role: key.role }, confirmed: true };
  }

  /** The user's role in the tenant: from AccessCache when it allows the action, else read now. */
  private async withMembership(tenant: Tenant, userId: string, action: Action, requestId: string | undefined): Promise<Admitted> {
    const cached = this.accessCache.memberRole(tenant.id, userId);
    if (cached && allows(cached, action)) return { principal: { kind: 'user', id: userId, userId, role: cached }, confirmed: false };
    const role = await TenantContext.run({ tenant, requestId }, () => this.memberships.findRole(userId));
    if (!role) {
      this.accessCache.forgetMember(tenant.id, userId);
      throw tenantAccessDenied();
    }
    this.accessCache.rememberMemberRole(tenant.id, userId, role);
    return { principal: { kind: 'user', id: userId, userId, role }, confirmed: true };
  }
}
