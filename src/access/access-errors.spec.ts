import { mapDatabaseError } from '../common/errors/database-errors';
import { AccessClaim, tagWithClaim } from '../tenancy/tenant-context';
import { claimRefusal } from './access-errors';

const claim = (): AccessClaim => ({ kind: 'user', id: '0b7e2a4c-1d3f-4a5b-9c8d-7e6f5a4b3c2d', role: 'member', confirmed: false });
const pgError = (code: string) => Object.assign(new Error('refused'), { code, severity: 'ERROR' });

describe('claimRefusal', () => {
  it("gives the guard's answer for a refusal of the request's own claim, directly or as a driver error's cause", () => {
    const own = claim();
    const error = pgError('TA403');
    tagWithClaim(error, own);
    expect(claimRefusal(error, own)?.code).toBe('TENANT_ACCESS_DENIED');
    expect(claimRefusal(Object.assign(new Error('Failed query'), { cause: error }), own)?.code).toBe('TENANT_ACCESS_DENIED');
    const key = pgError('TA401');
    tagWithClaim(key, own);
    expect(claimRefusal(key, own)?.headers?.['www-authenticate']).toContain('invalid_token');
    const lowered = pgError('TA409');
    tagWithClaim(lowered, own);
    expect(claimRefusal(lowered, own)?.code).toBe('ACCESS_CHANGED');
  });

  it("is not the answer for another request's claim (a shared cache load): that one is a 503 to retry", () => {
    const error = pgError('TA403');
    tagWithClaim(error, claim());
    expect(claimRefusal(error, claim())).toBeUndefined();
    expect(claimRefusal(pgError('TA403'), claim())).toBeUndefined();
    expect(mapDatabaseError(error)?.code).toBe('SERVICE_UNAVAILABLE');
  });

  it('ignores other errors', () => {
    const own = claim();
    const error = pgError('23505');
    tagWithClaim(error, own);
    expect(claimRefusal(error, own)).toBeUndefined();
    expect(claimRefusal(new Error('boom'), own)).toBeUndefined();
  });
});
