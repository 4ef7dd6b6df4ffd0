import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { sql } from 'drizzle-orm';
import { AppConfig } from '../config/app-config';
import { SHARED_DATABASE } from '../config/env.schema';
import { Tenant } from '../tenancy/tenant-context';
import { SystemDatabase, SystemDb } from './system-db';
import { indexedDimension, parseTenantVectorIndexName, TENANT_VECTOR_INDEX_PREFIX } from './tenant-vector-indexes';

/**
 * Which engine answers semantic searches (src/search) on a database:
 * - 'pgvector-hnsw': pgvector 0.8 or later is installed. A tenant with its own HNSW indexes
 *   (src/database/tenant-vector-indexes.ts, built by `tenants vector-index`) is searched through
 *   them; PostgreSQL picks the tenant's index from the search's tenant filter. A tenant without
 *   them is sorted exactly over its own rows by pgvector's distance operators (there is no shared
 *   HNSW index to use instead: drizzle/0031).
 * - 'exact-scan': no usable pgvector; vector_dot() (drizzle/0026) over the tenant's rows.
 * Both give the tenant's own nearest documents (HNSW is approximate: its recall, not its isolation,
 * differs), and neither does work that grows with what other tenants hold. The exact scan is the
 * one the test suite runs on real PostgreSQL; the HNSW engine is tested on PGlite.
 */
export type VectorEngineName = 'pgvector-hnsw' | 'exact-scan';

function dimensionMismatch(database: string, indexed: number, configured: number): string {
  return (
    `per-tenant HNSW indexes of database "${database}" are built for ${indexed} dimensions but EMBEDDING_DIMENSION is ${configured}: ` +
    `set EMBEDDING_DIMENSION=${indexed}, or rebuild those tenants' indexes (tenants vector-index) and restart (README "Semantic search")`
  );
}

interface Detection {
  engine: VectorEngineName;
  /** Why the exact scan was chosen; absent for HNSW. */
  reason?: string;
  pgvectorVersion?: string;
  /** Tenants with their own (valid) HNSW indexes on this database, when pgvector is there. */
  indexedTenants?: number;
  /** Set when indexes disagree with EMBEDDING_DIMENSION: the exact scan serves and readiness is down. */
  dimensionMismatch?: boolean;
}

/** Reads the catalog only (extension, index definitions): no tenant data, so the platform handle may. */
async function detect(db: SystemDatabase, dimension: number, database: string): Promise<Detection> {
  const extension = await db.execute<{ version: string }>(sql`select extversion as version from pg_catalog.pg_extension where extname = 'vector'`);
  const version = extension.rows[0]?.version;
  if (!version) return { engine: 'exact-scan', reason: 'the pgvector extension is not installed' };
  // Iterative scans (what keeps a tag filter from starving an HNSW result) need pgvector 0.8.
  const [major, minor] = version.split('.').map(Number);
  if (major === 0 && minor < 8) return { engine: 'exact-scan', reason: `pgvector ${version} has no iterative index scans (0.8 or later needed)`, pgvectorVersion: version };
  const indexes = await db.execute<{ name: string; definition: string; valid: boolean }>(sql`
    select c.relname as name, pg_catalog.pg_get_indexdef(i.indexrelid) as definition, i.indisvalid as valid
      from pg_catalog.pg_index i join pg_catalog.pg_class c on c.oid = i.indexrelid
     where i.indrelid = pg_catalog.to_regclass('public.document_embeddings') and c.relname like ${`${TENANT_VECTOR_INDEX_PREFIX}%`}`);
  const perTenant = indexes.rows.filter((row) => parseTenantVectorIndexName(row.name) !== undefined);
  // An index for another dimension makes every write of its tenant fail on the cast. Not an error
  // thrown at boot: the CLI, which boots the same modules, must still start to rebuild the indexes.
  for (const { definition } of perTenant) {
    const indexed = indexedDimension(definition);
    if (indexed !== dimension) return { engine: 'exact-scan', reason: dimensionMismatch(database, indexed, dimension), pgvectorVersion: version, dimensionMismatch: true };
  }
  const indexedTenants = new Set(perTenant.filter((row) => row.valid).map((row) => parseTenantVectorIndexName(row.name)!.tenantId)).size;
  return { engine: 'pgvector-hnsw', pgvectorVersion: version, indexedTenants };
}

/**
 * Detects the engine of the shared database at boot (logged, and shown by /health/ready as
 * details.vectors) and that of each dedicated database on its first search (the tenant
 * directory may place tenants on databases with and without pgvector). A dimension
 * mismatch on the shared database is logged as an error and makes readiness fail (the tenants'
 * embedding writes would fail on their index's cast): the deployment does not take traffic until
 * it is fixed, while the CLI can still start to fix it.
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

  /** A database that does not answer does not stop the boot (readiness reports it): the engine is then detected on the first search. */
  async onModuleInit(): Promise<void> {
    try {
      await this.detectShared();
    } catch (error) {
      this.logger.warn(`semantic search engine not detected at boot (${error instanceof Error ? error.message : String(error)}); detected on the first search`);
    }
  }

  /** The shared database's engine (what readiness reports); 'exact-scan' until detected. */
  get status(): { engine: VectorEngineName; dimension: number; reason?: string; pgvectorVersion?: string; dimensionMismatch?: boolean } {
    // Not indexedTenants: counted at detection, it would go stale as operators add indexes.
    const { engine, reason, pgvectorVersion, dimensionMismatch } = this.shared;
    return { engine, reason, pgvectorVersion, dimensionMismatch, dimension: this.config.vectors.dimension };
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
        const details = found.engine === 'pgvector-hnsw' ? `pgvector ${found.pgvectorVersion}, ${found.indexedTenants} tenants with their own HNSW indexes at detection` : found.reason;
        if (found.dimensionMismatch) this.logger.error(`semantic search on database "${database}": ${found.reason}`);
        else this.logger.log(`semantic search engine on database "${database}": ${found.engine} (${details}), dimension ${this.config.vectors.dimension}`);
        return found;
      });
      // A failed detection (the database unreachable) is retried on the next search, not cached.
      detection.catch(() => this.byDatabase.delete(database));
      this.byDatabase.set(database, detection);
    }
    return detection;
  }
}
