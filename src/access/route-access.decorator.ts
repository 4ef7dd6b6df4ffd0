import { SetMetadata } from '@nestjs/common';

/**
 * Every controller declares who may call it; AccessGuard refuses routes that
 * declare nothing, so a new controller cannot become reachable by accident.
 */
export type RouteAccess = 'tenant' | 'tenant-sign-in' | 'platform-admin' | 'public';
export const ROUTE_ACCESS = 'route-access';

/**
 * Needs a credential (bearer JWT or API key) for the tenant the request names,
 * and a role allowed to do the route's action (@Can, can.decorator.ts); runs inside its
 * TenantContext with the principal.
 */
export const TenantRoute = () => SetMetadata(ROUTE_ACCESS, 'tenant' satisfies RouteAccess);
/**
 * Sign-in flows only (login, accepting an invitation): the tenant is resolved
 * (400/404/403) but no credential is required, since obtaining one is the point.
 */
export const TenantSignInRoute = () => SetMetadata(ROUTE_ACCESS, 'tenant-sign-in' satisfies RouteAccess);
/** Platform administration: only the platform admin key. */
export const PlatformAdminRoute = () => SetMetadata(ROUTE_ACCESS, 'platform-admin' satisfies RouteAccess);
/** Health checks and the like. */
export const PublicRoute = () => SetMetadata(ROUTE_ACCESS, 'public' satisfies RouteAccess);
