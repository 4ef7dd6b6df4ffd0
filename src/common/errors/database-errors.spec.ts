import { mapDatabaseError } from './database-errors';

const pgError = (code: string) => Object.assign(new Error('duplicate key value violates unique constraint "tenants_slug_key"'), { code, severity: 'ERROR' });

describe('mapDatabaseError', () => {
  it.each([
    ['23505', 'CONFLICT'],
    ['23503', 'CONFLICT'],
    ['23514', 'VALIDATION_FAILED'],
    ['22P02', 'VALIDATION_FAILED'],
    ['57014', 'SERVICE_UNAVAILABLE'],
  ])('maps SQLSTATE %s to %s without the server message', (code, expected) => {
    const mapped = mapDatabaseError(pgError(code));
    expect(mapped?.code).toBe(expected);
    expect(mapped?.message).not.toMatch(/tenants_slug_key|constraint|duplicate/);
  });

  it('unwraps drizzle query errors (cause)', () => {
    expect(mapDatabaseError(Object.assign(new Error('Failed query: insert ...'), { cause: pgError('23505') }))?.code).toBe('CONFLICT');
  });

  it('leaves unknown and non-database errors to the 500 path', () => {
    expect(mapDatabaseError(pgError('XX000'))).toBeUndefined();
    expect(mapDatabaseError(new Error('boom'))).toBeUndefined();
    expect(mapDatabaseError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBeUndefined();
  });
});
