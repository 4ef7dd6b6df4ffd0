/**
 * Response headers for a JSON API, after the OWASP REST Security Cheat Sheet
 * ("Security headers"): nothing the API answers is cached by a shared cache,
 * sniffed into another type, framed, allowed to run as a document, or sent on
 * as a referrer. Set on every response, errors and socket-level answers included;
 * a handler that sets one itself (downloads: `private, no-store`) keeps its own.
 * Strict-Transport-Security belongs to whatever terminates TLS (README "Security").
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
});
