import { Injectable, Logger } from '@nestjs/common';
import { once } from 'node:events';
import { createWriteStream, WriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../common/errors/app-error';
import { ExportRow, ExportTableSummary } from '../database/schema';
import { TenantRows } from '../database/tenant-rows';
import { StorageService } from '../storage/storage.service';
import { TenantContext } from '../tenancy/tenant-context';
import { ExportsRepository } from './exports.repository';
import { ARCHIVE_FORMAT_VERSION, ArchiveFile, ArchiveManifest, fileEntry, Measured, packArchive, rowsEntry } from './tenant-archive';

/** Progress as a job reports it (the jobs contract's shape; the CLI draws it as a bar). */
export interface ExportProgress {
  done: number;
  total?: number;
  stage?: string;
}
export type ReportProgress = (progress: ExportProgress) => Promise<void> | void;

/** What a written archive is: where, how big, its sha256, and the manifest it opens with. */
export interface WrittenArchive {
  key: string;
  sizeBytes: number;
  sha256: string;
  manifest: ArchiveManifest;
}

/** The job kind of an export (src/jobs). */
export const TENANT_EXPORT_JOB = 'tenants.export';
/** Attempts of an export job in all (the queue retries a failed one twice: storage down for a moment, a worker that died). */
export const EXPORT_JOB_ATTEMPTS = 3;

/**
 * Writes the archive of the tenant in the current context (README "Export and import"):
 *
 *   rows   every tenant table, in one REPEATABLE READ snapshot of its database (TenantRows), into
 *          a staging directory, one file per table
 *   files  every object under its storage prefix but its export archives, into the same directory,
 *          each measured (size, sha256) on the way
 *   pack   manifest.json first, then rows/ and files/, gzipped and streamed to storage; its size
 *          and sha256 measured on the way
 *
 * The rows are read before the files are listed: an attachment's object is stored before its row
 * is committed, so every attachment row of the snapshot has its object (unless it was deleted in
 * between: then the archive has the row without the object; the manifest lists what was packed).
 *
 * Nothing is half-written: a storage put stores the whole stream or nothing (multipart upload
 * aborted, temporary file removed), and the caller records the archive only after put() returned.
 * A failed or crashed attempt so leaves no archive, and running it again starts over from a fresh
 * snapshot (the staging directory of a crashed process is in the OS temp directory; a new one is
 * made per attempt).
 */
@Injectable()
export class TenantExporter {
  private readonly logger = new Logger('TenantExporter');

  constructor(
    private readonly rows: TenantRows,
    private readonly storage: StorageService,
    private readonly exports: ExportsRepository,
  ) {}

  /**
   * The export `exportId` of the current tenant, start to end: the job handler of `tenants.export`
   * (and the CLI's in-process run). `final`: no retry follows a failure (the row then says failed;
   * otherwise it stays running until the retry). Idempotent: an export that already succeeded is
   * returned as it is.
   */
  async run(exportId: string, options: { report?: ReportProgress; final: boolean }): Promise<ExportRow> {
    const started = await this.exports.start(exportId);
    if (!started) {
      const existing = await this.exports.findById(exportId);
      if (!existing) throw AppError.notFound('Export');
      return existing;
    }
    try {
      const archive = await this.writeArchive((body) => this.storage.putExportArchive(exportId, body), options.report);
      const tables: ExportTableSummary = Object.fromEntries(archive.manifest.tables.map((table) => [table.name, { count: table.count, checksum: table.checksum }]));
      const row = await this.exports.succeed(exportId, { archiveKey: archive.key, sizeBytes: archive.sizeBytes, checksumSha256: archive.sha256, tables, fileCount: archive.manifest.files.length });
      if (!row) {
        // Its row went while it ran (the export deleted, the tenant offboarded): an archive nothing points to is not kept.
        await this.storage.deleteExportArchive(archive.key);
        throw AppError.notFound('Export');
      }
      return row;
    } catch (error) {
      // The tenant sees a stable code and a message without internals (no SQL, no key).
      const failure = error instanceof AppError ? { code: error.code, message: error.message } : { code: 'EXPORT_FAILED', message: 'The export failed' };
      this.logger.error(`export ${exportId} of tenant ${TenantContext.currentId()} failed: ${(error as Error)?.message ?? error}`);
      await this.exports.fail(exportId, failure, options.final).catch(() => undefined);
      throw error;
    }
  }

  /** Builds the current tenant's archive and hands its stream to `store` (which returns the key it stored it under). */
  async writeArchive(store: (body: Readable) => Promise<string>, report: ReportProgress = () => undefined): Promise<WrittenArchive> {
    const tenant = TenantContext.current();
    const staging = await mkdtemp(path.join(os.tmpdir(), 'tenant-export-'));
    try {
      const placement = { tenantId: tenant.id, database: tenant.database };
      // An estimate for the progress total (the snapshot below may differ by what is written meanwhile).
      const estimate = Object.values(await this.rows.count(placement)).reduce((a, b) => a + b, 0);
      await mkdir(path.join(staging, 'rows'));
      let rowsRead = 0;
      const writers = new Map<string, WriteStream>();
      const tables = await this.rows.read(placement, {
        onRow: async (table, line) => {
          let writer = writers.get(table.name);
          if (!writer) {
            writer = createWriteStream(path.join(staging, rowsEntry(table.name)), { flags: 'wx', mode: 0o600 });
            writers.set(table.name, writer);
          }
          // Back-pressure: the snapshot's cursor waits for the disk.
          if (!writer.write(`${line}\n`)) await once(writer, 'drain');
        },
        onBatch: async (table, n) => {
          rowsRead += n;
          await report({ done: rowsRead, total: Math.max(estimate, rowsRead), stage: `rows: ${table}` });
        },
      });
      for (const writer of writers.values()) {
        writer.end();
        await once(writer, 'finish');
      }
      // Every table gets its file, empty ones too: the archive says "no rows", not "unknown".
      for (const table of tables) {
        if (!writers.has(table.name)) await pipeline(Readable.from([]), createWriteStream(path.join(staging, rowsEntry(table.name)), { flags: 'wx', mode: 0o600 }));
      }

      const listed: Array<{ relativeKey: string; size: number }> = [];
      for await (const file of this.storage.listTenantFiles()) listed.push(file);
      const files: ArchiveFile[] = [];
      for (const file of listed) {
        const target = path.join(staging, fileEntry(file.relativeKey));
        await mkdir(path.dirname(target), { recursive: true });
        const { body } = await this.storage.openTenantFile(file.relativeKey);
        const measured = new Measured();
        await pipeline(body, measured, createWriteStream(target, { flags: 'wx', mode: 0o600 }));
        files.push({ key: file.relativeKey, size: measured.bytes, sha256: measured.sha256() });
        await report({ done: rowsRead + files.length, total: rowsRead + listed.length, stage: 'files' });
      }

      const manifest: ArchiveManifest = {
        format: 'tenancy-tenant-archive',
        version: ARCHIVE_FORMAT_VERSION,
        createdAt: new Date().toISOString(),
        tenant: { id: tenant.id, slug: tenant.slug, name: tenant.name, plan: tenant.plan, database: tenant.database },
        tables: tables.map((table) => ({ name: table.name, columns: table.columns, count: table.count, checksum: table.checksum })),
        files,
      };
      await report({ done: rowsRead + files.length, total: rowsRead + files.length + 1, stage: 'upload' });
      const { stream, measured } = packArchive(staging, manifest);
      const key = await store(stream);
      await report({ done: rowsRead + files.length + 1, total: rowsRead + files.length + 1, stage: 'stored' });
      return { key, sizeBytes: measured.bytes, sha256: measured.sha256(), manifest };
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }
}
