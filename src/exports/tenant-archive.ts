import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { z } from 'zod';
import type { CatalogTenantTable } from '../database/tenant-catalog';
import { TableChecksum, TableSummary } from '../database/tenant-rows';
import { isRelativeObjectKey } from '../storage/storage-keys';

/**
 * The tenant archive (README "Export and import"): a tar.gz holding
 *
 *   manifest.json            format version, the tenant (id, slug, name, plan), when, and per table
 *                            its columns, row count and checksum; per file its key, size and sha256
 *   rows/<table>.ndjson      one line per row (TenantRows' canonical encoding, tenant_id left out),
 *                            in primary key order; every tenant table is listed, empty ones too
 *   files/<key>              every object under the tenant's storage prefix (but its exports), by
 *                            its key below the prefix (documents/<documentId>/<uuid>)
 *
 * Written from a staging directory (rows and files are read into it first, so the manifest, which
 * needs every checksum, can come first in the archive), and read back the same way: an import
 * extracts the whole archive into a staging directory and verifies all of it before writing anything.
 */

export const ARCHIVE_FORMAT_VERSION = 1;
export const MANIFEST_NAME = 'manifest.json';

const tableName = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/);
const checksum = z.string().regex(/^[0-9a-f]{64}$/);

export const manifestSchema = z.strictObject({
  format: z.literal('tenancy-tenant-archive'),
  version: z.number().int(),
  createdAt: z.iso.datetime(),
  tenant: z.strictObject({ id: z.uuid(), slug: z.string(), name: z.string(), plan: z.string(), database: z.string() }),
  tables: z.array(z.strictObject({ name: tableName, columns: z.array(z.string().min(1).max(63)), count: z.number().int().min(0), checksum })),
  files: z.array(z.strictObject({ key: z.string().refine(isRelativeObjectKey, 'not a key below a tenant prefix'), size: z.number().int().min(0), sha256: checksum })),
});
export type ArchiveManifest = z.infer<typeof manifestSchema>;
export type ArchiveFile = ArchiveManifest['files'][number];

/** Where a staging directory keeps a table's rows and an object's bytes (the same names as in the archive). */
export const rowsEntry = (table: string) => `rows/${table}.ndjson`;
export const fileEntry = (key: string) => `files/${key}`;

/** A problem found in an archive: the entry (or manifest field) and what is wrong with it. */
export interface ArchiveProblem {
  path: string;
  message: string;
}

export class ArchiveInvalidError extends Error {
  constructor(readonly problems: ArchiveProblem[]) {
    super(`the archive is not valid: ${problems.slice(0, 5).map((p) => `${p.path}: ${p.message}`).join('; ')}`);
    this.name = 'ArchiveInvalidError';
  }
}

/** Counts bytes and hashes them on the way through. */
export class Measured extends Transform {
  private readonly hash = createHash('sha256');
  bytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.push(chunk);
    callback();
  }

  sha256(): string {
    return this.hash.digest('hex');
  }
}

/**
 * The archive as a gzip stream, from a staging directory holding rows/ and files/ as the manifest
 * lists them. The caller pipes it to storage (or a file) and reads size and sha256 off `measured`
 * once the stream has ended.
 */
export function packArchive(stagingDir: string, manifest: ArchiveManifest): { stream: Readable; measured: Measured } {
  const pack = tar.pack();
  const measured = new Measured();
  const output = new PassThrough();
  void (async () => {
    const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 2));
    pack.entry({ name: MANIFEST_NAME, size: manifestBytes.length, mode: 0o644 }, manifestBytes);
    const entries = [
      ...manifest.tables.map((table) => rowsEntry(table.name)),
      ...manifest.files.map((file) => fileEntry(file.key)),
    ];
    for (const name of entries) {
      const source = path.join(stagingDir, name);
      const entry = pack.entry({ name, size: (await stat(source)).size, mode: 0o644 });
      await pipeline(createReadStream(source), entry);
    }
    pack.finalize();
  })().catch((error: unknown) => pack.destroy(error as Error));
  pipeline(pack, createGzip(), measured, output).catch((error: unknown) => output.destroy(error as Error));
  return { stream: output, measured };
}

/** Entries an archive may hold at most, and the longest entry name: an upload cannot exhaust the staging directory's inodes or the memory for names. */
const MAX_ENTRIES = 1_000_000;

/** What extraction found: each entry's size and sha256 (of its bytes as extracted), by name. */
export type ExtractedEntries = Map<string, { size: number; sha256: string }>;

/**
 * Extracts a tar.gz stream into `dir` (which exists and is empty): only regular files named
 * manifest.json, rows/<table>.ndjson or files/<key> (a key that passes the storage layer's check,
 * so no name can leave `dir`). Anything else is a problem reported at the end, not an exception
 * half way, except what makes reading impossible (not gzip, not tar).
 */
