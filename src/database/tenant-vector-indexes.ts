import pg from 'pg';
import { auditOwnerOperation, OwnerConnections, requireTenantId, TenantPlacement } from './owner-connections';

/**
 * Per-tenant HNSW indexes for semantic search (src/search) where pgvector is installed: partial
 * indexes on document_embeddings holding ONE tenant's vectors (`WHERE tenant_id = '<id>'`), one per
 * metric. Why per tenant and not one shared index: a shared HNSW index holds every tenant's vectors,
 * so how far a search walks before it has k rows of this tenant (the iterative scan) depends on what
 * the other tenants hold, and its time tells them apart. A partial index holds only the tenant's
 * own vectors: the walk, and the time, are the tenant's alone. A tenant without one is searched
 * exactly over its own rows (cost: its own row count), which is also what stays cheap for the many
 * small tenants; an operator gives the big ones an index (`tenants vector-index`, README "Semantic
 * search"). Indexes are named after the tenant, so the planner's choice follows from the
 * search's `tenant_id = <tenant>` filter alone: nothing is looked up per search.
 *
 * DDL needs the table's owner: these run on OWNER connections (OwnerConnections), each a named,
 * logged platform operation. CREATE INDEX CONCURRENTLY does not block the tenant's writes (nor
 * anyone else's); it cannot run in a transaction, so each statement is on its own.
 */

export const VECTOR_INDEX_METRICS = ['cosine', 'inner_product'] as const;
export type VectorIndexMetric = (typeof VECTOR_INDEX_METRICS)[number];

const OPERATOR_CLASS: Record<VectorIndexMetric, string> = { cosine: 'vector_cosine_ops', inner_product: 'vector_ip_ops' };
const NAME_PART: Record<VectorIndexMetric, string> = { cosine: 'cos', inner_product: 'ip' };
/** Every per-tenant index name starts so (document_embeddings_hnsw_cos_<32 hex>, 55 characters: under PostgreSQL's 63). */
export const TENANT_VECTOR_INDEX_PREFIX = 'document_embeddings_hnsw_';
const NAME_PATTERN = /^document_embeddings_hnsw_(cos|ip)_([0-9a-f]{32})$/;

export function tenantVectorIndexName(tenantId: string, metric: VectorIndexMetric): string {
  requireTenantId(tenantId);
  return `${TENANT_VECTOR_INDEX_PREFIX}${NAME_PART[metric]}_${tenantId.toLowerCase().replaceAll('-', '')}`;
}

/**
 * The statement building one tenant's index for one metric. The tenant id is a literal (checked to
 * be a UUID first): an index predicate cannot take a parameter. The expression, the cast to
 * vector(<dimension>), is the one the search orders by (EmbeddingsRepository.searchHnsw).
 */
export function createTenantVectorIndexSql(tenantId: string, metric: VectorIndexMetric, dimension: number, options: { concurrently: boolean } = { concurrently: true }): string {
  if (!Number.isInteger(dimension) || dimension < 1) throw new Error('the embedding dimension must be a positive integer');
  const name = tenantVectorIndexName(tenantId, metric);
  return (
    `create index ${options.concurrently ? 'concurrently ' : ''}if not exists "${name}" on public.document_embeddings ` +
    `using hnsw (((embedding)::vector(${dimension})) ${OPERATOR_CLASS[metric]}) where tenant_id = '${tenantId.toLowerCase()}'::uuid`
  );
}

export interface TenantVectorIndex {
  tenantId: string;
  metric: VectorIndexMetric;
  name: string;
  /** False for an index a CONCURRENTLY build left behind when it failed (the planner ignores it); creating again rebuilds it. */
  valid: boolean;
  /** The dimension its expression casts to (vector(<n>)). */
  dimension: number;
  bytes: number;
}

export class VectorExtensionMissingError extends Error {
  constructor(database: string) {
    super(`database "${database}" has no pgvector extension (0.8 or later): per-tenant HNSW indexes need it; its tenants are searched by the exact scan`);
    this.name = 'VectorExtensionMissingError';
  }
}

/** Every per-tenant vector index of the database behind `pool` (catalog only; any role may read it). */
export async function listTenantVectorIndexesOn(pool: pg.Pool | pg.ClientBase): Promise<TenantVectorIndex[]> {
  const { rows } = await pool.query<{ name: string; valid: boolean; definition: string; bytes: string }>(
    `select c.relname as name, i.indisvalid as valid, pg_catalog.pg_get_indexdef(i.indexrelid) as definition, pg_catalog.pg_relation_size(i.indexrelid) as bytes
       from pg_catalog.pg_index i join pg_catalog.pg_class c on c.oid = i.indexrelid
      where i.indrelid = pg_catalog.to_regclass('public.document_embeddings') and c.relname like $1
      order by c.relname`,
    [`${TENANT_VECTOR_INDEX_PREFIX}%`],
  );
  return rows.flatMap((row) => {
    const named = parseTenantVectorIndexName(row.name);
    return named ? [{ ...named, name: row.name, valid: row.valid, dimension: indexedDimension(row.definition), bytes: Number(row.bytes) }] : [];
  });
}

