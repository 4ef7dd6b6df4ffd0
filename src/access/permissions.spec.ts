import { ACTIONS, allows, mayManageRole, MINIMUM_ROLE } from './permissions';

describe('role x action matrix', () => {
  const ROLES = ['viewer', 'member', 'admin', 'owner'] as const;
  // The README table, row by row: a change to the matrix must change this test (and the README) too.
  const expected: Record<string, string[]> = {
    'session:read': ['viewer', 'member', 'admin', 'owner'],
    'plan:read': ['viewer', 'member', 'admin', 'owner'],
    'usage:read': ['admin', 'owner'],
    'jobs:read': ['admin', 'owner'],
    'exports:manage': ['admin', 'owner'],
    'documents:read': ['viewer', 'member', 'admin', 'owner'],
    'documents:write': ['member', 'admin', 'owner'],
    'documents:delete-own': ['member', 'admin', 'owner'],
    'documents:delete-any': ['admin', 'owner'],
    'members:read': ['viewer', 'member', 'admin', 'owner'],
    'members:manage': ['admin', 'owner'],
    'api-keys:manage': ['admin', 'owner'],
    'owners:manage': ['owner'],
  };

  it('lists every action exactly once', () => {
    expect([...ACTIONS].sort()).toEqual(Object.keys(expected).sort());
  });

  it.each(Object.entries(expected))('%s is allowed to exactly %j', (action, roles) => {
    const allowed = ROLES.filter((role) => allows(role, action as keyof typeof MINIMUM_ROLE));
    expect(allowed).toEqual(roles);
  });

  it('lets only owners hand out or touch the owner role', () => {
    expect(ROLES.filter((actor) => mayManageRole(actor, 'owner'))).toEqual(['owner']);
    // Positive control: every other role may be managed by whoever the route admitted.
    for (const role of ['admin', 'member', 'viewer'] as const) expect(mayManageRole('admin', role)).toBe(true);
  });
});
