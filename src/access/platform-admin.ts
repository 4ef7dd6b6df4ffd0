import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { createHash } from 'node:crypto';

/**
 * Who the platform admin is, for records that must say who asked (a tenant deletion's report):
 * `admin-key:<fingerprint>`, the first 12 hex digits of the SHA-256 of the admin key the request
 * presented. Only on @PlatformAdminRoute handlers, where AccessGuard has already checked that the
 * bearer is ADMIN_API_KEY (or ADMIN_API_KEY_PREVIOUS during a rotation): the fingerprint tells the
 * two keys apart without storing either (48 bits of a digest of a 256-bit secret reveal nothing usable).
 */
export function adminKeyFingerprint(authorization: string | undefined): string {
  const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
  if (!token) return 'admin-key:unknown';
  return `admin-key:${createHash('sha256').update(token, 'utf8').digest('hex').slice(0, 12)}`;
}

export const PlatformAdminId = createParamDecorator((_data: unknown, context: ExecutionContext): string => {
  const request = context.switchToHttp().getRequest<{ headers: Record<string, string | string[] | undefined> }>();
  const header = request.headers.authorization;
  return adminKeyFingerprint(Array.isArray(header) ? header[0] : header);
});
