import { compileTrustProxy, trustedProxyCount } from './trust-proxy';

describe('compileTrustProxy', () => {
  it('true trusts every hop, false none', () => {
    expect(compileTrustProxy(true)('203.0.113.9', 5)).toBe(true);
    expect(compileTrustProxy(false)('127.0.0.1', 0)).toBe(false);
  });

  it('a hop count trusts that many hops, whatever the address', () => {
    const two = compileTrustProxy(2);
    expect([0, 1, 2].map((hop) => two('203.0.113.9', hop))).toEqual([true, true, false]);
    expect(compileTrustProxy(0)('127.0.0.1', 0)).toBe(false);
  });

  it('a list trusts the addresses and subnets it names, and nothing else', () => {
    const trust = compileTrustProxy('127.0.0.1, 10.0.0.0/8,192.168.1.0/255.255.255.0, fd00::/8, ::1');
    for (const address of ['127.0.0.1', '::ffff:127.0.0.1', '10.200.3.4', '::ffff:10.0.0.5', '192.168.1.77', 'fd12::1', '::1']) {
      expect({ address, trusted: trust(address, 0) }).toEqual({ address, trusted: true });
    }
    for (const address of ['127.0.0.2', '11.0.0.1', '192.168.2.1', 'fe80::1', '203.0.113.9', 'unknown', '', 'acme.example.test']) {
      expect({ address, trusted: trust(address, 0) }).toEqual({ address, trusted: false });
    }
  });

  it('refuses entries that are not addresses or subnets (boot fails, as the frameworks would)', () => {
    for (const setting of ['1.2.3', '10.0.0.0/33', '10.0.0.0/255.0.255.0', '10.0.0.0/8/1', 'fd00::/129']) {
      expect(() => compileTrustProxy(setting)).toThrow(TypeError);
    }
  });
});

describe('trustedProxyCount', () => {
  const trust = compileTrustProxy('127.0.0.1, 10.0.0.0/8');

  it('is 0 when the peer is not trusted, whatever X-Forwarded-For says', () => {
    expect(trustedProxyCount('203.0.113.9', undefined, trust)).toBe(0);
    expect(trustedProxyCount('203.0.113.9', '10.0.0.1, 127.0.0.1', trust)).toBe(0);
    expect(trustedProxyCount(undefined, '10.0.0.1', trust)).toBe(0);
  });

  it('counts the peer and the X-Forwarded-For entries right to left up to the first untrusted one', () => {
    expect(trustedProxyCount('127.0.0.1', undefined, trust)).toBe(1);
    expect(trustedProxyCount('127.0.0.1', '203.0.113.9', trust)).toBe(1);
    expect(trustedProxyCount('127.0.0.1', '203.0.113.9, 10.0.0.5', trust)).toBe(2);
    expect(trustedProxyCount('127.0.0.1', ['10.0.0.6, 203.0.113.9', '10.0.0.5'], trust)).toBe(2);
    // An untrusted hop ends the walk: a trusted-looking address to its left was written by the client.
    expect(trustedProxyCount('127.0.0.1', '10.0.0.7, 198.51.100.5', trust)).toBe(1);
    expect(trustedProxyCount('127.0.0.1', 'garbage', trust)).toBe(1);
    expect(trustedProxyCount('127.0.0.1', '10.0.0.7, 10.0.0.5', trust)).toBe(3);
  });

  it('passes the hop index to a hop count', () => {
    expect(trustedProxyCount('203.0.113.1', '203.0.113.3, 203.0.113.2', compileTrustProxy(2))).toBe(2);
  });
});
