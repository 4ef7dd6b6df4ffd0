// setupFiles of the jest project "pgbouncer": each of its test files, in its own copy of
// process.env, runs the app (and t.db.appUrl) through the run's PgBouncer (test/helpers/pgbouncer.ts).
process.env.TEST_THROUGH_PGBOUNCER = '1';
