/**
 * `WWW-Authenticate` challenges (RFC 9110 §11.6.1: every 401 carries one; RFC
 * 6750 §3: the Bearer scheme's parameters). errorResponse (error-envelope.ts) adds
 * the plain challenge to any 401 that does not carry its own, so no 401 leaves without one.
 */

/** The protection space every credential of this API belongs to. */
export const AUTH_REALM = 'tenancy-api';

/** `Bearer realm="..."`: no credential was presented (or not a bearer one), so no error code (RFC 6750 §3.1). */
export const BEARER_CHALLENGE = `Bearer realm="${AUTH_REALM}"`;

/**
 * A bearer credential was presented and is not valid: `error="invalid_token"`
 * with a description meant for the client (never internals). Characters RFC
 * 6750 does not allow in error_description (quote, backslash, non-ASCII) are dropped.
 */
export function invalidTokenChallenge(description: string): string {
  const safe = description.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, '');
  return `${BEARER_CHALLENGE}, error="invalid_token", error_description="${safe}"`;
}
