import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { getTableName, type Table } from 'drizzle-orm';
import { MIGRATIONS_FOLDER } from './provisioning';
import * as schema from './schema';
import { isTenantTable, tenantTableAccess, type TenantTableAccess } from './schema/tenant-table';
import { companionName, planCompanions, renderCompanion, type MigrationFile } from './tenant-migrations';

/**
 * Migration commands (compiled to dist/database/migrations.cli.js):
 *   npm run db:generate [-- --name x]  drizzle-kit generate, then one companion migration
 *                                      (FORCE RLS + grants) per tenant table that has none
 *   npm run db:verify                  CI: drizzle-kit check, generating would write nothing,
 *                                      every tenant table has FORCE + grants
 */
const ROOT = path.resolve(__dirname, '..', '..');
const DRIZZLE_KIT = path.join(ROOT, 'node_modules', '.bin', 'drizzle-kit');
/** drizzle.config.ts reads its `out` from here (verify generates into a scratch copy). */
const OUT_ENV = 'DRIZZLE_MIGRATIONS_OUT';

function tenantTableNames(): string[] {
  const names = Object.values(schema as Record<string, unknown>).filter(isTenantTable).map((t) => getTableName(t as unknown as Table));
  return [...new Set(names)].sort();
}

/** Read-write or append-only, as the table was declared (tenantTable()'s `access`). */
function accessOf(name: string): TenantTableAccess {
  const table = Object.values(schema as Record<string, unknown>).filter(isTenantTable).find((t) => getTableName(t as unknown as Table) === name);
  return table ? tenantTableAccess(table) : 'read-write';
}

interface Journal {
  entries: Array<{ idx: number; tag: string }>;
}

function readJournal(folder: string): Journal {
  return JSON.parse(fs.readFileSync(path.join(folder, 'meta', '_journal.json'), 'utf8')) as Journal;
}

/** The migrations in journal order, and .sql files the journal does not list (never applied). */
function readMigrations(folder: string): { files: MigrationFile[]; unlisted: string[] } {
  const journal = readJournal(folder);
  const files = [...journal.entries]
    .sort((a, b) => a.idx - b.idx)
    .map((e) => ({ name: `${e.tag}.sql`, sql: fs.readFileSync(path.join(folder, `${e.tag}.sql`), 'utf8') }));
  const listed = new Set(files.map((f) => f.name));
  const unlisted = fs.readdirSync(folder).filter((f) => f.endsWith('.sql') && !listed.has(f)).sort();
  return { files, unlisted };
}

