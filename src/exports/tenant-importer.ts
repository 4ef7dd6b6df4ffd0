import { Injectable, Logger } from '@nestjs/common';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import { SHARED_DATABASE } from '../config/env.schema';
import { TenantDatabases } from '../database/tenant-databases';
import { TenantErasure } from '../database/tenant-erasure';
import { RestoreMismatchError, TargetNotEmptyError, TenantRows } from '../database/tenant-rows';
import { StorageService } from '../storage/storage.service';
import { TenantContext } from '../tenancy/tenant-context';
import { TenantResolver } from '../tenants/tenant-resolver.service';
import { TenantsService } from '../tenants/tenants.service';
import { ImportResultView } from './exports.schemas';
import { ArchiveInvalidError, expectedTables, extractArchive, fileEntry, linesOf, rowsEntry, verifyArchive } from './tenant-archive';
import { ReportProgress } from './tenant-exporter';

/** Where an import goes: a new tenant, or an existing one that has no rows and no files. */
export type ImportTarget = { kind: 'new'; slug: string; name?: string; plan?: string; database?: string } | { kind: 'into'; tenant: string };

/**
 * Restores a tenant archive (README "Export and import"), platform admin only:
 *
 *   1. extract the whole archive into a staging directory and verify all of it (manifest, format
 *      version, tables and columns known to the target database, every row file's count and
 *      checksum, every file's size and sha256): a bad archive is ARCHIVE_INVALID (422) with what
 *      is wrong, and nothing is written
 *   2. the target: an existing tenant must have no rows in any tenant table and no files
 *      (TENANT_NOT_EMPTY, 409), or a new tenant is created (slug, name and plan; no owner: the
 *      memberships come from the archive)
 *   3. the files, under the target's storage prefix (keys as in the archive)
 *   4. the rows, in ONE transaction (TenantRows.restore: foreign key order, the tenant id rewritten,
 *      the restored rows' checksums compared with the manifest before the commit)
 *
 * Files before rows, as attachments do: a row never points at a missing object. If a step after
 * the target was chosen fails, the import is compensated, not left half done: the files it wrote
 * are deleted (the target had none), and a tenant it created is deleted again; the rows are one
 * transaction, so they are all there or none is. A 2xx therefore means all of it is committed, and
 * an import that failed can simply be sent again.
 */
@Injectable()
export class TenantImporter {
  private readonly logger = new Logger('TenantImporter');

  constructor(
    private readonly rows: TenantRows,
    private readonly erasure: TenantErasure,
    private readonly storage: StorageService,
    private readonly tenants: TenantsService,
    private readonly resolver: TenantResolver,
    private readonly databases: TenantDatabases,
  ) {}

