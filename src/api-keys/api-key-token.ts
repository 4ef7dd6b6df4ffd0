import { hexToUuid, randomSecret, sha256Hex, uuidToHex } from '../common/crypto/secret-token';

/**
 * `tk_<key id, 32 hex>_<tenant id, 32 hex>_<secret, 43 base64url>`
 *
 * - `tk_` makes keys recognisable (secret scanners, logs, support);
 * - the key id finds the row with a primary-key lookup, no scan over hashes;
 * - the tenant id says in which tenant's scope to look it up, so a key used
 *   with another tenant's header is verified first (401 if forged) and then
 *   refused as a valid credential of another tenant (403), like a JWT;
 * - only the SHA-256 of the whole key is stored; the secret is shown once.
 * The list shows `prefix` (`tk_` + the first 8 hex of the id), which is the
 * start of the key the holder has, and reveals nothing that lets anyone use it.
 */
const KEY_PATTERN = /^tk_([0-9a-f]{32})_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;

export interface ParsedApiKey {
  keyId: string;
  tenantId: string;
}

export function isApiKeyLike(token: string): boolean {
  return token.startsWith('tk_');
}

export function parseApiKey(token: string): ParsedApiKey | undefined {
  const match = KEY_PATTERN.exec(token);
  return match ? { keyId: hexToUuid(match[1]), tenantId: hexToUuid(match[2]) } : undefined;
}

export function newApiKey(keyId: string, tenantId: string): { key: string; prefix: string; secretHash: string } {
  const idHex = uuidToHex(keyId);
  const key = `tk_${idHex}_${uuidToHex(tenantId)}_${randomSecret()}`;
  return { key, prefix: `tk_${idHex.slice(0, 8)}`, secretHash: sha256Hex(key) };
}