function drizzleKit(args: string[], options: { out?: string; interactive: boolean }) {
  const result = spawnSync(DRIZZLE_KIT, args, {
    cwd: ROOT,
    env: options.out ? { ...process.env, [OUT_ENV]: options.out } : process.env,
    // Non-interactive runs get no stdin: a rename prompt fails instead of waiting forever.
    stdio: options.interactive ? 'inherit' : ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
    timeout: options.interactive ? undefined : 120_000,
  });
  if (result.error) throw result.error;
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}`.trim() };
}

function relative(file: string): string {
  return path.relative(process.cwd(), file) || file;
}

function generate(passThrough: string[]): number {
  if (!drizzleKit(['generate', ...passThrough], { interactive: true }).ok) return 1;
  const { files } = readMigrations(MIGRATIONS_FOLDER);
  const plan = planCompanions(tenantTableNames(), files, accessOf);
  for (const table of plan.missing) {
    const before = new Set(readJournal(MIGRATIONS_FOLDER).entries.map((e) => e.tag));
    const name = companionName(table);
    const run = drizzleKit(['generate', '--custom', '--name', name], { interactive: false });
    const added = readJournal(MIGRATIONS_FOLDER).entries.filter((e) => !before.has(e.tag));
    if (!run.ok || added.length !== 1 || !added[0].tag.endsWith(`_${name}`)) {
      process.stderr.write(`drizzle-kit generate --custom --name ${name} did not add one migration:\n${run.output}\n`);
      return 1;
    }
    // The whole file: drizzle-kit's template ends in a comment without a newline.
    const file = path.join(MIGRATIONS_FOLDER, `${added[0].tag}.sql`);
    fs.writeFileSync(file, renderCompanion(table, accessOf(table)));
    process.stdout.write(`tenant table "${table}": FORCE ROW LEVEL SECURITY and grants in ${relative(file)}\n`);
  }
  if (plan.problems.length > 0) {
    process.stderr.write(`Migrations that need a person:\n${plan.problems.map((p) => `  - ${p}`).join('\n')}\n`);
    return 1;
  }
  if (plan.missing.length === 0) process.stdout.write('Every tenant table already has its FORCE ROW LEVEL SECURITY + grants migration.\n');
  return 0;
}

/** Relative paths of every file under a folder, sorted. */
function listFiles(folder: string, prefix = ''): string[] {
  return fs
    .readdirSync(path.join(folder, prefix), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listFiles(folder, path.join(prefix, e.name)) : [path.join(prefix, e.name)]))
    .sort();
}

function verify(): number {
  const failures: string[] = [];

  // (a) drizzle-kit's own consistency check of drizzle/ (snapshots, journal, collisions).
  const check = drizzleKit(['check'], { interactive: false });
  // drizzle-kit exits 0 on errors too: only its success line counts.
  if (!check.ok || !/Everything's fine/.test(check.output)) failures.push(`drizzle-kit check failed:\n${check.output}`);
  else process.stdout.write('ok: drizzle-kit check\n');

  // (b) Generating from the schema into a scratch copy of drizzle/ adds nothing.
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'drizzle-verify-'));
  try {
    const copy = path.join(scratch, 'drizzle');
    fs.cpSync(MIGRATIONS_FOLDER, copy, { recursive: true });
    // drizzle-kit prefixes `out` with './', so it must be relative to the project.
    const run = drizzleKit(['generate'], { out: path.relative(ROOT, copy), interactive: false });
    const before = listFiles(MIGRATIONS_FOLDER);
    const added = listFiles(copy).filter((f) => !before.includes(f));
    const journalChanged =
      fs.readFileSync(path.join(copy, 'meta', '_journal.json'), 'utf8') !== fs.readFileSync(path.join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8');
    if (added.length === 0 && !journalChanged && !(run.ok && /No schema changes/.test(run.output))) {
      failures.push(`drizzle-kit generate did not say "No schema changes" (a rename to answer? run npm run db:generate):\n${run.output}`);
    } else if (added.length > 0 || journalChanged) {
      const sql = added.filter((f) => f.endsWith('.sql')).map((f) => `--- ${f}\n${fs.readFileSync(path.join(copy, f), 'utf8')}`);
      failures.push(
        `The schema has changes no migration holds: drizzle-kit would write ${added.join(', ') || 'a changed journal'}. ` +
          `Run npm run db:generate and commit the migrations.\n${sql.join('\n')}`,
      );
    } else process.stdout.write('ok: drizzle-kit generate writes nothing new\n');
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }

  // (c) Every tenant table has FORCE ROW LEVEL SECURITY and the runtime role's grants.
  const { files, unlisted } = readMigrations(MIGRATIONS_FOLDER);
  const tables = tenantTableNames();
  const plan = planCompanions(tables, files, accessOf);
  if (plan.missing.length > 0) {
    failures.push(
      `Tenant tables without a FORCE ROW LEVEL SECURITY + grants migration: ${plan.missing.join(', ')}. ` +
        'Run npm run db:generate and commit the migrations it writes.',
    );
  }
  failures.push(...plan.problems);
  for (const file of unlisted) failures.push(`drizzle/${file} is not in drizzle/meta/_journal.json: it would never be applied`);
  if (plan.missing.length === 0 && plan.problems.length === 0) {
    process.stdout.write(`ok: ${tables.length} tenant tables with FORCE ROW LEVEL SECURITY and grants (${tables.join(', ')})\n`);
  }

  if (failures.length > 0) {
    process.stderr.write(`\ndb:verify failed:\n${failures.map((f) => `- ${f}`).join('\n')}\n`);
    return 1;
  }
  return 0;
}

function main([command, ...rest]: string[]): number {
  if (command === 'generate') return generate(rest);
  if (command === 'verify' && rest.length === 0) return verify();
  process.stderr.write('usage: migrations.cli.js generate [drizzle-kit generate flags] | verify\n');
  return 2;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`${(error as Error)?.stack ?? error}\n`);
  process.exitCode = 1;
}
