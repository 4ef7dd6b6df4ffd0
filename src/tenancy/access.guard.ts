import { CanActivate, ExecutionContext, Injectable, Logger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { timingSafeEqual, createHash } from 'node:crypto';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import { AppConfig } from '../config/app-config';
import { RequestAuthenticator } from './request-authenticator';
import { ROUTE_ACCESS, RouteAccess } from './route-access.decorator';
import { Tenant } from './tenant-context';
import { TenancyService } from './tenancy.service';

/** What AccessGuard leaves on the request for TenantContextInterceptor. */
export interface TenantRequest {
  id?: string;
  headers: Record<string, string | string[] | undefined>;
  tenant?: Tenant;
  /** Who is calling (set by RequestAuthenticator on tenant routes); carried into the TenantContext. */
  principal?: unknown;
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
 * Global guard, the first thing a request meets after routing:
 * - platform-admin routes: the admin bearer key (compared in constant time);
 *   no tenant credential of any kind is accepted there;
 * - tenant routes: RequestAuthenticator (src/auth) verifies the credential
 *   against the tenant the request names, then the role (README, "Authentication
 *   and roles", has the order of checks);
 * - tenant sign-in routes: resolve the tenant (400/404/403) only;
 * - routes that declare nothing are refused.
 * Guards run before interceptors, so the tenant context itself is entered by
 * TenantContextInterceptor, around pipes, handler and response.
 */
@Injectable()
export class AccessGuard implements CanActivate {
  private readonly logger = new Logger(AccessGuard.name);
  private readonly adminKeyDigest: Buffer;

  constructor(
    private readonly reflector: Reflector,
    private readonly tenancy: TenancyService,
    private readonly authenticator: RequestAuthenticator,
    config: AppConfig,
  ) {
    this.adminKeyDigest = digest(config.adminApiKey);
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
      case 'tenant':
        await this.authenticator.admit(context, request);
        return true;
      case 'tenant-sign-in':
        request.tenant = await this.tenancy.resolveRequestTenant(request.headers);
        return true;
      default:
        this.logger.error(`route ${context.getClass().name}.${context.getHandler().name} declares no access rule; refused`);
        throw new AppError(ErrorCode.Forbidden, 'Forbidden');
    }
  }

  private requireAdminKey(request: TenantRequest): void {
    const token = bearerToken(request.headers.authorization);
    if (!token || !timingSafeEqual(digest(token), this.adminKeyDigest)) {
      throw new AppError(ErrorCode.Unauthenticated, 'A valid platform admin key is required');
    }
  }
}
