import pg from 'pg';
import { withClient } from './pg/pool';

/**
 * The job queue library's (pg-boss, src/jobs/job-queue.ts) way to the shared
 * database: what it calls `db` (`executeSql(text, values)`), on the API's shared
 * pool, so the queue's connections count in DB_POOL_SIZE and DB_POOL_BUDGET like
 * every other. Only the shared database: the queue lives there whatever
 * database a job's tenant is placed on.
 *
 * It sends pg-boss's own statements, as the runtime role, with no tenant set:
 * they touch the `pgboss` schema, on which the role has data access only
 * (drizzle/0020_job_queue.sql), and a tenant table would show them no rows
 * (forced RLS, no app.tenant_id). Not audited per statement like SystemDb: the
 * worker polls (JOBS_POLL_INTERVAL_MS), and a log line per poll would drown the
 * audit; what it runs is pg-boss's fixed SQL, not feature code's.
 */
export class QueueConnection {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * Parameterless statements go out as simple queries: pg-boss sends its maintenance as one
   * `BEGIN; ...; COMMIT` string, and a failure inside it would leave the connection in an
   * aborted transaction block (a BEGIN in a simple query lasts until an explicit end), so a
   * failed statement is followed by ROLLBACK on the same connection before it goes back to
   * the pool (outside a transaction ROLLBACK only warns).
   */
  async executeSql(text: string, values?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }> {
    return await withClient(this.pool, async (client) => {
      try {
        return await client.query(text, values);
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw error;
      }
    });
  }
}
