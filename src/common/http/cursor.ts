import { z } from 'zod';
import { AppError } from '../errors/app-error';
import { ErrorCode } from '../errors/error-codes';

/**
 * Opaque keyset cursor: the sort key of the last item returned. Base64url so
 * clients treat it as a token; tampering only moves the position inside the
 * caller's own tenant (every query is tenant-scoped), so it needs no signature.
 */
const cursorSchema = z.strictObject({ t: z.iso.datetime({ offset: true }), id: z.uuid() });
export type Cursor = { createdAt: Date; id: string };

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify({ t: cursor.createdAt.toISOString(), id: cursor.id })).toString('base64url');
}

export function decodeCursor(token: string | undefined): Cursor | undefined {
  if (token === undefined) return undefined;
  try {
    const parsed = cursorSchema.parse(JSON.parse(Buffer.from(token, 'base64url').toString('utf8')));
    return { createdAt: new Date(parsed.t), id: parsed.id };
  } catch {
    throw new AppError(ErrorCode.InvalidCursor, 'The cursor is not valid', [{ path: 'cursor', message: 'Invalid cursor' }]);
  }
}

export const paginationQuery = {
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(200).optional(),
};

/** The response schema of a keyset-paginated list (GET /openapi.json), registered as the component `id`. */
export function pageOf<T extends z.ZodType>(item: T, id: string) {
  return z
    .object({ items: z.array(item), nextCursor: z.string().nullable().meta({ description: 'Opaque; pass as `cursor` for the next page. null on the last page.' }) })
    .meta({ id });
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

type CursorKey = { createdAt: Date; id: string };

/**
 * Callers fetch limit + 1 rows; the extra row only says whether another page exists. `keyOf`: the
 * row's keyset position, for lists ordered by another timestamp than createdAt (reports by startedAt).
 */
export function toPage<T extends CursorKey, R>(rows: T[], limit: number, map: (row: T) => R): Page<R>;
export function toPage<T extends { id: string }, R>(rows: T[], limit: number, map: (row: T) => R, keyOf: (row: T) => CursorKey): Page<R>;
export function toPage<T extends { id: string }, R>(rows: T[], limit: number, map: (row: T) => R, keyOf = (row: T) => row as unknown as CursorKey): Page<R> {
  const hasMore = rows.length > limit;
  const items = hasMore ? rows.slice(0, limit) : rows;
  const last = items[items.length - 1];
  return { items: items.map(map), nextCursor: hasMore && last ? encodeCursor(keyOf(last)) : null };
}
