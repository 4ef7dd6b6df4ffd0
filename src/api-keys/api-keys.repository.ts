import { Injectable } from '@nestjs/common';
import { and, asc, eq, isNull, lt, or, sql } from 'drizzle-orm';
import { Cursor } from '../common/http/cursor';
import { ApiKeyRow, apiKeys, MembershipRole } from '../database/schema';
import { TenantDb } from '../database/tenant-db';

export interface NewApiKey {
  id: string;
  name: string;
  role: MembershipRole;
  prefix: string;
  secretHash: string;
  createdBy: string | null;
}

/** How often last_used_at is written at most: a write per request would cost more than the lookup. */
const LAST_USED_RESOLUTION_MS = 60_000;

/** API keys of the current tenant; every query through TenantDb. */
@Injectable()
export class ApiKeysRepository {
  constructor(private readonly db: TenantDb) {}

  async create(input: NewApiKey): Promise<ApiKeyRow> {
    const [row] = await this.db.insert(apiKeys).values(input).returning();
    return row;
  }

  async findById(id: string): Promise<ApiKeyRow | undefined> {
    const [row] = await this.db.select().from(apiKeys).where(eq(apiKeys.id, id)).limit(1);
    return row;
  }

  /** Oldest first, revoked keys included (with revokedAt), keyset-paginated on (created_at, id). */
  list(options: { limit: number; after?: Cursor }): Promise<ApiKeyRow[]> {
    return this.db
      .select()
      .from(apiKeys)
      .where(options.after ? sql`(${apiKeys.createdAt}, ${apiKeys.id}) > (${options.after.createdAt}, ${options.after.id})` : undefined)
      .orderBy(asc(apiKeys.createdAt), asc(apiKeys.id))
      .limit(options.limit);
  }

  async revoke(id: string): Promise<boolean> {
    const rows = await this.db
      .update(apiKeys)
      .set({ revokedAt: new Date() })
      .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
      .returning({ id: apiKeys.id });
    return rows.length > 0;
  }

  /** Records use, at most once per LAST_USED_RESOLUTION_MS per key. */
  async touch(id: string, lastUsedAt: Date | null): Promise<void> {
    const now = Date.now();
    if (lastUsedAt && now - lastUsedAt.getTime() < LAST_USED_RESOLUTION_MS) return;
    const threshold = new Date(now - LAST_USED_RESOLUTION_MS);
    await this.db
      .update(apiKeys)
      .set({ lastUsedAt: new Date(now) })
      .where(and(eq(apiKeys.id, id), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, threshold))));
  }
}
