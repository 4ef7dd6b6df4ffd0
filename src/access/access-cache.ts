import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import type { MembershipRole } from '../database/schema/memberships';

/** An API key as admission last verified it against the database. */
export interface CachedApiKey {
  tenantId: string;
  /** SHA-256 (hex) of the whole key that was verified: a different secret for the same key id is a miss. */
  digest: string;
  name: string;
  role: MembershipRole;
}

interface Entry<T> {
  value: T;
  expiresAt: number;
}

/** Bounded: a flood of distinct users or keys evicts the oldest entries instead of growing the heap. */
const MAX_ENTRIES = 50_000;

/**
 * What admission read from PostgreSQL about a credential (a user's role in a
 * tenant, a verified API key), kept for ACCESS_CACHE_TTL_MS so that most
 * requests need no database read before their handler.
 *
 * It is a hint, never the authority: the request carries what was admitted as
 * its AccessClaim, which PostgreSQL checks with every statement the request
 * sends (tenancy_enter, in the same round trip), and a request that sends none
 * is confirmed before it answers (TenantContextInterceptor). So a member removed
 * or a key revoked through any instance is refused at once everywhere. This
 * instance also forgets an entry as soon as it changes the membership or key, or
 * PostgreSQL refuses a claim, so the next request reads afresh.
 */
@Injectable()
export class AccessCache {
  private readonly ttlMs: number;
  private readonly members = new Map<string, Entry<MembershipRole>>();
  private readonly apiKeys = new Map<string, Entry<CachedApiKey>>();

  constructor(config: AppConfig) {
    this.ttlMs = config.auth.accessCacheTtlMs;
  }

  memberRole(tenantId: string, userId: string): MembershipRole | undefined {
    return this.read(this.members, memberKey(tenantId, userId));
  }

  rememberMemberRole(tenantId: string, userId: string, role: MembershipRole): void {
    this.write(this.members, memberKey(tenantId, userId), role);
  }

  forgetMember(tenantId: string, userId: string): void {
    this.members.delete(memberKey(tenantId, userId));
  }

  apiKey(keyId: string): CachedApiKey | undefined {
    return this.read(this.apiKeys, keyId);
  }

  rememberApiKey(keyId: string, key: CachedApiKey): void {
    this.write(this.apiKeys, keyId, key);
  }

  forgetApiKey(keyId: string): void {
    this.apiKeys.delete(keyId);
  }

  private read<T>(map: Map<string, Entry<T>>, key: string): T | undefined {
    const entry = map.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      map.delete(key);
      return undefined;
    }
    return entry.value;
  }

  private write<T>(map: Map<string, Entry<T>>, key: string, value: T): void {
    if (this.ttlMs === 0) return;
    map.delete(key);
    if (map.size >= MAX_ENTRIES) map.delete(map.keys().next().value!);
    map.set(key, { value, expiresAt: Date.now() + this.ttlMs });
  }
}

const memberKey = (tenantId: string, userId: string) => `${tenantId}:${userId}`;
