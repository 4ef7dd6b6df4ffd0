import { SetMetadata } from '@nestjs/common';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import { Feature } from '../tenancy/entitlements';
import { Tenant, TenantContext } from '../tenancy/tenant-context';

export const REQUIRED_FEATURE = 'required-feature';

/**
 * The plan feature a tenant route needs, beside its @Can action. AccessGuard
 * checks it after the role (so a caller learns about the plan only once they
 * may act): a tenant whose plan (with its overrides) lacks the feature gets 403
 * FEATURE_NOT_IN_PLAN. On the handler or on the class for all its handlers.
 */
export const RequiresFeature = (feature: Feature) => SetMetadata(REQUIRED_FEATURE, feature);

export function featureNotInPlan(feature: Feature, tenant: Tenant): AppError {
  return new AppError(ErrorCode.FeatureNotInPlan, `The ${tenant.entitlements.plan} plan does not include ${feature.replace('_', ' ')}`, [
    { path: 'feature', message: feature },
  ]);
}

export function hasFeature(tenant: Tenant, feature: Feature): boolean {
  return tenant.entitlements.features.includes(feature);
}

/** For services: throws 403 FEATURE_NOT_IN_PLAN unless the current tenant's plan has the feature. */
export function requireFeature(feature: Feature): void {
  const tenant = TenantContext.current();
  if (!hasFeature(tenant, feature)) throw featureNotInPlan(feature, tenant);
}
