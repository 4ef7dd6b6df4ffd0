import { APP_ROLE } from './schema/roles';
import { TENANT_TABLE_GRANTS, TenantTableAccess } from './schema/tenant-table';

/**
 * The pure half of `npm run db:generate` / `npm run db:verify` (the file and
 * process half is migrations.cli.ts): what drizzle-kit cannot emit for a tenant
 * table — FORCE ROW LEVEL SECURITY and the runtime role's grants — read back
 * from the committed migrations and written as one companion migration per table.
 */

/** What a tenant table's companion migration grants the runtime role, and nothing more. */
export const TENANT_TABLE_PRIVILEGES = TENANT_TABLE_GRANTS['read-write'];

const ALL_TABLE_PRIVILEGES = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER', 'MAINTAIN'];

/** `--name` of the companion of one table; the migration file is `<index>_<this>.sql`. */
export function companionName(table: string): string {
  return `${table}_force_rls_and_grants`;
}

/** First line of every generated companion: how db:verify tells it from a hand-written one (whose statements it does not compare). */
const GENERATED_MARKER = '-- Written by `npm run db:generate` for the tenant table';

/** The whole companion migration of one tenant table. */
export function renderCompanion(table: string, access: TenantTableAccess = 'read-write'): string {
  const appendOnly =
    access === 'append-only'
      ? ['-- Append-only (tenantTable({ access: "append-only" })): no UPDATE or DELETE, so rows once written stay as they are.']
      : [];
  return [
    `${GENERATED_MARKER} "${table}" (declared with tenantTable()).`,
    '-- drizzle-kit emits ENABLE ROW LEVEL SECURITY and the isolation policy, but cannot emit',
    '-- FORCE ROW LEVEL SECURITY (which applies the policy to the table owner too, so no role',
    '-- but a superuser sees rows without a tenant) nor grants: the runtime role gets data',
    '-- access only, no TRUNCATE, REFERENCES, TRIGGER or DDL. Do not edit; db:verify compares.',
    ...appendOnly,
    `ALTER TABLE "${table}" FORCE ROW LEVEL SECURITY;--> statement-breakpoint`,
    `GRANT ${TENANT_TABLE_GRANTS[access].join(', ')} ON "${table}" TO "${APP_ROLE}";`,
    '',
  ].join('\n');
}

export function isGeneratedCompanion(sql: string): boolean {
  return sql.startsWith(GENERATED_MARKER);
}

/** The table a companion file name is for (`0007_notes_force_rls_and_grants.sql` -> notes), if it is one. */
export function companionTableOf(fileName: string): string | undefined {
  return /^\d+_([a-z_][a-z0-9_]*)_force_rls_and_grants\.sql$/.exec(fileName)?.[1];
}

/** State of the runtime-relevant table settings after applying migrations in order. */
export interface MigrationsState {
  /** Tables with FORCE ROW LEVEL SECURITY. */
  forced: Set<string>;
  /** Per table, the privileges granted to the runtime role (a column privilege as `SELECT (a, b)`). */
  granted: Map<string, Set<string>>;
}

/** SQL without comments, split into statements (string literals are not special-cased: migrations here have none with `;` or `--`). */
function statementsOf(sql: string): string[] {
  return sql
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/--[^\n]*/g, ' ')
    .split(';')
    .map((s) => s.replace(/\s+/g, ' ').trim())
    .filter((s) => s.length > 0);
}

