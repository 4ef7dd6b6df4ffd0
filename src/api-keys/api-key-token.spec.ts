import { sha256Hex } from '../common/crypto/secret-token';
import { isApiKeyLike, newApiKey, parseApiKey } from './api-key-token';

describe('API key format', () => {
  const keyId = '0b7e2a4c-1d3f-4a5b-9c8d-7e6f5a4b3c2d';
  const tenantId = 'f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9';

  it('round-trips the key id and the tenant id, and stores only a hash', () => {
    const { key, prefix, secretHash } = newApiKey(keyId, tenantId);
    expect(key).toMatch(/^tk_[0-9a-f]{32}_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$/);
    expect(key.startsWith(prefix)).toBe(true);
    expect(prefix).toBe('tk_0b7e2a4c');
    expect(parseApiKey(key)).toEqual({ keyId, tenantId });
    expect(secretHash).toBe(sha256Hex(key));
    expect(secretHash).not.toContain(key.slice(-43));
    expect(isApiKeyLike(key)).toBe(true);
  });

  it('gives a fresh secret every time', () => {
    expect(newApiKey(keyId, tenantId).key).not.toBe(newApiKey(keyId, tenantId).key);
  });

  it('refuses anything that is not exactly the format', () => {
    const { key } = newApiKey(keyId, tenantId);
    expect(parseApiKey(key)).toBeDefined(); // positive control
    for (const bad of [key + 'x', key.slice(0, -1), key.replace('tk_', 'tx_'), key.toUpperCase(), `${key} `, 'tk_', '']) {
      expect(parseApiKey(bad)).toBeUndefined();
    }
  });
});
