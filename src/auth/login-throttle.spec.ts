import { ACCOUNT_WIDE_FACTOR, accountAddressKey, accountKey, addressKey, clientNetwork, InMemoryLoginThrottle, MAX_THROTTLE_KEYS, ThrottleReservation } from './login-throttle';

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

  it('blocks one address guessing one account after the per-account limit, for the rest of the window', async () => {
    const ann = accountAddressKey('Ann@Example.com', '10.0.0.1');
    fail([ann], 2);
    expect(await sut.retryAfterSeconds([ann])).toBe(0);
    fail([ann], 1);
    now += 20_000;
    expect(await sut.retryAfterSeconds([accountAddressKey('ann@example.com', '10.0.0.1')])).toBe(40);
    // Positive controls: the same account from another address, and another account from this one, are not blocked.
    expect(await sut.retryAfterSeconds([accountAddressKey('ann@example.com', '10.0.0.2'), accountKey('ann@example.com')])).toBe(0);
    expect(await sut.retryAfterSeconds([accountAddressKey('bob@example.com', '10.0.0.1')])).toBe(0);
  });

  it('bounds a guess spread over many addresses with the account-wide limit (ten times higher)', async () => {
    const wide = accountKey('ann@example.com');
    const total = limits.maxFailuresPerAccount * ACCOUNT_WIDE_FACTOR;
    for (let i = 0; i < total - 1; i++) fail([accountAddressKey('ann@example.com', `10.0.1.${i}`), wide], 1);
    expect(await sut.retryAfterSeconds([wide])).toBe(0);
    fail([accountAddressKey('ann@example.com', '10.0.2.1'), wide], 1);
    expect(sut.reserveNow([accountAddressKey('ann@example.com', '10.0.3.1'), wide]).granted).toBe(false);
  });

  it('a success resets only its own (account, address) pair', async () => {
    const mine = accountAddressKey('ann@example.com', '10.0.0.1');
    const guesser = accountAddressKey('ann@example.com', '10.6.6.6');
    fail([guesser], 2);
    await sut.reset(mine);
    fail([guesser], 1);
    expect(sut.reserveNow([guesser]).granted).toBe(false);
  });

  it('never evicts a live window when full: new keys wait instead', () => {
    const victim = accountAddressKey('victim@example.com', '10.0.0.1');
    fail([victim], 3);
    for (let i = 0; sut.reserveNow([`address:flood-${i}`]).granted; i++) {
      if (i > MAX_THROTTLE_KEYS) throw new Error('the map never filled up');
    }
    expect(sut.reserveNow([victim]).granted).toBe(false); // still blocked: its window survived the flood
    expect(sut.reserveNow(['address:one-more'])).toEqual({ granted: false, retryAfterSeconds: 1 });
    // Once the windows end, a sweep makes room again.
    now += 60_000;
    expect(sut.reserveNow(['address:one-more']).granted).toBe(true);
  });

  it('keys IPv6 clients by /64 and unwraps IPv4-mapped addresses', () => {
    expect(clientNetwork('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64');
    expect(clientNetwork('2001:0db8:0001:0002::1')).toBe('2001:db8:1:2::/64');
    expect(clientNetwork('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientNetwork('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(clientNetwork('10.1.2.3')).toBe('10.1.2.3');
    expect(clientNetwork(undefined)).toBe('unknown');
    expect(addressKey('2001:db8:1:2::5')).toBe(addressKey('2001:db8:1:2:ffff::9'));
    expect(addressKey('2001:db8:1:3::5')).not.toBe(addressKey('2001:db8:1:2::5'));
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
    const keys = [accountAddressKey('ann@example.com', '10.0.0.1'), addressKey('10.0.0.1')];
    // Twenty attempts "in flight" at once: nothing released yet.
    const reservations = Array.from({ length: 20 }, () => sut.reserveNow(keys));
    expect(reservations.filter((r) => r.granted)).toHaveLength(3);
    expect(reservations.slice(3).every((r) => !r.granted && r.retryAfterSeconds === 60)).toBe(true);
    // A refused reservation counted nothing: the address (limit 5) has 3 attempts, so 2 more for another account pass.
    fail([accountAddressKey('bob@example.com', '10.0.0.1'), addressKey('10.0.0.1')], 2);
    expect(sut.reserveNow([accountAddressKey('cy@example.com', '10.0.0.1'), addressKey('10.0.0.1')]).granted).toBe(false);
  });

  it('release gives the attempt back (a success does not count), only in the window that counted it', () => {
    const keys = [accountAddressKey('ann@example.com', '10.0.0.1'), addressKey('10.0.0.1')];
    for (let i = 0; i < 10; i++) {
      const reservation = sut.reserveNow(keys);
      expect(reservation.granted).toBe(true);
      sut.releaseNow(reservation);
    }
    // Positive control: without releasing, the limit bites.
    fail(keys, 3);
    expect(sut.reserveNow(keys).granted).toBe(false);

    // A reservation from a window that has ended does not reduce the next window's count.
    const other = [accountAddressKey('bob@example.com', '10.0.0.1')];
    const old: ThrottleReservation = sut.reserveNow(other);
    now += 60_000;
    fail(other, 3);
    sut.releaseNow(old);
    expect(sut.reserveNow(other).granted).toBe(false);
    // Releasing a refused reservation is harmless.
    sut.releaseNow({ granted: false, retryAfterSeconds: 1 });
  });

  it('forgets attempts when the window ends, and on reset', async () => {
    const ann = accountAddressKey('ann@example.com', '10.0.0.1');
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
    const keys = [accountAddressKey('ann@example.com', '10.0.0.1')];
    const results = await Promise.all(Array.from({ length: 8 }, () => sut.reserve(keys)));
    expect(results.filter((r) => r.granted)).toHaveLength(3);
    await sut.release(results[0]);
    expect((await sut.reserve(keys)).granted).toBe(true);
    expect((await sut.reserve(keys)).granted).toBe(false);
  });
});
