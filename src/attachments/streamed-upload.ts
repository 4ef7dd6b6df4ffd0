import { RouteConfig } from '@nestjs/platform-fastify';
import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants';
import type { IncomingMessage } from 'node:http';
import { filenameFromHeader } from './attachment-filename';

/**
 * Upload routes read the request body as a stream (never buffered, never
 * parsed, whatever its content type). On Fastify a body parser would otherwise
 * consume it (JSON and text have built-in ones, with a 1 MiB limit), so routes
 * marked @StreamedBody() get their content type swapped, in an onRequest hook,
 * for a private one whose parser leaves the stream untouched; the original is
 * kept for the handler. On Express the body policy (src/common/http/body-policy.ts)
 * lets these routes take any content type; its JSON parser still consumes an
 * upload sent as application/json (the one case that does not stream there).
 */

const STREAM_CONTENT_TYPE = 'application/x-tenancy-streamed-body';
const ORIGINAL_CONTENT_TYPE = Symbol.for('tenancy.streamed-upload.content-type');
const STREAMED_BODY_FLAG = 'streamedBody';

export const StreamedBody = () => RouteConfig({ [STREAMED_BODY_FLAG]: true });

/** Whether a controller method is marked @StreamedBody(): Express has no per-route body parsers, so its body policy asks (app.factory.ts). */
export function isStreamedBodyHandler(handler: object): boolean {
  return (Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, handler) as Record<string, unknown> | undefined)?.[STREAMED_BODY_FLAG] === true;
}

type RawRequest = IncomingMessage & { [ORIGINAL_CONTENT_TYPE]?: string | undefined };

interface FastifyLike {
  addHook(name: 'onRequest', hook: (request: { raw: RawRequest; routeOptions?: { config?: Record<string, unknown> } }) => Promise<void>): unknown;
  addContentTypeParser(type: string, parser: (request: unknown, payload: unknown, done: (error: Error | null, body?: unknown) => void) => void): unknown;
  hasContentTypeParser(type: string): boolean;
}

function isFastify(instance: unknown): instance is FastifyLike {
  const candidate = instance as Partial<FastifyLike> | undefined;
  return typeof candidate?.addContentTypeParser === 'function' && typeof candidate.addHook === 'function';
}

/** Installs the hook and parser on a Fastify instance; a no-op for other adapters. */
export function enableStreamedUploads(instance: unknown): void {
  if (!isFastify(instance) || instance.hasContentTypeParser(STREAM_CONTENT_TYPE)) return;
  instance.addContentTypeParser(STREAM_CONTENT_TYPE, (_request, _payload, done) => done(null));
  instance.addHook('onRequest', async (request) => {
    if (request.routeOptions?.config?.[STREAMED_BODY_FLAG] !== true) return;
    const headers = request.raw.headers;
    request.raw[ORIGINAL_CONTENT_TYPE] = headers['content-type'];
    headers['content-type'] = STREAM_CONTENT_TYPE;
  });
}

export interface StreamedUpload {
  body: IncomingMessage;
  contentType: string | undefined;
  /** From Content-Length; undefined for chunked bodies. */
  contentLength: number | undefined;
  filename: unknown;
}

/** The raw Node request behind either adapter's request object, plus what the upload needs from it. */
export function streamedUploadFrom(request: unknown, queryFilename: unknown): StreamedUpload {
  const raw = ((request as { raw?: RawRequest }).raw ?? request) as RawRequest;
  const contentType = ORIGINAL_CONTENT_TYPE in raw ? raw[ORIGINAL_CONTENT_TYPE] : raw.headers['content-type'];
  const lengthHeader = raw.headers['content-length'];
  const contentLength = raw.headers['transfer-encoding'] === undefined && lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
  return {
    body: raw,
    contentType,
    contentLength,
    filename: queryFilename !== undefined ? queryFilename : filenameFromHeader(raw.headers['x-filename']),
  };
}
