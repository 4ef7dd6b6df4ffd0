import { MEMBERSHIP_ROLES, MembershipRole } from '../database/schema/memberships';

/**
 * The role x action matrix: the one place that says who may do what inside a
 * tenant. Routes declare their action with @Can (can.decorator.ts) and the
 * guard checks it before the handler runs; the few rules that depend on the
 * data (whose document it is, whether the target is an owner) call allows()
 * with a more specific action from this same table. README "Authentication
 * and roles" shows it as a table; permissions.spec.ts pins it.
 *
 * Roles are ordered, each includes the ones below it:
 * viewer < member < admin < owner.
 */
export const ROLE_RANK: Record<MembershipRole, number> = { viewer: 0, member: 1, admin: 2, owner: 3 };

/** Each action and the least role that may do it. */
export const MINIMUM_ROLE = {
  /** GET /me, POST /auth/switch-tenant. */
  'session:read': 'viewer',
  /** GET /plan: the tenant's plan, features and limits. */
  'plan:read': 'viewer',
  /** GET /usage: the tenant's usage this billing period against its limits. */
  'usage:read': 'admin',
  /** GET /jobs, GET /jobs/:id: the tenant's background jobs, their status, progress and errors. */
  'jobs:read': 'admin',
  /** POST/GET /exports: export the tenant's data (every row and file) and download the archive. */
  'exports:manage': 'admin',
  /** Read documents and their comments. */
  'documents:read': 'viewer',
  /** Create and edit documents, add comments. */
  'documents:write': 'member',
  /** Delete documents and comments the caller created. */
  'documents:delete-own': 'member',
  /** Delete anyone's documents and comments. */
  'documents:delete-any': 'admin',
  /** List the tenant's members and their roles. */
  'members:read': 'viewer',
  /** Add, invite, change the role of and remove admins, members and viewers; list and revoke invitations. */
  'members:manage': 'admin',
  /** Create and list API keys (admin, member or viewer role) and revoke them. */
  'api-keys:manage': 'admin',
  /** Grant, change or take away the owner role (members, invitations and API keys alike). */
  'owners:manage': 'owner',
} as const satisfies Record<string, MembershipRole>;

export type Action = keyof typeof MINIMUM_ROLE;

export const ACTIONS = Object.keys(MINIMUM_ROLE) as Action[];

export function isRole(value: unknown): value is MembershipRole {
  return typeof value === 'string' && (MEMBERSHIP_ROLES as readonly string[]).includes(value);
}

export function allows(role: MembershipRole, action: Action): boolean {
  return ROLE_RANK[role] >= ROLE_RANK[MINIMUM_ROLE[action]];
}

/**
 * Whether `actor` may hand out `role` (to a member, an invitation or an API
 * key) or act on someone who holds it: the owner role needs owners:manage,
 * every other role members:manage or api-keys:manage as the route declares.
 */
export function mayManageRole(actor: MembershipRole, role: MembershipRole): boolean {
  return role === 'owner' ? allows(actor, 'owners:manage') : true;
}
