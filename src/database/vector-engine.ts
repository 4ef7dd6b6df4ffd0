import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { sql } from 'drizzle-orm';
import { AppConfig } from '../config/app-config';
import { SHARED_DATABASE } from '../config/env.schema';
import { Tenant } from '../tenancy/tenant-context';
import { SystemDatabase, SystemDb } from './system-db';

/**
 * Which engine answers semantic searches (src/search) on a database:
 * - 'pgvector-hnsw': the pgvector extension is installed and both HNSW indexes of
 *   drizzle/0026_vector_search.sql exist, built for EMBEDDING_DIMENSION;
 * - 'exact-scan': anything else; vector_dot() over the tenant's rows, ordered by score.
 * Both give the same answer for the tenant (HNSW is approximate: its recall, not its
 * isolation, differs); the exact scan is the one the test suite runs on real PostgreSQL.
 */
export type VectorEngineName = 'pgvector-hnsw' | 'exact-scan';

/** The HNSW indexes drizzle/0023 creates, one per metric. */
export const HNSW_INDEXES = { cosine: 'document_embeddings_hnsw_cosine_idx', inner_product: 'document_embeddings_hnsw_ip_idx' } as const;

export class VectorDimensionMismatchError extends Error {
  constructor(database: string, indexed: number, configured: number) {
    super(
      `semantic search: the HNSW indexes of database "${database}" are built for ${indexed} dimensions but EMBEDDING_DIMENSION is ${configured}. ` +
        `Set EMBEDDING_DIMENSION=${indexed}, or recreate both indexes for ${configured} (README "Semantic search") before starting the API.`,
    );
    this.name = 'VectorDimensionMismatchError';
  }
}

interface Detection {
  engine: VectorEngineName;
  /** Why the exact scan was chosen; absent for HNSW. */
  reason?: string;
  pgvectorVersion?: string;
}

/** Reads the catalog only (extension, index definitions): no tenant data, so the platform handle may. */
async function detect(db: SystemDatabase, dimension: number, database: string): Promise<Detection> {
  const extension = await db.execute<{ version: string }>(sql`select extversion as version from pg_catalog.pg_extension where extname = 'vector'`);
  const version = extension.rows[0]?.version;
  if (!version) return { engine: 'exact-scan', reason: 'the pgvector extension is not installed' };
  const indexes = await db.execute<{ name: string; definition: string }>(sql`
    select c.relname as name, pg_catalog.pg_get_indexdef(i.indexrelid) as definition
      from pg_catalog.pg_index i join pg_catalog.pg_class c on c.oid = i.indexrelid
     where i.indrelid = pg_catalog.to_regclass('public.document_embeddings') and c.relname in (${HNSW_INDEXES.cosine}, ${HNSW_INDEXES.inner_product})`);
  const found = new Map(indexes.rows.map((row) => [row.name, row.definition]));
  const missing = Object.values(HNSW_INDEXES).filter((name) => !found.has(name));
  if (missing.length > 0) return { engine: 'exact-scan', reason: `pgvector ${version} is installed but ${missing.join(', ')} missing`, pgvectorVersion: version };
  for (const definition of found.values()) {
    const indexed = Number(/vector\((\d+)\)/.exec(definition)?.[1]);
    if (indexed !== dimension) throw new VectorDimensionMismatchError(database, indexed, dimension);
  }
  // Iterative scans (what keeps the tenant filter from starving an HNSW result) need pgvector 0.8.
  const [major, minor] = version.split('.').map(Number);
  if (major === 0 && minor < 8) return { engine: 'exact-scan', reason: `pgvector ${version} has no iterative index scans (0.8 or later needed)`, pgvectorVersion: version };
  return { engine: 'pgvector-hnsw', pgvectorVersion: version };
}

/**
 * Detects the engine of the shared database at boot (logged, and shown by /health/ready as
 * details.vectors) and that of each dedicated database on its first search (the tenant
 * directory may place tenants on databases with and without pgvector). A dimension
 * mismatch stops the boot: inserts would fail on the index's cast anyway.
 */
@Injectable()
export class VectorEngine implements OnModuleInit {
  private readonly logger = new Logger('Vectors');
  private readonly byDatabase = new Map<string, Promise<Detection>>();
  private shared: Detection = { engine: 'exact-scan', reason: 'not detected yet' };

  constructor(
    private readonly systemDb: SystemDb,
    private readonly config: AppConfig,
  ) {}

  /**
   * A dimension mismatch stops the boot. A database that does not answer does not (readiness
   * reports it): the engine is then detected on the first search.
   */
  async onModuleInit(): Promise<void> {
    try {
      await this.detectShared();
    } catch (error) {
      if (error instanceof VectorDimensionMismatchError) throw error;
      this.logger.warn(`semantic search engine not detected at boot (${error instanceof Error ? error.message : String(error)}); detected on the first search`);
    }
  }

  /** The shared database's engine (what readiness reports); 'exact-scan' until detected. */
  get status(): { engine: VectorEngineName; dimension: number; reason?: string; pgvectorVersion?: string } {
    return { ...this.shared, dimension: this.config.vectors.dimension };
  }

  /** The engine of the database holding `tenant`'s rows. */
  async engineFor(tenant: Tenant): Promise<VectorEngineName> {
    if (tenant.database === SHARED_DATABASE) return (await this.detectShared()).engine;
    const detection = await this.detectOn(tenant.database, () =>
      this.systemDb.runWhereTenantIs('vectors.detect-engine', tenant, (db) => detect(db, this.config.vectors.dimension, tenant.database)),
    );
    return detection.engine;
  }

  private async detectShared(): Promise<Detection> {
    this.shared = await this.detectOn(SHARED_DATABASE, () => this.systemDb.run('vectors.detect-engine', (db) => detect(db, this.config.vectors.dimension, SHARED_DATABASE)));
    return this.shared;
  }

  private detectOn(database: string, run: () => Promise<Detection>): Promise<Detection> {
    let detection = this.byDatabase.get(database);
    if (!detection) {
      detection = run().then((found) => {
        const details = found.engine === 'pgvector-hnsw' ? `pgvector ${found.pgvectorVersion}, iterative index scans` : found.reason;
        this.logger.log(`semantic search engine on database "${database}": ${found.engine} (${details}), dimension ${this.config.vectors.dimension}`);
        return found;
      });
      // A failed detection (the database unreachable) is retried on the next search, not cached.
      detection.catch(() => this.byDatabase.delete(database));
      this.byDatabase.set(database, detection);
    }
    return detection;
  }
}
