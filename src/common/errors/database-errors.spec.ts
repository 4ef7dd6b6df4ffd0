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
    expect(mapDatabaseError(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBeUndefined();
  });
});

describe('mapDatabaseError: availability and encoding', () => {
  it('maps a NUL byte in text (22021) to a 400, not a 500', () => {
    expect(mapDatabaseError(pgError('22021'))?.code).toBe('VALIDATION_FAILED');
  });

  it.each([
    [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    [new Error('timeout exceeded when trying to connect')],
    [Object.assign(new Error('Failed query: select 1'), { cause: new Error('Connection terminated unexpectedly') })],
  ])('maps an unreachable or exhausted database to 503 with Retry-After (%#)', (error) => {
    const mapped = mapDatabaseError(error);
    expect(mapped?.code).toBe('SERVICE_UNAVAILABLE');
    expect(mapped?.headers).toEqual({ 'retry-after': '1' });
  });
});
