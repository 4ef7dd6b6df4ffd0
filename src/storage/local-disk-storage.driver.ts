import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { access, constants, mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidStorageKeyError } from './storage-keys';
import { PutOptions, StorageDriver, StorageObjectMissingError, StoredObject, StorageUnavailableError } from './storage-driver';

const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;
const PARTIAL_SUFFIX = '.partial';

/**
 * The embedded default: objects as files under DATA_DIR/files (git-ignored),
 * with the same key layout as S3. No key can leave the root: every segment is
 * checked against a strict charset (no '..', no separators, no leading dot),
 * and the resolved path must still start with the root plus a separator.
 * Writes go to a temporary file renamed into place, so a failed or oversized
 * upload never leaves a partial object under a real key.
 */
export class LocalDiskStorageDriver implements StorageDriver {
  readonly name = 'local' as const;
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /** Key or prefix -> absolute path inside the root, or InvalidStorageKeyError. */
  pathFor(keyOrPrefix: string): string {
    const trimmed = keyOrPrefix.endsWith('/') ? keyOrPrefix.slice(0, -1) : keyOrPrefix;
    const segments = trimmed.split('/');
    if (segments.some((segment) => !SEGMENT.test(segment))) throw new InvalidStorageKeyError('key', keyOrPrefix);
    const resolved = path.resolve(this.root, ...segments);
    if (!resolved.startsWith(this.root + path.sep)) throw new InvalidStorageKeyError('key', keyOrPrefix);
    return resolved;
  }

  async put(key: string, body: Readable, _options: PutOptions): Promise<void> {
    const target = this.pathFor(key);
    const temporary = `${target}.${randomUUID()}${PARTIAL_SUFFIX}`;
    try {
      await mkdir(path.dirname(target), { recursive: true });
      await pipeline(body, createWriteStream(temporary, { flags: 'wx', mode: 0o600 }));
      await rename(temporary, target);
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      throw this.unavailable(error, body);
    }
  }

  async open(key: string): Promise<{ body: Readable; size: number }> {
    const file = this.pathFor(key);
    try {
      const handle = await open(file, 'r');
      const { size } = await handle.stat();
      return { body: handle.createReadStream(), size };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new StorageObjectMissingError(key);
      throw this.unavailable(error);
    }
  }

  async delete(keys: string[]): Promise<void> {
    const files = keys.map((key) => this.pathFor(key));
    try {
      await Promise.all(files.map((file) => rm(file, { force: true })));
    } catch (error) {
      throw this.unavailable(error);
    }
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    const dir = this.pathFor(prefix);
    yield* this.walk(dir, prefix);
  }

  async deleteByPrefix(prefix: string): Promise<number> {
    const dir = this.pathFor(prefix);
    let count = 0;
    for await (const _ of this.list(prefix)) count++;
    try {
      await rm(dir, { recursive: true, force: true });
    } catch (error) {
      throw this.unavailable(error);
    }
    return count;
  }

  async presignGet(): Promise<string | undefined> {
    return undefined;
  }

  async ping(): Promise<void> {
    // mkdir: the root is otherwise created on the first write; a fresh deployment is not "down" for lacking it.
    await mkdir(this.root, { recursive: true });
    await access(this.root, constants.W_OK);
  }

  async close(): Promise<void> {
    // Nothing held open.
  }

  private async *walk(dir: string, prefix: string): AsyncIterable<StoredObject> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw this.unavailable(error);
    }
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.isDirectory()) {
        yield* this.walk(path.join(dir, entry.name), `${prefix}${entry.name}/`);
      } else if (entry.isFile() && !entry.name.endsWith(PARTIAL_SUFFIX)) {
        yield { key: `${prefix}${entry.name}`, size: (await stat(path.join(dir, entry.name))).size };
      }
    }
  }

  /** A failure caused by the upload stream itself (size limit, client abort) is rethrown as is. */
  private unavailable(error: unknown, body?: Readable): Error {
    if (error instanceof InvalidStorageKeyError || error instanceof StorageUnavailableError) return error;
    if (body && (body.errored || body.destroyed)) return (body.errored as Error) ?? (error as Error);
    return new StorageUnavailableError(`disk: ${(error as Error)?.message ?? error}`);
  }
}
