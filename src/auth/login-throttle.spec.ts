import { accountKey, addressKey, InMemoryLoginThrottle } from './login-throttle';

describe(InMemoryLoginThrottle.name, () => {
  let now: number;
  let sut: InMemoryLoginThrottle;
  const limits = { maxFailuresPerAccount: 3, maxFailuresPerAddress: 5, windowSeconds: 60 };

  beforeEach(() => {
    now = 1_000_000;
    sut = new InMemoryLoginThrottle(limits, () => now);
  });

  const fail = (keys: string[], times: number) => {
    for (let i = 0; i < times; i++) sut.recordFailure(keys);
  };

  it('blocks an account after its limit, for the rest of the window, whatever the address', () => {
    const ann = accountKey('Ann@Example.com');
    fail([ann, addressKey('10.0.0.1')], 2);
    expect(sut.retryAfterSeconds([ann, addressKey('10.0.0.9')])).toBe(0);
    sut.recordFailure([ann, addressKey('10.0.0.2')]);
    now += 20_000;
    expect(sut.retryAfterSeconds([accountKey('ann@example.com'), addressKey('10.0.0.9')])).toBe(40);
    // Positive control: another account from the same addresses is not blocked.
    expect(sut.retryAfterSeconds([accountKey('bob@example.com'), addressKey('10.0.0.1')])).toBe(0);
  });

  it('blocks an address after its limit, across accounts', () => {
    const address = addressKey('10.0.0.1');
    for (let i = 0; i < 4; i++) sut.recordFailure([accountKey(`user${i}@example.com`), address]);
    expect(sut.retryAfterSeconds([accountKey('new@example.com'), address])).toBe(0);
    sut.recordFailure([accountKey('user4@example.com'), address]);
    expect(sut.retryAfterSeconds([accountKey('new@example.com'), address])).toBe(60);
    expect(sut.retryAfterSeconds([accountKey('new@example.com'), addressKey('10.0.0.2')])).toBe(0);
  });

  it('forgets failures when the window ends, and on reset', () => {
    const ann = accountKey('ann@example.com');
    fail([ann], 3);
    expect(sut.retryAfterSeconds([ann])).toBeGreaterThan(0);
    now += 60_000;
    expect(sut.retryAfterSeconds([ann])).toBe(0);
    fail([ann], 3);
    expect(sut.retryAfterSeconds([ann])).toBeGreaterThan(0);
    sut.reset(ann);
    expect(sut.retryAfterSeconds([ann])).toBe(0);
  });
});
