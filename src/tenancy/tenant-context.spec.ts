import { MissingTenantContextError, TenantContext } from './tenant-context';
import { UNLIMITED_ENTITLEMENTS } from '../../test/helpers/tenants';

const tenant = (id: string) => ({ id, slug: `t-${id}`, name: id, status: 'active' as const, plan: 'free', entitlements: UNLIMITED_ENTITLEMENTS, database: 'shared' });

describe('TenantContext', () => {
  it('throws outside a tenant scope', () => {
    expect(() => TenantContext.current()).toThrow(MissingTenantContextError);
    expect(TenantContext.scope()).toBeUndefined();
  });

  it('keeps concurrent scopes apart across awaits', async () => {
    const seen = await Promise.all(
      ['a', 'b', 'c', 'd'].map((id) =>
        TenantContext.run({ tenant: tenant(id) }, async () => {
          const ids: string[] = [];
          for (let i = 0; i < 5; i++) {
            await new Promise((r) => setTimeout(r, Math.random() * 5));
            ids.push(TenantContext.currentId());
          }
          return ids;
        }),
      ),
    );
    expect(seen).toEqual(['a', 'b', 'c', 'd'].map((id) => Array(5).fill(id)));
    expect(TenantContext.scope()).toBeUndefined();
  });

  it('exit() leaves the scope for the callback only', () => {
    TenantContext.run({ tenant: tenant('x') }, () => {
      expect(() => TenantContext.exit(() => TenantContext.current())).toThrow(MissingTenantContextError);
      expect(TenantContext.currentId()).toBe('x');
    });
  });
});
