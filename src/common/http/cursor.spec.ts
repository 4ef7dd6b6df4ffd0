import { AppError } from '../errors/app-error';
import { decodeCursor, encodeCursor, toPage } from './cursor';

describe('cursor', () => {
  const cursor = { createdAt: new Date('2026-01-02T03:04:05.678Z'), id: '3b241101-e2bb-4255-8caf-4136c566a962' };

  it('round-trips', () => {
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
    expect(decodeCursor(undefined)).toBeUndefined();
  });

  it.each([['garbage'], [Buffer.from('{"t":"x","id":"y"}').toString('base64url')], [Buffer.from('{"t":"2026-01-01T00:00:00Z"}').toString('base64url')]])(
    'rejects %s with INVALID_CURSOR',
    (token) => {
      expect(() => decodeCursor(token)).toThrow(AppError);
    },
  );

  it('pages with one extra row signalling more', () => {
    const rows = [1, 2, 3].map((n) => ({ createdAt: new Date(n * 1000), id: `00000000-0000-4000-8000-00000000000${n}` }));
    const page = toPage(rows, 2, (r) => r.id);
    expect(page.items).toHaveLength(2);
    expect(decodeCursor(page.nextCursor!)).toEqual({ createdAt: rows[1].createdAt, id: rows[1].id });
    expect(toPage(rows, 3, (r) => r.id).nextCursor).toBeNull();
  });
});
