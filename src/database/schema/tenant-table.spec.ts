import { is, sql } from 'drizzle-orm';
import { getTableConfig, index, PgTable, text, unique, uniqueIndex } from 'drizzle-orm/pg-core';
import * as schema from './index';
import { isTenantTable, tenantTable, TenantTableDeclarationError } from './tenant-table';

describe(tenantTable.name, () => {
  it('supplies the tenant column, the (tenant_id, id) key, the tenant FK, the policy and RLS', () => {
    const sut = tenantTable('probe_notes', { title: text('title').notNull() }, (t) => [index('probe_notes_tenant_title_idx').on(t.tenantId, t.title)]);
    const config = getTableConfig(sut);
    expect(config.columns.map((c) => c.name)).toEqual(['tenant_id', 'id', 'title']);
    expect(config.primaryKeys.map((pk) => [pk.getName(), pk.columns.map((c) => c.name)])).toEqual([['probe_notes_pkey', ['tenant_id', 'id']]]);
    expect(config.foreignKeys.map((fk) => fk.getName())).toEqual(['probe_notes_tenant_fk']);
    expect(config.policies.map((p) => p.name)).toEqual(['probe_notes_tenant_isolation']);
    expect(config.enableRLS).toBe(true);
    expect(isTenantTable(sut)).toBe(true);
  });

  it('accepts unique indexes and constraints led by tenant_id (positive control)', () => {
    expect(() =>
      tenantTable('probe_ok', { email: text('email').notNull() }, (t) => [
        uniqueIndex('probe_ok_tenant_email_key').on(t.tenantId, t.email),
        unique('probe_ok_tenant_email_unique').on(t.tenantId, t.email),
      ]),
    ).not.toThrow();
  });

  it.each([
    ['a unique index', () => tenantTable('probe_a', { email: text('email') }, (t) => [uniqueIndex('probe_a_email_key').on(t.email)])],
    ['a unique index on an expression', () => tenantTable('probe_b', { email: text('email') }, (t) => [uniqueIndex('probe_b_email_key').on(sql`lower(${t.email})`)])],
    ['a unique constraint', () => tenantTable('probe_c', { email: text('email') }, (t) => [unique('probe_c_email_unique').on(t.email, t.tenantId)])],
    ['a column-level unique()', () => tenantTable('probe_d', { email: text('email').unique() })],
  ])('refuses %s not led by tenant_id, at declaration', (_what, declare) => {
    expect(declare).toThrow(TenantTableDeclarationError);
  });

  it('brands every table of the schema that has a tenant_id column, and none other', () => {
    const tables = Object.entries(schema as Record<string, unknown>).filter((entry): entry is [string, PgTable] => is(entry[1], PgTable));
    expect(tables.length).toBeGreaterThan(5); // positive control: the schema's tables are found
    const withTenantColumn = tables.filter(([, table]) => getTableConfig(table).columns.some((c) => c.name === 'tenant_id'));
    expect(withTenantColumn.map(([name]) => name)).toEqual(expect.arrayContaining(['apiKeys', 'attachments', 'comments', 'documents', 'invitations', 'memberships']));
    expect(withTenantColumn.filter(([, table]) => !isTenantTable(table)).map(([name]) => name)).toEqual([]);
    expect(isTenantTable(schema.users)).toBe(false);
    expect(isTenantTable(schema.tenants)).toBe(false);
  });
});