  async import(source: Readable, target: ImportTarget, report: ReportProgress = () => undefined): Promise<ImportResultView> {
    const staging = await mkdtemp(path.join(os.tmpdir(), 'tenant-import-'));
    try {
      await report({ done: 0, stage: 'extract' });
      const extracted = await extractArchive(source, staging);
      // The target's database decides which tables and columns must exist.
      const existing = target.kind === 'into' ? await this.resolver.findByIdOrSlug(target.tenant) : undefined;
      const database = existing?.database ?? (target.kind === 'new' ? (target.database ?? SHARED_DATABASE) : SHARED_DATABASE);
      // A name nobody registered is the caller's mistake (400, as POST /tenants), not a missing owner connection (500).
      if (!this.databases.isRegistered(database)) throw AppError.validation([{ path: 'database', message: `no database "${database}" is registered (TENANT_DATABASES)` }]);
      if (!this.rows.canReach(database)) throw new AppError(ErrorCode.Internal, "Import is not configured on this instance (the owner connection of the target's database is missing)");
      await report({ done: 0, stage: 'verify' });
      const manifest = await verifyArchive(staging, extracted, await this.rows.tables(database));
      if (existing) await this.requireEmpty(existing.id, existing.database);

      const created =
        target.kind === 'new'
          ? await this.tenants.create({ slug: target.slug, name: target.name ?? manifest.tenant.name, plan: target.plan ?? manifest.tenant.plan, database: target.database })
          : undefined;
      const tenant = existing ?? { id: created!.id, slug: created!.slug, name: created!.name, database: created!.database };
      const totalRows = manifest.tables.reduce((sum, table) => sum + table.count, 0);
      const total = manifest.files.length + totalRows;
      let done = 0;
      const written: string[] = [];
      try {
        // runForTenant: the target must be active (a suspended tenant is not written to).
        await this.resolver.runForTenant(tenant.id, async () => {
          for (const file of manifest.files) {
            await this.storage.putTenantFile(file.key, createReadStream(path.join(staging, fileEntry(file.key))), file.size);
            written.push(file.key);
            await report({ done: ++done, total, stage: 'files' });
          }
        });
        const restored = await this.rows.restore(
          { tenantId: tenant.id, database: tenant.database },
          manifest.tables.map((table) => ({ name: table.name, columns: table.columns, lines: () => linesOf(path.join(staging, rowsEntry(table.name))) })),
          {
            sourceTenantId: manifest.tenant.id,
            expected: expectedTables(manifest),
            onBatch: async (table, n) => {
              done += n;
              await report({ done, total, stage: `rows: ${table}` });
            },
          },
        );
        this.logger.log(`imported tenant ${manifest.tenant.slug} (${manifest.tenant.id}) into ${tenant.slug} (${tenant.id}): ${totalRows} rows, ${manifest.files.length} files`);
        return {
          tenant: { id: tenant.id, slug: tenant.slug, name: tenant.name, created: created !== undefined },
          source: { tenantId: manifest.tenant.id, slug: manifest.tenant.slug, exportedAt: manifest.createdAt },
          rows: restored,
          files: manifest.files.length,
        };
      } catch (error) {
        await this.compensate(tenant, created !== undefined, written);
        throw this.translate(error);
      }
    } catch (error) {
      throw this.translate(error);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  /** No row in any tenant table, no object under its prefix. */
  private async requireEmpty(tenantId: string, database: string): Promise<void> {
    const counts = await this.rows.count({ tenantId, database });
    const tables = Object.entries(counts).filter(([, n]) => n > 0).map(([table]) => table);
    const objects = await this.resolver.runForTenant(tenantId, () => this.storage.countTenantObjects());
    if (tables.length || objects) {
      throw new AppError(ErrorCode.TenantNotEmpty, 'The target tenant is not empty: an import only fills a tenant with no rows and no files', [
        ...tables.map((table) => ({ path: table, message: 'has rows' })),
        ...(objects ? [{ path: 'files', message: `${objects} object(s)` }] : []),
      ]);
    }
  }

  /**
   * Undoes what a failed import wrote: the files it stored (those only: the target was empty, but an
   * existing tenant is active and may have got files of its own meanwhile), and the tenant it created.
   * Logged if it fails itself.
   */
  private async compensate(tenant: { id: string; slug: string; database: string }, created: boolean, written: readonly string[]): Promise<void> {
    try {
      const scope = await this.resolver.find({ kind: 'id', value: tenant.id });
      if (scope) await TenantContext.run({ tenant: scope, requestId: `import:${tenant.id}` }, () => this.storage.deleteTenantFiles(written));
      if (created) {
        await this.erasure.deleteRows({ tenantId: tenant.id, database: tenant.database });
        await this.erasure.deleteTenantRecords({ tenantId: tenant.id, database: tenant.database });
        await this.resolver.forget({ id: tenant.id, slug: tenant.slug });
      }
    } catch (error) {
      this.logger.error(`import into ${tenant.slug} (${tenant.id}) failed and could not be fully undone: ${(error as Error).message}; delete the tenant (tenants delete) or empty it before trying again`);
    }
  }

  /** Failures a caller can act on, as their API errors; the rest as they are. */
  private translate(error: unknown): unknown {
    if (error instanceof AppError) return error;
    if (error instanceof ArchiveInvalidError) return new AppError(ErrorCode.ArchiveInvalid, 'The archive is not valid; nothing was imported', error.problems.slice(0, 50));
    if (error instanceof TargetNotEmptyError) return new AppError(ErrorCode.TenantNotEmpty, 'The target tenant is not empty: an import only fills a tenant with no rows and no files', [{ path: error.table, message: 'has rows' }]);
    if (error instanceof RestoreMismatchError) {
      return new AppError(ErrorCode.ArchiveInvalid, 'The restored rows would differ from the archive; nothing was imported', error.mismatches.map((m) => ({ path: `rows/${m.table}.ndjson`, message: 'restored rows differ from the manifest' })));
    }
    const code = (error as { code?: unknown })?.code;
    // A row pointing at something this deployment lacks (a user account: users are not tenant data and are not in the archive).
    if (code === '23503') return new AppError(ErrorCode.ArchiveInvalid, 'The archive refers to records this deployment does not have (e.g. user accounts); nothing was imported', [{ path: (error as { table?: string }).table ?? 'rows', message: 'refers to a record this deployment does not have' }]);
    if (typeof code === 'string' && /^(22|23)/.test(code)) return new AppError(ErrorCode.ArchiveInvalid, 'The archive holds rows this database refuses; nothing was imported', [{ path: (error as { table?: string }).table ?? 'rows', message: `rejected (${code})` }]);
    return error;
  }
}
