import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { Logger } from '@nestjs/common';
import { AppError } from '../errors/app-error';
import { ErrorCode } from '../errors/error-codes';
import { errorResponse } from './error-envelope';
import { expectationFailed, headersTooLarge, malformedUrl as undecodableUrl, requestTimeout } from './framework-errors';
import { requestIdFrom } from './request-id';

/**
 * Answers that Node's HTTP server would otherwise write itself, outside any
 * framework, with a bare status line or a framework's own JSON: a request it
 * cannot parse ('clientError': header overflow, bad request line, bad header
 * or Content-Length, header timeout) and an Expect it does not support. Both
 * adapters install these, so every response the server writes carries the
 * error envelope.
 */

// These answers bypass the frameworks' hooks, so they get no access line there: this warn line stands in for it.
const logger = new Logger('HTTP');

function logAnswered(requestId: string, statusCode: number, reason: unknown): void {
  logger.warn({ msg: 'answered by the HTTP server before routing', requestId, res: { statusCode }, reason });
}

/** What Node's parser error codes mean for the client; anything else is a malformed request. */
function clientErrorFor(code: unknown): AppError {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return headersTooLarge();
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new AppError(ErrorCode.PayloadTooLarge, 'Chunk extensions are too large');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return requestTimeout();
    default:
      return new AppError(ErrorCode.MalformedRequest, 'The request is not valid HTTP/1.1');
  }
}

/** The path of the request line in the bytes the parser failed on, when it reads as one; '' otherwise. */
function pathOf(rawPacket: unknown): string {
  if (!Buffer.isBuffer(rawPacket)) return '';
  const line = /^[A-Z]{1,16} (\/[\x21-\x7e]{0,2048}) HTTP\/\d\.\d\r?\n/.exec(rawPacket.subarray(0, 2100).toString('latin1'));
  return line ? line[1] : '';
}

/**
 * Node's 'clientError' listener (Fastify's clientErrorHandler option). Like
 * Node's default: nothing is written on a reset or closed socket, or when a
 * response on it has already started (that would corrupt it); the connection
 * is closed after the answer. The request never got an id, so one is made.
 */
export function answerClientError(error: Error & { code?: unknown; rawPacket?: unknown }, socket: Duplex): void {
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const requestId = randomUUID();
  const { statusCode, headers, body } = errorResponse(clientErrorFor(error.code), requestId, pathOf(error.rawPacket));
  logAnswered(requestId, statusCode, error.code);
  const head = [`HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode] ?? 'Error'}`];
  for (const [name, value] of Object.entries({ ...headers, 'content-length': String(Buffer.byteLength(body)), connection: 'close' })) head.push(`${name}: ${value}`);
  // Closed once written: the parser has stopped, so whatever else the client sends is not read.
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`, () => socket.destroy());
}

/** Node's 'checkExpectation' listener: an Expect other than 100-continue gets 417 in the envelope (Node's default has no body). */
export function answerExpectation(request: IncomingMessage, response: ServerResponse): void {
  const requestId = requestIdFrom(request.headers['x-request-id']);
  const { statusCode, headers, body } = errorResponse(expectationFailed(), requestId, request.url);
  logAnswered(requestId, statusCode, 'unsupported Expect');
  response.writeHead(statusCode, { ...headers, connection: 'close' });
  response.end(body);
}

/**
 * Installs the listeners above on the Node server, and lets an HTTP/1.1
 * request without Host through to the application (which answers it with the
 * envelope: see hostRequired) instead of Node's body-less 400.
 * Fastify takes answerClientError as its clientErrorHandler option instead.
 */
export function installServerErrorAnswers(server: Server, options: { clientError: boolean }): void {
  if (options.clientError) server.on('clientError', answerClientError);
  server.on('checkExpectation', answerExpectation);
  // Read per request by Node (the constructor option of the same name); @types/node 20 does not declare the property.
  (server as Server & { requireHostHeader: boolean }).requireHostHeader = false;
}

/** RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400. Returns the error, or undefined when the request is fine. */
export function hostRequired(request: IncomingMessage): AppError | undefined {
  if (request.httpVersionMajor === 1 && request.httpVersionMinor === 1 && !request.headers.host) {
    return new AppError(ErrorCode.MalformedRequest, 'An HTTP/1.1 request needs a Host header');
  }
  return undefined;
}

/** Fastify's router refuses a path that does not percent-decode (FST_ERR_BAD_URL); the same check for Express. */
export function malformedUrl(request: IncomingMessage): AppError | undefined {
  const path = String(request.url ?? '').split('?')[0];
  try {
    decodeURI(path);
    return undefined;
  } catch {
    return undecodableUrl();
  }
}
