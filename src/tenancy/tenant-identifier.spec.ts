import { AppError } from '../common/errors/app-error';
import { effectiveHost, parseTenantHeader, tenantSlugFromHost } from './tenant-identifier';

describe('parseTenantHeader', () => {
  it('reads a UUID (lower-cased) or a slug', () => {
    expect(parseTenantHeader('6F1C2B1E-1111-4222-8333-444455556666')).toEqual({ kind: 'id', value: '6f1c2b1e-1111-4222-8333-444455556666' });
    expect(parseTenantHeader(' acme-corp ')).toEqual({ kind: 'slug', value: 'acme-corp' });
    expect(parseTenantHeader(undefined)).toBeUndefined();
  });

  it.each([['acme,globex'], ['acme, acme'], [''], ['Acme'], ['ac'], ['-acme'], ['acme-'], ['a'.repeat(64)], ['acme/../x'], ['acme\u0000']])(
    'rejects %j with TENANT_HEADER_INVALID',
    (value) => {
      expect(() => parseTenantHeader(value)).toThrow(AppError);
      try {
        parseTenantHeader(value);
      } catch (error) {
        expect((error as AppError).code).toBe('TENANT_HEADER_INVALID');
      }
    },
  );

  it('rejects an array of values', () => {
    expect(() => parseTenantHeader(['acme', 'acme'])).toThrow(/exactly one/);
  });
});

describe('tenantSlugFromHost', () => {
  const base = 'example.com';

  it.each([
    ['acme.example.com', 'acme'],
    ['ACME.Example.COM', 'acme'],
    ['acme.example.com.', 'acme'],
    ['acme.example.com:8443', 'acme'],
    ['acme.example.com.:8443', 'acme'],
  ])('%s -> %s', (host, slug) => {
    expect(tenantSlugFromHost(host, base)).toBe(slug);
  });

  it.each([['example.com'], ['acme.example.org'], ['acmeexample.com'], ['a.acme.example.com'], ['www.example.com'], ['[::1]:3000'], ['127.0.0.1:3000'], [undefined]])(
    '%s is not a tenant host',
    (host) => {
      expect(tenantSlugFromHost(host, base)).toBeUndefined();
    },
  );

  it('is off without a base domain', () => {
    expect(tenantSlugFromHost('acme.example.com', undefined)).toBeUndefined();
  });

  it('rejects a subdomain that cannot be a slug', () => {
    expect(() => tenantSlugFromHost('a_b.example.com', base)).toThrow(AppError);
  });
});

describe('effectiveHost (X-Forwarded-Host behind trusted proxies)', () => {
  const host = 'host.example.com';

  it('is the Host header when no proxy is trusted, whatever X-Forwarded-Host says', () => {
    expect(effectiveHost(host, 'acme.example.com', 0)).toBe(host);
    expect(effectiveHost(host, 'evil.example.com, acme.example.com', 0)).toBe(host);
  });

  it('is the Host header when a trusted proxy sent no X-Forwarded-Host, or an empty one', () => {
    expect(effectiveHost(host, undefined, 1)).toBe(host);
    expect(effectiveHost(host, '', 1)).toBe(host);
    expect(effectiveHost(host, ' ', 1)).toBe(host);
  });

  it('takes the entry the outermost trusted proxy appended, never one to its left', () => {
    // One trusted proxy: what it appended (the last entry); what the client sent before it is ignored.
    expect(effectiveHost(host, 'acme.example.com', 1)).toBe('acme.example.com');
    expect(effectiveHost(host, 'evil.example.com, acme.example.com', 1)).toBe('acme.example.com');
    // Two trusted proxies: the outer one's entry, not the inner one's (which names the outer proxy's upstream).
    expect(effectiveHost(host, 'evil.example.com, acme.example.com, backend.internal', 2)).toBe('acme.example.com');
    expect(effectiveHost(host, ['evil.example.com, acme.example.com', 'backend.internal'], 2)).toBe('acme.example.com');
  });

  it('takes the leftmost entry when there are fewer entries than trusted proxies', () => {
    expect(effectiveHost(host, 'acme.example.com', 3)).toBe('acme.example.com');
  });
});