export async function extractArchive(input: Readable, dir: string): Promise<{ entries: ExtractedEntries; problems: ArchiveProblem[] }> {
  const entries: ExtractedEntries = new Map();
  const problems: ArchiveProblem[] = [];
  const extract = tar.extract();
  const consume = (async () => {
    for await (const entry of extract) {
      const name = entry.header.name;
      const allowed =
        entry.header.type === 'file' &&
        (name === MANIFEST_NAME || /^rows\/[a-z_][a-z0-9_]{0,62}\.ndjson$/.test(name) || (name.startsWith('files/') && isRelativeObjectKey(name.slice('files/'.length))));
      if (!allowed || entries.has(name) || entries.size >= MAX_ENTRIES) {
        problems.push({ path: name.slice(0, 200), message: !allowed ? 'unexpected entry (only manifest.json, rows/<table>.ndjson and files/<key>)' : 'duplicate or too many entries' });
        entry.resume();
        await new Promise<void>((resolve) => entry.on('end', () => resolve()));
        continue;
      }
      const target = path.join(dir, name);
      await mkdir(path.dirname(target), { recursive: true });
      const measured = new Measured();
      await pipeline(entry, measured, createWriteStream(target, { flags: 'wx', mode: 0o600 }));
      entries.set(name, { size: measured.bytes, sha256: measured.sha256() });
    }
  })();
  try {
    await Promise.all([pipeline(input, createGunzip(), extract), consume]);
  } catch (error) {
    throw new ArchiveInvalidError([{ path: '(archive)', message: `not a readable tar.gz archive (${(error as Error).message})` }]);
  }
  return { entries, problems };
}

/** The lines of a staged row file (an extracted rows/<table>.ndjson). */
export async function* linesOf(file: string): AsyncIterable<string> {
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const line of lines) if (line.length > 0) yield line;
}

/**
 * Everything an import checks before it writes anything: the manifest (format, version, shape),
 * every table in it known here with every column it names, every tenant table of this database
 * present in it (an archive from an older schema would silently leave a table empty), each row
 * file's count and canonical checksum, each file's size and sha256, and no entry the manifest
 * does not list. Returns the manifest when there is no problem; throws ArchiveInvalidError listing
 * all of them otherwise.
 */
export async function verifyArchive(dir: string, extracted: { entries: ExtractedEntries; problems: ArchiveProblem[] }, catalog: readonly CatalogTenantTable[]): Promise<ArchiveManifest> {
  const problems = [...extracted.problems];
  if (!extracted.entries.has(MANIFEST_NAME)) throw new ArchiveInvalidError([...problems, { path: MANIFEST_NAME, message: 'missing' }]);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path.join(dir, MANIFEST_NAME), 'utf8'));
  } catch {
    throw new ArchiveInvalidError([...problems, { path: MANIFEST_NAME, message: 'not JSON' }]);
  }
  const version = (raw as { version?: unknown } | null)?.version;
  if (version !== ARCHIVE_FORMAT_VERSION) {
    throw new ArchiveInvalidError([...problems, { path: `${MANIFEST_NAME}#version`, message: `format version ${JSON.stringify(version)} is not supported (this build reads ${ARCHIVE_FORMAT_VERSION})` }]);
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ArchiveInvalidError([...problems, ...parsed.error.issues.slice(0, 20).map((issue) => ({ path: `${MANIFEST_NAME}#${issue.path.join('.')}`, message: issue.message }))]);
  }
  const manifest = parsed.data;
  const known = new Map(catalog.map((table) => [table.name, table]));
  const listed = new Set<string>([MANIFEST_NAME]);
  for (const table of manifest.tables) {
    const entry = rowsEntry(table.name);
    listed.add(entry);
    const here = known.get(table.name);
    if (!here) {
      problems.push({ path: entry, message: `no tenant table "${table.name}" in this database` });
      continue;
    }
    const unknownColumns = table.columns.filter((column) => !here.columns.includes(column));
    if (unknownColumns.length) problems.push({ path: entry, message: `unknown column(s): ${unknownColumns.join(', ')}` });
    if (!extracted.entries.has(entry)) {
      problems.push({ path: entry, message: 'missing' });
      continue;
    }
    const sum = new TableChecksum(manifest.tenant.id);
    let malformed = 0;
    for await (const line of linesOf(path.join(dir, entry))) {
      try {
        const row = JSON.parse(line) as unknown;
        if (typeof row !== 'object' || row === null || Array.isArray(row)) malformed++;
      } catch {
        malformed++;
      }
      sum.add(line);
    }
    if (malformed) problems.push({ path: entry, message: `${malformed} line(s) are not JSON objects` });
    if (sum.count !== table.count) problems.push({ path: entry, message: `${sum.count} rows, the manifest says ${table.count}` });
    const digest = sum.digest();
    if (digest !== table.checksum) problems.push({ path: entry, message: 'checksum mismatch' });
  }
  for (const table of catalog) {
    if (!manifest.tables.some((entry) => entry.name === table.name)) problems.push({ path: rowsEntry(table.name), message: `the archive has no rows file for tenant table "${table.name}"` });
  }
  for (const file of manifest.files) {
    const entry = fileEntry(file.key);
    listed.add(entry);
    const found = extracted.entries.get(entry);
    if (!found) problems.push({ path: entry, message: 'missing' });
    else if (found.size !== file.size || found.sha256 !== file.sha256) problems.push({ path: entry, message: 'size or sha256 mismatch' });
  }
  for (const name of extracted.entries.keys()) if (!listed.has(name)) problems.push({ path: name, message: 'not listed in the manifest' });
  if (problems.length) throw new ArchiveInvalidError(problems);
  return manifest;
}

/** The manifest's tables as TenantRows' summaries (what a restore must reproduce). */
export function expectedTables(manifest: ArchiveManifest): TableSummary[] {
  return manifest.tables.map((table) => ({ name: table.name, columns: table.columns, count: table.count, checksum: table.checksum }));
}
