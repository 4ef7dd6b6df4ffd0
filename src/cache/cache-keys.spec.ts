import { escapeGlob, InvalidCacheKeyError, keyPart, platformKey, prefixPattern, tenantKey, tenantKeyPrefix, tenantVersionKey } from './cache-keys';

/** Redis glob semantics for the subset the patterns use (`*`, `?`, `[...]`, `\` escapes), to check patterns offline. */
function globMatches(pattern: string, value: string): boolean {
  let regex = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') regex += `\\${pattern[++i]}`;
    else if (c === '*') regex += '.*';
    else if (c === '?') regex += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i);
      regex += pattern.slice(i, end + 1);
      i = end;
    } else regex += c.replace(/[.+^${}()|]/g, '\\$&');
  }
  return new RegExp(`^${regex}$`, 's').test(value);
}

describe('cache keys', () => {
  const tenant = '3f1c2a4e-9b7d-4c61-8e2f-0a1b2c3d4e5f';

  it('builds tenant keys as t:{<id>}:<namespace>:<key>', () => {
    expect(tenantKey(tenant, 'documents', 'doc.abc')).toBe(`t:{${tenant}}:documents:doc.abc`);
    expect(tenantVersionKey(tenant, 'documents')).toBe(`t:{${tenant}}:documents:#v`);
    expect(platformKey('tenant-lookup', 'slug.acme')).toBe('p:tenant-lookup:slug.acme');
  });

  it('rejects tenant ids outside the UUID charset (positive control: a UUID and "abc" pass)', () => {
    expect(() => tenantKeyPrefix(tenant)).not.toThrow();
    expect(() => tenantKeyPrefix('abc')).not.toThrow();
    for (const bad of ['', 'ab:c', 'a}b', 'a{b', 'a*', 'a?', 'a[b]', 'A', 'x'.repeat(37), 'abc\\']) {
      expect(() => tenantKeyPrefix(bad)).toThrow(InvalidCacheKeyError);
    }
  });

  it('rejects namespaces and keys that could carry a delimiter or a glob (positive control beside)', () => {
    expect(() => tenantKey(tenant, 'documents', 'list.20.-.-')).not.toThrow();
    for (const key of ['a:b', 'a}b', '{a', 'a*', 'a?', '[a]', 'a\\b', 'a b', '#v', '', 'é']) {
      expect(() => tenantKey(tenant, 'documents', key)).toThrow(InvalidCacheKeyError);
    }
    for (const namespace of ['Documents', 'a:b', 'a*', '', '1abc', 'a.b']) {
      expect(() => tenantKey(tenant, namespace, 'k')).toThrow(InvalidCacheKeyError);
    }
  });

  it("the purge pattern of tenant abc matches abc's keys and none of abcd's", () => {
    const pattern = prefixPattern(tenantKeyPrefix('abc'));
    expect(pattern).toBe('t:{abc}:*');
    expect(globMatches(pattern, tenantKey('abc', 'documents', 'doc.1'))).toBe(true);
    expect(globMatches(pattern, tenantVersionKey('abc', 'documents'))).toBe(true);
    expect(globMatches(pattern, tenantKey('abcd', 'documents', 'doc.1'))).toBe(false);
    expect(globMatches(pattern, tenantKey('ab', 'documents', 'doc.1'))).toBe(false);
    expect(globMatches(pattern, platformKey('tenant-lookup', 'id.abc'))).toBe(false);
  });

  it('only purges whole tenant prefixes', () => {
    expect(() => prefixPattern('t:{abc}:')).not.toThrow();
    for (const prefix of ['', 't:', 't:{abc}', 't:{abc', 'p:', 't:{*}:', 't:{abc}:documents:']) {
      expect(() => prefixPattern(prefix)).toThrow(InvalidCacheKeyError);
    }
  });

  it('escapes glob metacharacters', () => {
    expect(escapeGlob('a*b?c[d]e\\f')).toBe('a\\*b\\?c\\[d\\]e\\\\f');
    expect(globMatches(`${escapeGlob('a*')}*`, 'a*x')).toBe(true);
    expect(globMatches(`${escapeGlob('a*')}*`, 'abx')).toBe(false);
  });

  it('turns arbitrary text into a safe, distinct key part', () => {
    const parts = ['tag:with:colons', '*', 'a b', '', 'é'].map(keyPart);
    for (const part of parts) expect(() => tenantKey(tenant, 'documents', `list.${part}`)).not.toThrow();
    expect(new Set(parts).size).toBe(parts.length);
  });

  it('keeps long parts bounded (a digest) and still distinct', () => {
    const long = ['漢'.repeat(50), '漢'.repeat(49) + '字', 'x'.repeat(10_000)].map(keyPart);
    for (const part of long) {
      expect(part).toMatch(/^h\.[A-Za-z0-9_-]{43}$/);
      // The longest key the documents list composes: version token + limit + cursor + tag.
      expect(() => tenantKey(tenant, 'documents', `${'v'.repeat(12)}.list.100.${'c'.repeat(120)}.${part}`)).not.toThrow();
    }
    expect(new Set(long).size).toBe(long.length);
    // Positive control: short values stay readable base64url.
    expect(keyPart('plan')).toBe(Buffer.from('plan').toString('base64url'));
  });
});
