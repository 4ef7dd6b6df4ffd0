import { BlockList, isIP } from 'node:net';

/** TRUST_PROXY as parsed by the env schema: true, false, a hop count, or a comma-separated list of addresses/CIDRs. */
export type TrustProxySetting = boolean | number | string;

/** Whether the address at `hop` (0: the socket peer, then X-Forwarded-For right to left) is a trusted proxy. */
export type TrustProxyFn = (address: string, hop: number) => boolean;

/**
 * TRUST_PROXY as a function, with the semantics both HTTP frameworks give it
 * (proxy-addr's compile, which decides the client address behind @Ip()):
 * true trusts every hop, false none, a number that many hops, a list the
 * addresses and subnets it names (IPv4-mapped IPv6 addresses match their IPv4
 * form). Neither Fastify nor Express exposes the function it compiled, so the
 * tenant host (X-Forwarded-Host) is judged with this one.
 */
export function compileTrustProxy(setting: TrustProxySetting): TrustProxyFn {
  if (setting === true) return () => true;
  if (setting === false) return () => false;
  if (typeof setting === 'number') return (_address, hop) => hop < setting;
  const trusted = new BlockList();
  for (const entry of setting.split(',').map((part) => part.trim()).filter(Boolean)) {
    const [address, range, extra] = entry.split('/');
    const family = isIP(address);
    if (!family || extra !== undefined) throw new TypeError(`TRUST_PROXY: "${entry}" is not an IP address or subnet`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (range === undefined) trusted.addAddress(address, type);
    else trusted.addSubnet(address, prefixLength(range, family, entry), type);
  }
  return (address) => isIP(address) !== 0 && trusted.check(address, isIP(address) === 4 ? 'ipv4' : 'ipv6');
}

/** "/24" or an IPv4 netmask ("/255.255.255.0"), as proxy-addr accepts. */
function prefixLength(range: string, family: number, entry: string): number {
  if (/^\d{1,3}$/.test(range) && Number(range) <= (family === 4 ? 32 : 128)) return Number(range);
  if (family === 4 && isIP(range) === 4) {
    const bits = range.split('.').map((octet) => Number(octet).toString(2).padStart(8, '0')).join('');
    if (/^1*0*$/.test(bits)) return bits.indexOf('0') === -1 ? 32 : bits.indexOf('0');
  }
  throw new TypeError(`TRUST_PROXY: "${entry}" has an invalid prefix or netmask`);
}

/**
 * How many proxies in front of us are trusted for this request: the socket
 * peer, then the X-Forwarded-For entries right to left, up to the first one
 * `trust` refuses (the walk proxy-addr does for the client address).
 */
export function trustedProxyCount(socketAddress: string | undefined, forwardedFor: string | string[] | undefined, trust: TrustProxyFn): number {
  if (!socketAddress) return 0;
  const forwarded = forwardedFor === undefined ? [] : (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',').map((entry) => entry.trim());
  const chain = [socketAddress, ...forwarded.reverse()];
  let hop = 0;
  while (hop < chain.length && trust(chain[hop], hop)) hop++;
  return hop;
}
