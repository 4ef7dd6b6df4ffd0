import { accountKey, addressKey, InMemoryLoginThrottle, ThrottleReservation } from './login-throttle';

describe(InMemoryLoginThrottle.name, () => {
  let now: number;
  let sut: InMemoryLoginThrottle;
  const limits = { maxFailuresPerAccount: 3, maxFailuresPerAddress: 5, windowSeconds: 60 };

  beforeEach(() => {
    now = 1_000_000;
    sut = new InMemoryLoginThrottle(limits, () => now);
  });

  /** `times` failed attempts: reserved and never released. */
  const fail = (keys: string[], times: number) => {
    for (let i = 0; i < times; i++) expect(sut.reserveNow(keys).granted).toBe(true);
  };

  it('blocks an account after its limit, for the rest of the window, whatever the address', async () => {
    const ann = accountKey('Ann@Example.com');
    fail([ann, addressKey('10.0.0.1')], 2);
    expect(await sut.retryAfterSeconds([ann, addressKey('10.0.0.9')])).toBe(0);
    fail([ann, addressKey('10.0.0.2')], 1);
    now += 20_000;
    expect(await sut.retryAfterSeconds([accountKey('ann@example.com'), addressKey('10.0.0.9')])).toBe(40);
    expect(sut.reserveNow([accountKey('ann@example.com'), addressKey('10.0.0.9')])).toEqual({ granted: false, retryAfterSeconds: 40 });
    // Positive control: another account from the same addresses is not blocked.
    expect(await sut.retryAfterSeconds([accountKey('bob@example.com'), addressKey('10.0.0.1')])).toBe(0);
  });

  it('blocks an address after its limit, across accounts', async () => {
    const address = addressKey('10.0.0.1');
    for (let i = 0; i < 4; i++) fail([accountKey(`user${i}@example.com`), address], 1);
    expect(await sut.retryAfterSeconds([accountKey('new@example.com'), address])).toBe(0);
    fail([accountKey('user4@example.com'), address], 1);
    expect(await sut.retryAfterSeconds([accountKey('new@example.com'), address])).toBe(60);
    expect(await sut.retryAfterSeconds([accountKey('new@example.com'), addressKey('10.0.0.2')])).toBe(0);
  });

  it('counts an attempt when it is reserved, so only `max` reservations are granted before any result is known', () => {
    const keys = [accountKey('ann@example.com'), addressKey('10.0.0.1')];
    // Twenty attempts "in flight" at once: nothing released yet.
    const reservations = Array.from({ length: 20 }, () => sut.reserveNow(keys));
    expect(reservations.filter((r) => r.granted)).toHaveLength(3);
    expect(reservations.slice(3).every((r) => !r.granted && r.retryAfterSeconds === 60)).toBe(true);
    // A refused reservation counted nothing: the address (limit 5) has 3 attempts, so 2 more for another account pass.
    fail([accountKey('bob@example.com'), addressKey('10.0.0.1')], 2);
    expect(sut.reserveNow([accountKey('cy@example.com'), addressKey('10.0.0.1')]).granted).toBe(false);
  });

  it('release gives the attempt back (a success does not count), only in the window that counted it', () => {
    const keys = [accountKey('ann@example.com'), addressKey('10.0.0.1')];
    for (let i = 0; i < 10; i++) {
      const reservation = sut.reserveNow(keys);
      expect(reservation.granted).toBe(true);
      sut.releaseNow(reservation);
    }
    // Positive control: without releasing, the limit bites.
    fail(keys, 3);
    expect(sut.reserveNow(keys).granted).toBe(false);

    // A reservation from a window that has ended does not reduce the next window's count.
    const other = [accountKey('bob@example.com')];
    const old: ThrottleReservation = sut.reserveNow(other);
    now += 60_000;
    fail(other, 3);
    sut.releaseNow(old);
    expect(sut.reserveNow(other).granted).toBe(false);
    // Releasing a refused reservation is harmless.
    sut.releaseNow({ granted: false, retryAfterSeconds: 1 });
  });

  it('forgets attempts when the window ends, and on reset', async () => {
    const ann = accountKey('ann@example.com');
    fail([ann], 3);
    expect(await sut.retryAfterSeconds([ann])).toBeGreaterThan(0);
    now += 60_000;
    expect(await sut.retryAfterSeconds([ann])).toBe(0);
    fail([ann], 3);
    expect(await sut.retryAfterSeconds([ann])).toBeGreaterThan(0);
    await sut.reset(ann);
    expect(await sut.retryAfterSeconds([ann])).toBe(0);
  });

  it('the async interface counts the same way (what AuthService uses)', async () => {
    const keys = [accountKey('ann@example.com')];
    const results = await Promise.all(Array.from({ length: 8 }, () => sut.reserve(keys)));
    expect(results.filter((r) => r.granted)).toHaveLength(3);
    await sut.release(results[0]);
    expect((await sut.reserve(keys)).granted).toBe(true);
    expect((await sut.reserve(keys)).granted).toBe(false);
  });
});
