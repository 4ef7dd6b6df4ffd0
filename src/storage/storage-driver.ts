import { Readable } from 'node:stream';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';

export interface StoredObject {
  key: string;
  size: number;
}

export interface PutOptions {
  contentType: string;
  /** Known length (the request's Content-Length); lets S3 take the stream in one PUT. */
  contentLength?: number;
}

export interface PresignOptions {
  expiresInSeconds: number;
  contentDisposition: string;
  contentType: string;
}

/**
 * What StorageService needs from a backend. Keys and prefixes arrive fully
 * built and checked (storage-keys.ts); drivers re-check what protects them
 * (the disk driver's root). Failures other than "no such object" surface as
 * StorageUnavailableError.
 */
export interface StorageDriver {
  readonly name: 's3' | 'local';
  /** Stores the whole stream under key, or nothing: a failed put leaves no object. */
  put(key: string, body: Readable, options: PutOptions): Promise<void>;
  /** Opens an object for reading; throws StorageObjectMissingError if there is none. */
  open(key: string): Promise<{ body: Readable; size: number }>;
  /** Deletes objects; missing ones are not an error. */
  delete(keys: string[]): Promise<void>;
  /** Every object under prefix (which ends with '/'). */
  list(prefix: string): AsyncIterable<StoredObject>;
  deleteByPrefix(prefix: string): Promise<number>;
  /** A short-lived URL for one GET of one key, or undefined when the backend cannot sign. */
  presignGet(key: string, options: PresignOptions): Promise<string | undefined>;
  /** One cheap request that proves the backend answers (readiness); rejects when it does not, or on signal. */
  ping(signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** How long clients should wait before retrying after a storage failure. */
export const STORAGE_RETRY_AFTER_SECONDS = 5;

export class StorageUnavailableError extends AppError {
  constructor(readonly reason: string) {
    super(ErrorCode.StorageUnavailable, 'File storage is temporarily unavailable, retry shortly', undefined, {
      'retry-after': String(STORAGE_RETRY_AFTER_SECONDS),
    });
    this.name = 'StorageUnavailableError';
  }
}

/** A metadata row whose object is gone: an invariant breach (uploads commit the row after the object). */
export class StorageObjectMissingError extends AppError {
  constructor(readonly key: string) {
    // The message reaches the client: no key in it.
    super(ErrorCode.Internal, 'The attachment content is missing from storage');
    this.name = 'StorageObjectMissingError';
  }
}
