import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ClientConfig,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Logger } from '@nestjs/common';
import { Readable } from 'node:stream';
import { PresignOptions, PutOptions, StorageDriver, StorageObjectMissingError, StoredObject, StorageUnavailableError } from './storage-driver';
import type { AppConfig } from '../config/app-config';

/** Exactly the validated S3 settings (AppConfig.storage.s3). */
export type S3DriverOptions = NonNullable<AppConfig['storage']['s3']>;

const nestLogger = new Logger('S3');
const sdkLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (...content: unknown[]) => nestLogger.debug(content.map(String).join(' ')),
  error: (...content: unknown[]) => nestLogger.warn(content.map(String).join(' ')),
};

/** S3's minimum part size is 5 MiB; 8 MiB bounds memory per chunked upload. */
const PART_SIZE = 8 * 1024 * 1024;
const DELETE_BATCH = 1000;

/**
 * S3 or any S3-compatible server (MinIO, s3rver) through @aws-sdk/client-s3.
 * - Checksums only WHEN_REQUIRED: with the SDK's default, streamed bodies are
 *   sent with aws-chunked framing that several S3-compatible servers store as
 *   data (README, "Toolchain facts").
 * - Uploads with a known length stream straight through in one PutObject;
 *   chunked uploads go part by part (multipart, aborted on failure), so a
 *   failed upload never leaves an object.
 * - Streaming puts use a client without retries: a consumed stream cannot be
 *   sent again, and a retry would hang waiting for bytes that never come.
 * - Every failure except "no such key" is a StorageUnavailableError (503).
 */
export class S3StorageDriver implements StorageDriver {
  readonly name = 's3' as const;
  private readonly client: S3Client;
  private readonly streamingClient: S3Client;
  private readonly bucket: string;

  constructor(options: S3DriverOptions) {
    const config: S3ClientConfig = {
      region: options.region,
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle,
      credentials: options.credentials,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: Math.min(options.requestTimeoutMs, 5_000), requestTimeout: options.requestTimeoutMs },
      // The SDK would otherwise console.warn on some failures; they are handled (503) and logged by callers.
      logger: sdkLogger,
    };
    this.client = new S3Client({ ...config, maxAttempts: 2 });
    this.streamingClient = new S3Client({ ...config, maxAttempts: 1 });
    this.bucket = options.bucket;
  }

  async put(key: string, body: Readable, options: PutOptions): Promise<void> {
    try {
      if (options.contentLength !== undefined) {
        await this.streamingClient.send(
          new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentLength: options.contentLength, ContentType: options.contentType }),
        );
        return;
      }
      await this.putInParts(key, body, options.contentType);
    } catch (error) {
      throw this.failure(error, body);
    }
  }

  async open(key: string): Promise<{ body: Readable; size: number }> {
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return { body: response.Body as Readable, size: response.ContentLength ?? 0 };
    } catch (error) {
      if (isMissing(error)) throw new StorageObjectMissingError(key);
      throw this.failure(error);
    }
  }

  async delete(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      try {
        const response = await this.client.send(
          new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
        );
        if (response.Errors?.length) throw new Error(`${response.Errors.length} object(s) not deleted: ${response.Errors[0].Code}`);
      } catch (error) {
        throw this.failure(error);
      }
    }
  }

  /** ListObjectsV2 with the prefix as given: callers pass prefixes ending with '/'. */
  async *list(prefix: string): AsyncIterable<StoredObject> {
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      } catch (error) {
        throw this.failure(error);
      }
      for (const object of page.Contents ?? []) {
        if (object.Key) yield { key: object.Key, size: object.Size ?? 0 };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async deleteByPrefix(prefix: string): Promise<number> {
    const keys: string[] = [];
    for await (const object of this.list(prefix)) keys.push(object.key);
    await this.delete(keys);
    return keys.length;
  }

  async presignGet(key: string, options: PresignOptions): Promise<string> {
    // Signing is local (no request): it cannot fail because S3 is down.
    return getSignedUrl(
      this.client,
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: key,
        ResponseContentDisposition: options.contentDisposition,
        ResponseContentType: options.contentType,
      }),
      { expiresIn: options.expiresInSeconds },
    );
  }

  async ping(signal: AbortSignal): Promise<void> {
    // HeadBucket: no body, no object; a 403/404 here is as much "not usable" as a refused connection.
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: signal });
  }

  async close(): Promise<void> {
    this.client.destroy();
    this.streamingClient.destroy();
  }

  private async putInParts(key: string, body: Readable, contentType: string): Promise<void> {
    const parts = readParts(body, PART_SIZE);
    const first = await parts.next();
    const second = first.done ? first : await parts.next();
    if (second.done) {
      // Small enough for one request: no multipart bookkeeping.
      const data = first.done ? Buffer.alloc(0) : first.value;
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: data, ContentLength: data.length, ContentType: contentType }));
      return;
    }
    const { UploadId } = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: contentType }));
    const completed: Array<{ ETag?: string; PartNumber: number }> = [];
    try {
      const upload = async (data: Buffer) => {
        const PartNumber = completed.length + 1;
        const { ETag } = await this.client.send(
          new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId, PartNumber, Body: data, ContentLength: data.length }),
        );
        completed.push({ ETag, PartNumber });
      };
      await upload(first.value as Buffer);
      await upload(second.value as Buffer);
      for (let part = await parts.next(); !part.done; part = await parts.next()) await upload(part.value);
      await this.client.send(
        new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId, MultipartUpload: { Parts: completed } }),
      );
    } catch (error) {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId })).catch(() => undefined);
      throw error;
    }
  }

  /** The upload stream's own error (size limit, client abort) wins over what the SDK made of it. */
  private failure(error: unknown, body?: Readable): Error {
    if (error instanceof StorageUnavailableError || error instanceof StorageObjectMissingError) return error;
    if (body?.errored) return body.errored as Error;
    const name = (error as { name?: string })?.name ?? 'Error';
    const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
    return new StorageUnavailableError(`s3: ${name}${status ? ` (${status})` : ''}: ${(error as Error)?.message ?? error}`);
  }
}

function isMissing(error: unknown): boolean {
  const name = (error as { name?: string })?.name;
  // By name only: a 404 can also mean NoSuchBucket, which is a configuration failure (503), not a missing object.
  return name === 'NoSuchKey' || name === 'NotFound';
}

/** Re-chunks a stream into buffers of exactly `size` bytes (the last one shorter). */
async function* readParts(body: Readable, size: number): AsyncGenerator<Buffer> {
  let chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body) {
    let data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    while (length + data.length >= size) {
      const take = size - length;
      chunks.push(data.subarray(0, take));
      yield Buffer.concat(chunks);
      data = data.subarray(take);
      chunks = [];
      length = 0;
    }
    if (data.length > 0) {
      chunks.push(data);
      length += data.length;
    }
  }
  if (length > 0) yield Buffer.concat(chunks);
}
