import { SetMetadata } from '@nestjs/common';

/**
 * Every controller declares who may call it; AccessGuard refuses routes that
 * declare nothing, so a new controller cannot become reachable by accident.
 */
export type RouteAccess = 'tenant' | 'platform-admin' | 'public';
export const ROUTE_ACCESS = 'route-access';

/** Needs a resolved, active tenant; runs inside its TenantContext. */
export const TenantRoute = () => SetMetadata(ROUTE_ACCESS, 'tenant' satisfies RouteAccess);
/** Platform administration: only the platform admin key. */
export const PlatformAdminRoute = () => SetMetadata(ROUTE_ACCESS, 'platform-admin' satisfies RouteAccess);
/** Health checks and the like. */
export const PublicRoute = () => SetMetadata(ROUTE_ACCESS, 'public' satisfies RouteAccess);
