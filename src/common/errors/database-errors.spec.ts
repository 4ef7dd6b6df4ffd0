import { isConnectionException, mapDatabaseError } from './database-errors';

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

/** What a transaction-mode pooler (PgBouncer) answers when it, not the statement, fails. */
describe('mapDatabaseError: pooler and connection failures', () => {
  const poolerError = (code: string, message: string) => Object.assign(new Error(message), { code, severity: 'FATAL' });

  it.each([
    ['08P01', 'no more connections allowed (max_client_conn)'],
    ['08P01', 'query_wait_timeout'],
    ['08P01', 'server login has been failing, try again later (server_login_retry)'],
    ['08P01', 'pgbouncer cannot connect to server'],
    ['08P01', 'server conn crashed?'],
    ['08006', 'connection failure'],
    ['08001', 'could not establish connection'],
  ])('maps SQLSTATE %s (%s) to 503 with Retry-After, bare or wrapped by drizzle', (code, message) => {
    for (const error of [poolerError(code, message), Object.assign(new Error('Failed query: select 1'), { cause: poolerError(code, message) })]) {
      const mapped = mapDatabaseError(error);
      expect(mapped?.code).toBe('SERVICE_UNAVAILABLE');
      expect(mapped?.headers).toEqual({ 'retry-after': '1' });
      expect(mapped?.message).not.toContain(message);
    }
  });

  it.each([
    [Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
    [Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })],
    [Object.assign(new Error('connect EHOSTUNREACH 10.0.0.9:6432'), { code: 'EHOSTUNREACH' })],
    [Object.assign(new Error('connect ENETUNREACH 10.0.0.9:6432'), { code: 'ENETUNREACH' })],
    [new Error('Connection terminated unexpectedly')],
    [new Error('Client has encountered a connection error and is not queryable')],
    [new Error('Query read timeout')],
  ])('maps a connection the pooler closed or stalled to 503 with Retry-After (%#)', (error) => {
    expect(mapDatabaseError(error)?.headers).toEqual({ 'retry-after': '1' });
  });

  it('tells connection exceptions (class 08) from statement errors', () => {
    expect(isConnectionException(poolerError('08P01', 'query_wait_timeout'))).toBe(true);
    expect(isConnectionException(pgError('23505'))).toBe(false);
    // The class is read from a SQLSTATE only, never from a socket error code that happens to start with 08.
    expect(isConnectionException(Object.assign(new Error('x'), { code: '08P01' }))).toBe(false);
    expect(mapDatabaseError(pgError('08P01'))?.code).toBe('SERVICE_UNAVAILABLE'); // positive control of the same shape
  });
});
