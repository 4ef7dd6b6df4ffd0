import { createHash } from 'node:crypto';
import { Readable, Transform, TransformCallback } from 'node:stream';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';

export class UploadTooLargeError extends AppError {
  constructor(maxBytes: number) {
    super(ErrorCode.PayloadTooLarge, `The attachment is larger than ${maxBytes} bytes`);
    this.name = 'UploadTooLargeError';
  }
}

export class UploadAbortedError extends AppError {
  constructor() {
    super(ErrorCode.MalformedRequest, 'The upload was interrupted before the body was complete');
    this.name = 'UploadAbortedError';
  }
}

/**
 * Sits between the request and the storage driver: counts bytes, computes the
 * SHA-256 and fails the stream as soon as the size limit is passed, so an
 * oversized upload is refused while streaming, with at most one chunk over the
 * limit read, and never reaches storage as a complete object.
 */
export class UploadMeter extends Transform {
  bytes = 0;
  private readonly hash = createHash('sha256');

  /** `tooLarge`: the error past maxBytes (default 413; a storage quota's cap gives 403 QUOTA_EXCEEDED). */
  constructor(
    private readonly maxBytes: number,
    private readonly tooLarge: () => AppError = () => new UploadTooLargeError(maxBytes),
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      callback(this.tooLarge());
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }

  /** Hex SHA-256 of everything that passed; call once the stream has ended. */
  digest(): string {
    return this.hash.digest('hex');
  }
}

/**
 * Pipes the request body into a meter without tying their lifetimes together:
 * when the meter fails (too large), the request is only unpiped, not destroyed,
 * so the 413 can still be sent on its socket; when the client aborts, the
 * meter fails so storage stops waiting for bytes.
 */
export function meterUpload(source: Readable, maxBytes: number, tooLarge?: () => AppError): UploadMeter {
  const meter = new UploadMeter(maxBytes, tooLarge);
  const abort = () => {
    if (!source.readableEnded && !meter.destroyed) meter.destroy(new UploadAbortedError());
  };
  source.once('aborted', abort);
  source.once('error', abort);
  source.once('close', abort);
  meter.once('error', () => source.unpipe(meter));
  source.pipe(meter);
  return meter;
}
