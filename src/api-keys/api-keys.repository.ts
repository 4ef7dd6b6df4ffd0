import { Injectable } from '@nestjs/common';
import { and, asc, eq, isNull, lt, or, sql } from 'drizzle-orm';
import { Cursor } from '../common/http/cursor';
import { ApiKeyRow, apiKeys, MembershipRole } from '../database/schema';
import { TenantDb } from '../database/tenant-db';
import { DummyValue, GenerateSql } from '../database/generate-sql.decorator';

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

  @GenerateSql({ params: [{ id: DummyValue.UUID, name: DummyValue.STRING, role: 'member', prefix: DummyValue.STRING, secretHash: DummyValue.STRING, createdBy: DummyValue.UUID_2 }, DummyValue.TX] })
  async create(input: NewApiKey, tx: TenantDb): Promise<ApiKeyRow> {
    const [row] = await tx.insert(apiKeys).values(input).returning();
    return row;
  }

  @GenerateSql({ params: [DummyValue.UUID] })
  async findById(id: string): Promise<ApiKeyRow | undefined> {
    const [row] = await this.db.select().from(apiKeys).where(eq(apiKeys.id, id)).limit(1);
    return row;
  }

  /** Oldest first, revoked keys included (with revokedAt), keyset-paginated on (created_at, id). */
  @GenerateSql({ name: 'first page', params: [{ limit: DummyValue.NUMBER }] }, { name: 'after a cursor', params: [{ limit: DummyValue.NUMBER, after: { createdAt: DummyValue.DATE, id: DummyValue.UUID_2 } }] })
  list(options: { limit: number; after?: Cursor }): Promise<ApiKeyRow[]> {
    return this.db
      .select()
      .from(apiKeys)
      .where(options.after ? sql`(${apiKeys.createdAt}, ${apiKeys.id}) > (${options.after.createdAt}, ${options.after.id})` : undefined)
      .orderBy(asc(apiKeys.createdAt), asc(apiKeys.id))
      .limit(options.limit);
  }

  @GenerateSql({ params: [DummyValue.UUID, DummyValue.TX] })
  async revoke(id: string, tx: TenantDb): Promise<boolean> {
    const rows = await tx
      .update(apiKeys)
      .set({ revokedAt: new Date() })
      .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
      .returning({ id: apiKeys.id });
    return rows.length > 0;
  }

  /** Records use, at most once per LAST_USED_RESOLUTION_MS per key. */
  @GenerateSql({ params: [DummyValue.UUID, null] })
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
