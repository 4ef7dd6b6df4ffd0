import { OTHER_TENANTS, TenantLabels } from './tenant-labels';

describe(TenantLabels.name, () => {
  it('labels the first tenants by id and the rest as other, stably', () => {
    const sut = new TenantLabels(2);
    expect(sut.labelFor('a')).toBe('a');
    expect(sut.labelFor('b')).toBe('b');
    expect(sut.labelFor('c')).toBe(OTHER_TENANTS);
    expect(sut.labelFor('a')).toBe('a');
    expect(sut.labelFor('c')).toBe(OTHER_TENANTS);
  });

  it('puts every tenant under other with a limit of 0', () => {
    expect(new TenantLabels(0).labelFor('a')).toBe(OTHER_TENANTS);
  });
});
