import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import type { MembershipRole } from '../database/schema/memberships';
import { TenantContext } from '../tenancy/tenant-context';

/**
 * Who is calling, as admitted by AccessGuard (src/admission) for the current
 * tenant. `id` is what feature code records as the author (created_by): the
 * user id for a session, the key id for an API key. `role` was read on this
 * request (membership or key), never taken from the token.
 */
export type Principal =
  | { readonly kind: 'user'; readonly id: string; readonly userId: string; readonly role: MembershipRole }
  | { readonly kind: 'api-key'; readonly id: string; readonly keyId: string; readonly name: string; readonly role: MembershipRole };

function isPrincipal(value: unknown): value is Principal {
  const kind = (value as { kind?: unknown } | undefined)?.kind;
  return kind === 'user' || kind === 'api-key';
}

/** The principal of the current tenant scope; throws if there is none (a bug: tenant routes always have one). */
export function currentPrincipal(): Principal {
  const principal = TenantContext.scope()?.principal;
  if (!isPrincipal(principal)) throw new AppError(ErrorCode.Internal, 'No principal in the tenant context');
  return principal;
}

/** The principal if there is one: code run for a tenant outside HTTP (scripts, jobs) has none. */
export function optionalPrincipal(): Principal | undefined {
  const principal = TenantContext.scope()?.principal;
  return isPrincipal(principal) ? principal : undefined;
}
