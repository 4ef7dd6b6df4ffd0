import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { ArchiveInvalidError, ArchiveManifest, extractArchive, packArchive } from './tenant-archive';

describe('tenant archive (pack and extract)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'archive-spec-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const manifest = (): ArchiveManifest => ({
    format: 'tenancy-tenant-archive',
    version: 1,
    createdAt: new Date().toISOString(),
    tenant: { id: '00000000-0000-4000-8000-000000000001', slug: 'acme', name: 'Acme', plan: 'pro', database: 'shared' },
    tables: [{ name: 'documents', columns: ['id'], count: 1, checksum: '0'.repeat(64) }],
    files: [{ key: 'documents/x/y', size: 5, sha256: '0'.repeat(64) }],
  });

  it('packs the staged entries (manifest first) and extracts them with sizes and sha256', async () => {
    const staged = path.join(dir, 'staged');
    mkdirSync(path.join(staged, 'rows'), { recursive: true });
    mkdirSync(path.join(staged, 'files/documents/x'), { recursive: true });
    writeFileSync(path.join(staged, 'rows/documents.ndjson'), '{"id":"a"}\n');
    writeFileSync(path.join(staged, 'files/documents/x/y'), 'hello');
    const { stream, measured } = packArchive(staged, manifest());
    const file = path.join(dir, 'a.tar.gz');
    await pipeline(stream, createWriteStream(file));
    expect(measured.bytes).toBe(readFileSync(file).length);
    const out = path.join(dir, 'out');
    mkdirSync(out);
    const { entries, problems } = await extractArchive(createReadStream(file), out);
    expect(problems).toEqual([]);
    expect([...entries.keys()]).toEqual(['manifest.json', 'rows/documents.ndjson', 'files/documents/x/y']);
    expect(entries.get('files/documents/x/y')).toEqual({ size: 5, sha256: '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824' });
    expect(readFileSync(path.join(out, 'rows/documents.ndjson'), 'utf8')).toBe('{"id":"a"}\n');
  });

  it('does not extract entries outside the layout (a path that climbs out, a link) and reports them; refuses what is not tar.gz', async () => {
    const pack = tar.pack();
    pack.entry({ name: '../escape.txt' }, 'x');
    pack.entry({ name: 'files/../../escape2' }, 'x');
    pack.entry({ name: 'files/documents/link', type: 'symlink', linkname: '/etc/passwd' });
    pack.entry({ name: 'rows/documents.ndjson' }, '{}\n');
    pack.finalize();
    const file = path.join(dir, 'evil.tar.gz');
    await pipeline(pack, createGzip(), createWriteStream(file));
    const out = path.join(dir, 'out');
    mkdirSync(out);
    const { entries, problems } = await extractArchive(createReadStream(file), out);
    // Positive control: the one allowed entry was extracted.
    expect([...entries.keys()]).toEqual(['rows/documents.ndjson']);
    expect(problems.map((p) => p.path)).toEqual(['../escape.txt', 'files/../../escape2', 'files/documents/link']);
    expect(() => readFileSync(path.join(dir, 'escape.txt'))).toThrow();
    await expect(extractArchive(Readable.from([Buffer.from('not gzip at all')]), out)).rejects.toBeInstanceOf(ArchiveInvalidError);
  });
});