/** The tenant and metric a per-tenant index is for; undefined for any other index name. */
export function parseTenantVectorIndexName(name: string): { tenantId: string; metric: VectorIndexMetric } | undefined {
  const named = NAME_PATTERN.exec(name);
  if (!named) return undefined;
  const hex = named[2];
  const tenantId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return { tenantId, metric: named[1] === 'cos' ? 'cosine' : 'inner_product' };
}

/** The n of the vector(n) cast in an index definition (pg_get_indexdef). */
export function indexedDimension(definition: string): number {
  return Number(/vector\((\d+)\)/.exec(definition)?.[1]);
}

async function pgvectorVersionOn(pool: pg.Pool): Promise<string | undefined> {
  const { rows } = await pool.query<{ version: string }>("select extversion as version from pg_catalog.pg_extension where extname = 'vector'");
  return rows[0]?.version;
}

/** One statement on a connection of its own with no statement timeout: building an index over a big tenant takes minutes. */
async function runUntimed(pool: pg.Pool, statement: string): Promise<void> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('set statement_timeout = 0');
    await client.query(statement);
    await client.query('reset statement_timeout');
  } catch (error) {
    broken = error as Error;
    throw error;
  } finally {
    // A connection whose reset did not run must not go back with its timeout off.
    client.release(broken);
  }
}

export class TenantVectorIndexes {
  constructor(private readonly owners: OwnerConnections) {}

  /** Whether an owner connection is configured for `database` (shared: DATABASE_MIGRATION_URL). */
  canManage(database: string): boolean {
    return this.owners.canReach(database);
  }

  async list(database: string): Promise<TenantVectorIndex[]> {
    return listTenantVectorIndexesOn(this.owners.pool(database));
  }

  /**
   * Builds the tenant's two indexes on the database holding its rows; idempotent (an index that
   * exists and is valid is kept; one a failed build left invalid is dropped and built again, so a
   * crashed run is resumed by running it again). `onBuilt` after each index.
   */
  async create(placement: TenantPlacement, dimension: number, onBuilt?: (index: TenantVectorIndex) => void): Promise<TenantVectorIndex[]> {
    requireTenantId(placement.tenantId);
    const pool = this.owners.pool(placement.database);
    const version = await pgvectorVersionOn(pool);
    const [major, minor] = (version ?? '0.0').split('.').map(Number);
    if (!version || (major === 0 && minor < 8)) throw new VectorExtensionMissingError(placement.database);
    auditOwnerOperation('tenants.vector-index.create', { forTenant: placement.tenantId, database: placement.database, dimension });
    for (const metric of VECTOR_INDEX_METRICS) {
      const name = tenantVectorIndexName(placement.tenantId, metric);
      const existing = (await listTenantVectorIndexesOn(pool)).find((index) => index.name === name);
      if (existing && (!existing.valid || existing.dimension !== dimension)) await runUntimed(pool, `drop index concurrently if exists public."${name}"`);
      await runUntimed(pool, createTenantVectorIndexSql(placement.tenantId, metric, dimension));
      const built = (await listTenantVectorIndexesOn(pool)).find((index) => index.name === name);
      if (!built?.valid) throw new Error(`the HNSW index ${name} was not built valid on database "${placement.database}"`);
      onBuilt?.(built);
    }
    const mine = (await listTenantVectorIndexesOn(pool)).filter((index) => index.tenantId === placement.tenantId);
    auditOwnerOperation('tenants.vector-index.create.done', { forTenant: placement.tenantId, database: placement.database, bytes: mine.reduce((sum, index) => sum + index.bytes, 0) });
    return mine;
  }

  /** Drops the tenant's indexes on `placement.database` (none there: nothing to do). How many were dropped. */
  async drop(placement: TenantPlacement): Promise<number> {
    requireTenantId(placement.tenantId);
    const pool = this.owners.pool(placement.database);
    const mine = (await listTenantVectorIndexesOn(pool)).filter((index) => index.tenantId === placement.tenantId);
    if (mine.length === 0) return 0;
    auditOwnerOperation('tenants.vector-index.drop', { forTenant: placement.tenantId, database: placement.database, indexes: mine.length });
    for (const index of mine) await runUntimed(pool, `drop index concurrently if exists public."${index.name}"`);
    return mine.length;
  }
}
