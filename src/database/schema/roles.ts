import { sql } from 'drizzle-orm';
import { pgPolicy, pgRole } from 'drizzle-orm/pg-core';

/**
 * The two database roles. Their names are fixed because migrations grant to them;
 * `npm run db:setup` (or the embedded/test bootstrap) creates them.
 * - app_owner owns every object and applies migrations. With RLS forced and no
 *   policy naming it, it sees no tenant rows either.
 * - app_user is what the API logs in as: not superuser, no BYPASSRLS, owns nothing.
 */
export const OWNER_ROLE = 'app_owner';
export const APP_ROLE = 'app_user';

export const appUser = pgRole(APP_ROLE).existing();
export const appOwner = pgRole(OWNER_ROLE).existing();

/** The transaction-local setting the data layer fills with the current tenant. */
export const TENANT_SETTING = 'app.tenant_id';
/** Transaction-local setting for the one cross-tenant read a user may do: their own memberships. */
export const USER_SETTING = 'app.user_id';

/**
 * `tenant_id = <current tenant>`, written as a scalar subquery so the planner turns
 * it into an InitPlan evaluated once per statement (not once per row), and with
 * nullif() because after a transaction-local set_config commits, the setting reads
 * back as '' (not NULL) on that pooled connection and ''::uuid would raise.
 * No tenant set => NULL => the comparison is never true => zero rows.
 */
export const currentTenantMatches = sql`tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid)`;

/**
 * The isolation policy every tenant table carries, for all commands. It binds the owner role
 * too, by the same rule: with FORCE ROW LEVEL SECURITY and no policy naming it, app_owner could
 * see no tenant row at all, so platform operations that must run as the owner (offboarding deletes
 * the append-only ledger, which the runtime role may not; migrations that backfill per tenant)
 * could not work on one tenant's rows without turning RLS off for everyone. With the policy, the
 * owner too sees and changes exactly the one tenant set transaction-locally, and nothing without
 * one. (The owner could always change the policies themselves: this grants it no new power, it
 * keeps its tenant work inside the same rule.)
 */
export function tenantIsolationPolicy(table: string) {
  return pgPolicy(`${table}_tenant_isolation`, {
    as: 'permissive',
    for: 'all',
    to: [appUser, appOwner],
    using: currentTenantMatches,
    withCheck: currentTenantMatches,
  });
}
