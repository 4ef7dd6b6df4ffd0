import { is, SQL } from 'drizzle-orm';
import {
  foreignKey,
  IndexBuilder,
  pgTable,
  primaryKey,
  UniqueConstraintBuilder,
  uuid,
  type PgColumn,
  type PgTable,
  type PgColumnBuilderBase,
  type PgTableExtraConfigValue,
  type PgTableWithColumns,
  type TableConfig,
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

/** Any table declared with tenantTable(): the only kind TenantDb reads or writes. */
export type TenantTable<T extends TableConfig = TableConfig> = Omit<PgTableWithColumns<T>, 'enableRLS'> & {
  readonly [TENANT_TABLE]: true;
};
/**
 * Any table declared with tenantTable(), as a real PgTable (so it can be handed to
 * drizzle) whose two leading columns are known. `TenantTable<any>` would not do:
 * Omit over an `any` config keeps only an index signature, so every value with the
 * brand would pass and nothing would be a PgTable.
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
}

export class TenantTableDeclarationError extends Error {
  constructor(table: string, detail: string) {
    super(`tenant table "${table}": ${detail}`);
    this.name = 'TenantTableDeclarationError';
  }
}

function columnNamesOf(columns: unknown[]): Array<string | undefined> {
  return columns.map((column) => (is(column, SQL) ? undefined : (column as { name?: string } | undefined)?.name));
}

/** Unique indexes and constraints must be per tenant, or they would tell one tenant about another's values. */
function assertUniquesLedByTenant(table: string, extras: PgTableExtraConfigValue[]): void {
  for (const extra of extras) {
    let columns: Array<string | undefined> | undefined;
    let name: string | undefined;
    // Builders keep their settings in members drizzle marks internal; read them structurally.
    const index = is(extra, IndexBuilder) ? (extra as unknown as { config: { unique: boolean; columns: unknown[]; name?: string } }).config : undefined;
    if (index?.unique) {
      columns = columnNamesOf(index.columns);
      name = index.name;
    } else if (is(extra, UniqueConstraintBuilder)) {
      columns = columnNamesOf((extra as unknown as { columns: unknown[] }).columns);
      name = (extra as unknown as { name?: string }).name;
    }
    if (columns && columns[0] !== 'tenant_id') {
      throw new TenantTableDeclarationError(table, `unique ${name ?? '(unnamed)'} must start with tenant_id`);
    }
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
 * Unique indexes and constraints passed in `extras` must start with tenant_id.
 */
export function tenantTable<TName extends string, TColumns extends Record<string, PgColumnBuilderBase>>(
  name: TName,
  columns: TColumns,
  extras: (t: ExtraColumns<TName, TColumns>) => PgTableExtraConfigValue[] = () => [],
  options: TenantTableOptions<TName, TColumns> = {},
) {
  const table = pgTable(name, { ...tenantColumns(), ...columns }, (t) => {
    const own = extras(t);
    assertUniquesLedByTenant(name, own);
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
  Object.defineProperty(table, TENANT_TABLE, { value: true, enumerable: false });
  return table as typeof table & { readonly [TENANT_TABLE]: true };
}

/** Run-time check behind the type: was this table declared with tenantTable()? */
export function isTenantTable(table: unknown): table is AnyTenantTable {
  return typeof table === 'object' && table !== null && (table as { [TENANT_TABLE]?: boolean })[TENANT_TABLE] === true;
}
