/**
 * pg-boss's own DDL for its schema (PgBoss.getConstructionPlans), as the
 * committed migration drizzle/0020_job_queue.sql holds it: without the
 * BEGIN/advisory lock/COMMIT wrapper pg-boss adds when it installs itself (the
 * migrator runs each migration in its own transaction).
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const PgBoss = require('pg-boss') as { getConstructionPlans(schema: string): string };

export function pgBossConstructionSql(schema = 'pgboss'): string {
  const plan = PgBoss.getConstructionPlans(schema);
  const start = plan.indexOf(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  const end = plan.lastIndexOf('COMMIT;');
  if (start < 0 || end < start) throw new Error('pg-boss construction plan: unexpected shape (was pg-boss upgraded?)');
  return plan
    .slice(start, end)
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')
    .trim();
}
