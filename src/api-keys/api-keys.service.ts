import { Injectable } from '@nestjs/common';
import { TenantDb } from '../database/tenant-db';
import { UsageLedger } from '../usage/usage-ledger.service';
import { randomUUID } from 'node:crypto';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import { decodeCursor, Page, toPage } from '../common/http/cursor';
import { ApiKeyRow, MembershipRole } from '../database/schema';
import { AccessCache } from '../access/access-cache';
import { mayManageRole } from '../access/permissions';
import { Principal } from '../access/principal';
import { sameDigest, sha256Hex } from '../common/crypto/secret-token';
import { TenantContext } from '../tenancy/tenant-context';
import { newApiKey, ParsedApiKey } from './api-key-token';
import { ApiKeysRepository } from './api-keys.repository';
import { ApiKeyView, CreatedApiKey, CreateApiKeyInput, ListApiKeysQuery } from './api-keys.schemas';

/** Response types live beside the API contract's schemas (GET /openapi.json), inferred from them; re-exported for the importers of this file. */
export type { ApiKeyView, CreatedApiKey };

export interface VerifiedApiKey {
  id: string;
  name: string;
  role: MembershipRole;
}

const toView = (row: ApiKeyRow): ApiKeyView => ({
  id: row.id,
  name: row.name,
  role: row.role,
  prefix: row.prefix,
  createdAt: row.createdAt.toISOString(),
  lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
  revokedAt: row.revokedAt?.toISOString() ?? null,
});

@Injectable()
export class ApiKeysService {
  constructor(
    private readonly keys: ApiKeysRepository,
    private readonly accessCache: AccessCache,
    private readonly db: TenantDb,
    private readonly usage: UsageLedger,
  ) {}

  async create(input: CreateApiKeyInput, actor: Principal): Promise<CreatedApiKey> {
    if (!mayManageRole(actor.role, input.role)) {
      throw new AppError(ErrorCode.InsufficientRole, 'Only an owner can create a key with the owner role');
    }
    const id = randomUUID();
    const { key, prefix, secretHash } = newApiKey(id, TenantContext.currentId());
    // Counted against the plan's api_keys limit (403 QUOTA_EXCEEDED), in the insert's transaction.
    const row = await this.db.transaction(async (tx) => {
      await this.usage.record({ metric: 'api_keys', delta: 1, reason: 'api_keys.create', key: `api_keys.create:${id}` }, tx);
      return this.keys.create({ id, name: input.name, role: input.role, prefix, secretHash, createdBy: actor.id }, tx);
    });
    return { ...toView(row), key };
  }

  async list(query: ListApiKeysQuery): Promise<Page<ApiKeyView>> {
    const rows = await this.keys.list({ limit: query.limit + 1, after: decodeCursor(query.cursor) });
    return toPage(rows, query.limit, toView);
  }

  /** Idempotent for a key that is already revoked; 404 for no such key. */
  async revoke(id: string, actor: Principal): Promise<void> {
    const row = await this.keys.findById(id);
    if (!row) throw AppError.notFound('API key');
    if (!mayManageRole(actor.role, row.role)) {
      throw new AppError(ErrorCode.InsufficientRole, 'Only an owner can revoke a key with the owner role');
    }
    await this.db.transaction(async (tx) => {
      // Only the revocation that happened gives the key back to the allowance (revoking twice is idempotent).
      if (await this.keys.revoke(id, tx)) await this.usage.record({ metric: 'api_keys', delta: -1, reason: 'api_keys.revoke', key: `api_keys.revoke:${id}` }, tx);
    });
    this.accessCache.forgetApiKey(id);
  }

  /**
   * Must run in the scope of the tenant the key names (parsed.tenantId). A key
   * that does not exist there, is revoked, or whose hash differs (compared in
   * constant time) is undefined: the caller answers 401.
   */
  async verify(parsed: ParsedApiKey, key: string): Promise<VerifiedApiKey | undefined> {
    const row = await this.keys.findById(parsed.keyId);
    if (!row || !sameDigest(row.secretHash, sha256Hex(key)) || row.revokedAt) return undefined;
    await this.keys.touch(row.id, row.lastUsedAt);
    return { id: row.id, name: row.name, role: row.role };
  }
}
