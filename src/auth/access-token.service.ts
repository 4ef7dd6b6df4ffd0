import { Injectable, Logger } from '@nestjs/common';
import { jwtVerify, SignJWT } from 'jose';
import { createSecretKey, KeyObject, randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import { AppConfig } from '../config/app-config';

/** The only algorithm accepted: pinned here, never read from the token. */
export const ACCESS_TOKEN_ALGORITHM = 'HS256';
/** Longer than any token we issue; anything bigger is refused before it is parsed. */
const MAX_TOKEN_LENGTH = 4096;
/** Clock skew tolerated between instances, for exp/nbf/iat. */
const CLOCK_TOLERANCE_SECONDS = 5;

const claimsSchema = z.object({
  sub: z.uuid(),
  tid: z.uuid(),
});

export interface AccessTokenClaims {
  userId: string;
  tenantId: string;
}

export interface IssuedAccessToken {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  expiresAt: string;
}

/**
 * Short-lived access tokens (JWT, HS256 via jose) carrying the user (sub) and
 * the tenant (tid). Verification pins the algorithm, and checks the signature,
 * issuer, audience, exp, nbf and iat (no older than the configured lifetime).
 * The role is deliberately not in the token: it is read from the membership on
 * every request, so a role change or removal takes effect at once.
 */
@Injectable()
export class AccessTokenService {
  private readonly logger = new Logger(AccessTokenService.name);
  private readonly key: KeyObject;
  private readonly issuer: string;
  private readonly audience: string;
  private readonly ttlSeconds: number;

  constructor(config: AppConfig) {
    let secret = config.auth.jwtSecret;
    if (!secret) {
      // Only reachable outside production (the env schema requires JWT_SECRET there).
      secret = randomBytes(32).toString('base64url');
      this.logger.warn('JWT_SECRET is not set: using a random key for this process; tokens will not survive a restart');
    }
    // A KeyObject made once: given raw bytes, jose imports the key again on every sign and verify.
    this.key = createSecretKey(Buffer.from(secret, 'utf8'));
    this.issuer = config.auth.jwtIssuer;
    this.audience = config.auth.jwtAudience;
    this.ttlSeconds = config.auth.accessTokenTtlSeconds;
  }

  async issue(claims: AccessTokenClaims): Promise<IssuedAccessToken> {
    const now = Math.floor(Date.now() / 1000);
    const accessToken = await new SignJWT({ tid: claims.tenantId })
      .setProtectedHeader({ alg: ACCESS_TOKEN_ALGORITHM, typ: 'JWT' })
      .setSubject(claims.userId)
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + this.ttlSeconds)
      .setJti(randomUUID())
      .sign(this.key);
    return {
      accessToken,
      tokenType: 'Bearer',
      expiresIn: this.ttlSeconds,
      expiresAt: new Date((now + this.ttlSeconds) * 1000).toISOString(),
    };
  }

  /** The claims of a valid token; 401 UNAUTHENTICATED (one message for every reason) otherwise. */
  async verify(token: string): Promise<AccessTokenClaims> {
    if (token.length > MAX_TOKEN_LENGTH) throw invalidToken();
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: [ACCESS_TOKEN_ALGORITHM],
        issuer: this.issuer,
        audience: this.audience,
        requiredClaims: ['sub', 'tid', 'exp', 'iat'],
        maxTokenAge: this.ttlSeconds,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      });
      const claims = claimsSchema.safeParse(payload);
      if (!claims.success) throw invalidToken();
      return { userId: claims.data.sub.toLowerCase(), tenantId: claims.data.tid.toLowerCase() };
    } catch (error) {
      // jose's JOSEError subclasses, and TypeError/SyntaxError from decoding garbage: all the same 401.
      if (error instanceof AppError) throw error;
      throw invalidToken();
    }
  }
}

function invalidToken(): AppError {
  return new AppError(ErrorCode.Unauthenticated, 'The access token is invalid or expired');
}
