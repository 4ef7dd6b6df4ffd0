import { Logger } from '@nestjs/common';
import { drizzle, NodePgDatabase } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { TenantContext } from '../tenancy/tenant-context';
import { inTransaction } from './pg/pool';
import * as schema from './schema';

export type SystemDatabase = NodePgDatabase<typeof schema>;

/**
 * The named, logged escape hatch for platform work: tenants, users, and the
 * one cross-tenant read a user may do (their own memberships). It connects as
 * the same RLS-bound role as everything else and never sets a tenant, so tenant
 * tables still show it nothing: it cannot be used to read tenant data.
 */
export class SystemDb {
  private readonly logger = new Logger('SystemDb');
  private readonly db: SystemDatabase;

  constructor(private readonly pool: pg.Pool) {
    this.db = drizzle({ client: pool, schema });
  }

  /** `operation` names the use in the audit log, e.g. "tenants.create". */
  run<T>(operation: string, fn: (db: SystemDatabase) => Promise<T>): Promise<T> {
    this.audit(operation);
    return fn(this.db);
  }

  /**
   * Runs fn in a transaction where app.user_id is set, which the
   * memberships_self_read policy needs to show that user's memberships in every tenant.
   */
  asUser<T>(operation: string, userId: string, fn: (db: SystemDatabase) => Promise<T>): Promise<T> {
    this.audit(operation, userId);
    return inTransaction(this.pool, { name: 'app.user_id', uuid: userId }, (client) => fn(drizzle({ client, schema })));
  }

  private audit(operation: string, userId?: string): void {
    const scope = TenantContext.scope();
    this.logger.log(
      `system operation=${operation}` +
        (userId ? ` user=${userId}` : '') +
        (scope?.requestId ? ` requestId=${scope.requestId}` : '') +
        (scope ? ` fromTenant=${scope.tenant.id}` : ''),
    );
  }
}
