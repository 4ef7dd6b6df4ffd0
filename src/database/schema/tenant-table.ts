import { is, SQL } from 'drizzle-orm';
import {
  foreignKey,
  getTableConfig,
  pgTable,
  primaryKey,
  uuid,
  type PgColumn,
  type PgColumnBuilderBase,
  type PgTable,
  type PgTableExtraConfigValue,
} from 'drizzle-orm/pg-core';
import type { BuildExtraConfigColumns } from 'drizzle-orm/column-builder';
import { tenantIsolationPolicy } from './roles';
import { tenants } from './tenants';

/**
 * Marks a table declared through tenantTable(). TenantDb accepts only tables
 * carrying it (at compile time through the type, at run time through the
 * symbol), and the migration generator writes FORCE RLS and grants for each.
 */
export const TENANT_TABLE: unique symbol = Symbol.for('tenancy-backend.tenant-table');

/** The runtime role's privileges on a tenant table: full data access, or append-only (a ledger). */
export const TENANT_TABLE_GRANTS = {
  'read-write': ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  'append-only': ['SELECT', 'INSERT'],
} as const;
export type TenantTableAccess = keyof typeof TENANT_TABLE_GRANTS;
const TENANT_TABLE_ACCESS: unique symbol = Symbol.for('tenancy-backend.tenant-table-access');

/**
 * Any table declared with tenantTable(), as a real PgTable (so it can be handed to
 * drizzle) whose two leading columns are known.
 */
export type AnyTenantTable = PgTable & {
  readonly tenantId: PgColumn;
  readonly id: PgColumn;
  readonly [TENANT_TABLE]: true;
};

/** The two columns every tenant table starts with. */
function tenantColumns() {
  return {
    tenantId: uuid('tenant_id').notNull(),
    id: uuid('id').notNull().defaultRandom(),
  };
}
type TenantColumns = ReturnType<typeof tenantColumns>;

type ExtraColumns<TName extends string, TColumns extends Record<string, PgColumnBuilderBase>> = BuildExtraConfigColumns<
  TName,
  TenantColumns & TColumns,
  'pg'
>;

export interface TenantTableOptions<TName extends string, TColumns extends Record<string, PgColumnBuilderBase>> {
  /**
   * The tenant table this one belongs to (comments -> documents). The foreign key
   * is composite, `(tenant_id, <column>) -> parent (tenant_id, id)`, so a row can
   * never point into another tenant; it cascades, and replaces the direct key to
   * `tenants` (the parent holds that one).
   */
  parent?: {
    table: AnyTenantTable;
    column: (t: ExtraColumns<TName, TColumns>) => PgColumn;
    /** Constraint name, e.g. `comments_document_fk`. */
    constraintName: string;
  };
  /**
   * 'append-only': the companion migration grants the runtime role SELECT and
   * INSERT only, so rows can never be changed or removed by the application
   * (e.g. the usage ledger). Default 'read-write'.
   */
  access?: TenantTableAccess;
}

export class TenantTableDeclarationError extends Error {
  constructor(table: string, detail: string) {
    super(`tenant table "${table}": ${detail}`);
    this.name = 'TenantTableDeclarationError';
  }
}

/**
 * Unique indexes, unique constraints and column-level unique() must be per tenant:
 * a global one would let one tenant learn another's values from a conflict.
 * Checked on the built table, so every way of declaring uniqueness is seen.
 */
function assertUniquesLedByTenant(table: PgTable): void {
  const config = getTableConfig(table);
  const leadingColumn = (columns: unknown[]) => (is(columns[0], SQL) ? undefined : (columns[0] as { name?: string } | undefined)?.name);
  const offenders = [
    ...config.indexes.filter((index) => index.config.unique && leadingColumn(index.config.columns) !== 'tenant_id').map((index) => index.config.name ?? '(unnamed index)'),
    ...config.uniqueConstraints.filter((unique) => unique.columns[0]?.name !== 'tenant_id').map((unique) => unique.getName() ?? '(unnamed constraint)'),
    ...config.columns.filter((column) => column.isUnique).map((column) => `${column.name}.unique()`),
  ];
  if (offenders.length > 0) {
    throw new TenantTableDeclarationError(config.name, `unique ${offenders.join(', ')} must start with tenant_id (use uniqueIndex(...).on(t.tenantId, ...))`);
  }
}

/**
 * Declares a tenant table once. It supplies what every tenant table needs and
 * nobody should write by hand:
 * - `tenant_id uuid not null` and `id uuid not null default gen_random_uuid()`, first;
 * - the primary key `(tenant_id, id)` named `<table>_pkey` (also the tenant-led index);
 * - the foreign key to `tenants` (`<table>_tenant_fk`, cascading), or the composite
 *   one to a parent tenant table (options.parent);
 * - the isolation policy `<table>_tenant_isolation` and ENABLE ROW LEVEL SECURITY.
 * FORCE ROW LEVEL SECURITY and the runtime role's grants, which drizzle-kit cannot
 * express, are written by `npm run db:generate` for every table declared here.
 * Unique indexes, constraints and columns must start with tenant_id: it throws
 * TenantTableDeclarationError at declaration otherwise.
 */
export function tenantTable<TName extends string, TColumns extends Record<string, PgColumnBuilderBase>>(
  name: TName,
  columns: TColumns,
  extras: (t: ExtraColumns<TName, TColumns>) => PgTableExtraConfigValue[] = () => [],
  options: TenantTableOptions<TName, TColumns> = {},
) {
  const table = pgTable(name, { ...tenantColumns(), ...columns }, (t) => {
    const own = extras(t);
    const parent = options.parent;
    const anchor = parent
      ? foreignKey({
          name: parent.constraintName,
          columns: [t.tenantId, parent.column(t)],
          foreignColumns: [parent.table.tenantId, parent.table.id],
        }).onDelete('cascade')
      : foreignKey({ name: `${name}_tenant_fk`, columns: [t.tenantId], foreignColumns: [tenants.id] }).onDelete('cascade');
    return [primaryKey({ name: `${name}_pkey`, columns: [t.tenantId, t.id] }), anchor, ...own, tenantIsolationPolicy(name)];
  }).enableRLS();
  assertUniquesLedByTenant(table);
  Object.defineProperty(table, TENANT_TABLE, { value: true, enumerable: false });
  Object.defineProperty(table, TENANT_TABLE_ACCESS, { value: options.access ?? 'read-write', enumerable: false });
  return table as typeof table & { readonly [TENANT_TABLE]: true };
}

/** Run-time check behind the type: was this table declared with tenantTable()? */
export function isTenantTable(table: unknown): table is AnyTenantTable {
  return typeof table === 'object' && table !== null && (table as { [TENANT_TABLE]?: boolean })[TENANT_TABLE] === true;
}

/** What the runtime role may do with a tenant table's rows (tenantTable()'s `access` option). */
export function tenantTableAccess(table: AnyTenantTable): TenantTableAccess {
  return (table as unknown as { [TENANT_TABLE_ACCESS]?: TenantTableAccess })[TENANT_TABLE_ACCESS] ?? 'read-write';
}
