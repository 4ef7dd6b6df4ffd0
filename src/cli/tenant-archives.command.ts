import { Command } from 'commander';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ImportTarget, TenantImporter } from '../exports/tenant-importer';
import { TenantExportRunner } from '../exports/tenant-export-runner';
import { ExportProgress } from '../exports/tenant-exporter';
import { printJson, printLines } from './cli-output';
import { Progress, startProgress } from './cli-progress-bar';
import { UsageError } from './cli-errors';
import { withApplication } from './cli.module';

type Env = Record<string, string | undefined>;

function operatorName(): string {
  try {
    return userInfo().username || 'unknown';
  } catch {
    return 'unknown';
  }
}

/** A progress bar drawn from an export's or import's reports (their totals grow as they learn them). */
function barFor(label: string): { progress: Progress; report: (p: ExportProgress) => void } {
  const progress = startProgress(label, 1, 'items');
  return { progress, report: ({ done, total, stage }) => progress.update(done, Math.max(total ?? done, done, 1), stage) };
}

/**
 * `tenants export` and `tenants import` (README "Export and import"): the same operations as
 * POST /tenants/:idOrSlug/export and POST /tenants/import, run in this process (no job queue, no
 * worker needed), with a progress bar on stderr. Need DATABASE_MIGRATION_URL (the owner role: the
 * tenant's rows are read and restored as in offboarding) and the API's storage settings.
 */
export function addArchiveCommands(tenants: Command, env: Env): void {
  tenants
    .command('export')
    .description(
      "export a tenant's data (every row of every tenant table, every file) into an archive in its storage prefix; with --out also written to a local file. " +
        'Prints the export (its storage key among it). A failed export is started again from a fresh snapshot by running the command again',
    )
    .argument('<id-or-slug>', 'tenant id (UUID) or slug (any status)')
    .option('--out <file>', 'also write the archive (tar.gz) to this file (written to <file>.partial, renamed when complete)')
    .option('--json', 'print the export as a JSON object')
    .action(async (idOrSlug: string, options: { out?: string; json?: boolean }) => {
      if (options.out !== undefined && existsSync(options.out)) throw new UsageError(`--out ${options.out}: the file exists (nothing was overwritten)`);
      const result = await withApplication(env, async (app) => {
        const { progress, report } = barFor(`export ${idOrSlug}`);
        try {
          const done = await app.get(TenantExportRunner).run(idOrSlug, `cli:${operatorName()}`, {
            report,
            copy: options.out === undefined ? undefined : (archive) => writeFileAtomically(archive, options.out!),
          });
          return { ...done, out: options.out ?? null };
        } finally {
          progress.stop();
        }
      });
      if (options.json) return printJson(result);
      const rows = Object.values(result.tables ?? {}).reduce((sum, table) => sum + table.count, 0);
      printLines(
        `export ${result.id} of ${result.tenantSlug} (${result.tenantId}): ${result.status}, ${rows} rows, ${result.fileCount} files, ${result.sizeBytes} bytes, sha256 ${result.checksumSha256}`,
        `stored at ${result.archiveKey}`,
        ...(result.out ? [`written to ${result.out}`] : []),
      );
    });

  tenants
    .command('import')
    .description(
      'restore a tenant archive (as `tenants export` or GET /exports/:id/download wrote it) into a new tenant (--slug) or an existing empty one (--into). ' +
        'The whole archive is verified first; rows are restored in one transaction; a failure undoes what was written',
    )
    .argument('<file>', 'the archive (tar.gz)')
    .option('--slug <slug>', 'a new tenant: its slug')
    .option('--name <name>', "a new tenant: its name (default: the exported tenant's)")
    .option('--plan <plan>', "a new tenant: its plan (default: the exported tenant's)")
    .option('--database <name>', 'a new tenant: its placement (default shared)')
    .option('--into <id-or-slug>', 'an existing tenant with no rows and no files')
    .option('--json', 'print the result as a JSON object')
    .action(async (file: string, options: { slug?: string; name?: string; plan?: string; database?: string; into?: string; json?: boolean }) => {
      if ((options.slug === undefined) === (options.into === undefined)) throw new UsageError('give exactly one of --slug (a new tenant) or --into (an existing empty tenant)');
      if (options.into !== undefined && (options.name ?? options.plan ?? options.database) !== undefined) throw new UsageError('--name, --plan and --database describe a new tenant: not with --into');
      if (!existsSync(file)) throw new UsageError(`${file}: no such file`);
      const target: ImportTarget = options.into !== undefined ? { kind: 'into', tenant: options.into } : { kind: 'new', slug: options.slug!, name: options.name, plan: options.plan, database: options.database };
      const result = await withApplication(env, async (app) => {
        const { progress, report } = barFor('import');
        try {
          return await app.get(TenantImporter).import(createReadStream(file), target, report);
        } finally {
          progress.stop();
        }
      });
      if (options.json) return printJson(result);
      const rows = Object.values(result.rows).reduce((a, b) => a + b, 0);
      printLines(
        `imported ${result.source.slug} (${result.source.tenantId}, exported ${result.source.exportedAt}) into ${result.tenant.created ? 'new' : 'existing'} tenant ${result.tenant.slug} (${result.tenant.id}): ${rows} rows, ${result.files} files`,
      );
    });
}

/** Written to <file>.partial and renamed when complete: a half-written archive never has the name asked for. */
async function writeFileAtomically(body: Readable, file: string): Promise<void> {
  const partial = `${file}.partial`;
  try {
    await pipeline(body, createWriteStream(partial, { flags: 'wx', mode: 0o600 }));
    await rename(partial, file);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}