const IDENT = String.raw`(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;
const QUALIFIED = String.raw`(?:${IDENT}\s*\.\s*)?${IDENT}`;

/** `"public"."Docs"` -> Docs, `documents` -> documents (unquoted names fold to lower case). */
function tableName(qualified: string): string {
  const parts = qualified.match(new RegExp(IDENT, 'g')) ?? [];
  const last = parts[parts.length - 1] ?? '';
  return last.startsWith('"') ? last.slice(1, -1).replace(/""/g, '"') : last.toLowerCase();
}

function tableList(list: string): string[] {
  return (list.match(new RegExp(QUALIFIED, 'g')) ?? []).map(tableName);
}

/**
 * `SELECT, INSERT` -> [SELECT, INSERT]; a column privilege keeps its columns,
 * `SELECT ("id", Email)` -> `SELECT (id, email)`, so it never counts as the
 * table-wide privilege.
 */
function privilegesOf(list: string): string[] {
  const words = list.match(/[^,(]+(?:\([^)]*\))?/g) ?? [];
  return words.flatMap((word) => {
    const m = /^\s*([A-Za-z ]+?)\s*(?:\(([^)]*)\))?\s*$/.exec(word);
    if (!m) return [word.trim()];
    const privilege = m[1].toUpperCase();
    if (m[2] !== undefined) return [`${privilege} (${m[2].split(',').map((c) => tableName(c.trim())).join(', ')})`];
    return privilege === 'ALL' || privilege === 'ALL PRIVILEGES' ? ALL_TABLE_PRIVILEGES : [privilege];
  });
}

/** A table-wide REVOKE takes the column privileges of that kind with it, as in PostgreSQL. */
function revoke(grants: Set<string>, privilege: string): void {
  grants.delete(privilege);
  if (!privilege.includes('(')) for (const p of grants) if (p.startsWith(`${privilege} (`)) grants.delete(p);
}

function rolesOf(list: string): string[] {
  return list.split(',').map((r) => tableName(r.trim().replace(/\s+WITH\s+GRANT\s+OPTION$/i, '')));
}

const ALTER_TABLE = String.raw`^ALTER TABLE (?:IF EXISTS )?(?:ONLY )?(${QUALIFIED})`;
const FORCE = new RegExp(`${ALTER_TABLE} (NO )?FORCE ROW LEVEL SECURITY$`, 'i');
const RENAME = new RegExp(`${ALTER_TABLE} RENAME TO (${IDENT})$`, 'i');
const DROP = new RegExp(String.raw`^DROP TABLE (?:IF EXISTS )?(.+?)(?: CASCADE| RESTRICT)?$`, 'i');
// Only per-table grants: `ON ALL TABLES IN SCHEMA` reaches the tables existing at that moment,
// which this reader does not track.
const GRANT = new RegExp(String.raw`^GRANT (.+?) ON (?:TABLE )?((?:${QUALIFIED}\s*,\s*)*${QUALIFIED}) TO (.+)$`, 'i');
const REVOKE = new RegExp(
  String.raw`^REVOKE (?:GRANT OPTION FOR )?(.+?) ON (?:TABLE )?((?:${QUALIFIED}\s*,\s*)*${QUALIFIED}) FROM (.+?)(?: CASCADE| RESTRICT)?$`,
  'i',
);

/** Applies the migrations' SQL, in order, to an empty state: FORCE / NO FORCE, GRANT / REVOKE to the runtime role, DROP and RENAME. */
export function readMigrations(sqls: string[]): MigrationsState {
  const state: MigrationsState = { forced: new Set(), granted: new Map() };
  const grantsOf = (table: string) => state.granted.get(table) ?? state.granted.set(table, new Set()).get(table)!;
  for (const statement of sqls.flatMap(statementsOf)) {
    let m: RegExpExecArray | null;
    if ((m = FORCE.exec(statement))) {
      if (m[2]) state.forced.delete(tableName(m[1]));
      else state.forced.add(tableName(m[1]));
    } else if ((m = RENAME.exec(statement))) {
      const [from, to] = [tableName(m[1]), tableName(m[2])];
      if (state.forced.delete(from)) state.forced.add(to);
      const grants = state.granted.get(from);
      state.granted.delete(from);
      if (grants) state.granted.set(to, grants);
    } else if ((m = DROP.exec(statement))) {
      for (const table of tableList(m[1])) {
        state.forced.delete(table);
        state.granted.delete(table);
      }
    } else if ((m = GRANT.exec(statement))) {
      if (!rolesOf(m[3]).includes(APP_ROLE)) continue;
      for (const table of tableList(m[2])) for (const p of privilegesOf(m[1])) grantsOf(table).add(p);
    } else if ((m = REVOKE.exec(statement))) {
      if (!rolesOf(m[3]).includes(APP_ROLE)) continue;
      for (const table of tableList(m[2])) for (const p of privilegesOf(m[1])) revoke(grantsOf(table), p);
    }
  }
  return state;
}

export interface MigrationFile {
  /** File name inside the migrations folder, e.g. `0003_invitations_force_rls_and_grants.sql`. */
  name: string;
  sql: string;
}

export interface CompanionPlan {
  /** Tenant tables with no FORCE in any migration: each gets a companion migration. */
  missing: string[];
  /** Things `db:generate` must not paper over: a person decides. */
  problems: string[];
}

/**
 * Which tenant tables need a companion migration, and what is wrong with the ones
 * that exist. `migrations` in journal order; `tenantTables` = tables declared with tenantTable().
 */
export function planCompanions(
  tenantTables: string[],
  migrations: MigrationFile[],
  accessOf: (table: string) => TenantTableAccess = () => 'read-write',
): CompanionPlan {
  const state = readMigrations(migrations.map((m) => m.sql));
  const tenant = new Set(tenantTables);
  const missing: string[] = [];
  const problems: string[] = [];
  for (const table of [...tenant].sort()) {
    const expected = [...TENANT_TABLE_GRANTS[accessOf(table)]].sort().join(', ');
    if (!state.forced.has(table)) {
      missing.push(table);
      continue;
    }
    const granted = [...(state.granted.get(table) ?? [])].sort().join(', ');
    if (granted !== expected) {
      problems.push(`tenant table "${table}": the migrations grant "${APP_ROLE}" [${granted}], expected [${expected}]`);
    }
  }
  for (const file of migrations) {
    const table = companionTableOf(file.name);
    if (!table || !isGeneratedCompanion(file.sql)) continue;
    if (!tenant.has(table)) {
      // Dropped or renamed since: the later migration took FORCE away with it.
      if (state.forced.has(table)) problems.push(`${file.name}: companion of "${table}", which is no longer declared with tenantTable()`);
    } else if (statementsOf(file.sql).join(';') !== statementsOf(renderCompanion(table, accessOf(table))).join(';')) {
      problems.push(`${file.name}: its statements differ from what db:generate writes for "${table}" (edited by hand?)`);
    }
  }
  return { missing, problems };
}
