import { ExecutionContext } from '@nestjs/common';
import type { TenantRequest } from './access.guard';

/**
 * The port through which AccessGuard admits a request to a tenant route. The
 * identity module (src/auth) implements it: it verifies the credential, checks
 * that it belongs to the tenant the request names, that the tenant is active,
 * that the caller is (still) a member, and that their role allows the route's
 * action. On success it sets request.tenant and request.principal; otherwise it
 * throws the matching AppError. Defined here so the tenancy core does not
 * depend on how identities are stored.
 */
export abstract class RequestAuthenticator {
  abstract admit(context: ExecutionContext, request: TenantRequest): Promise<void>;
}
