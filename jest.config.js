/**
 * Two projects over one global setup (one PostgreSQL, Redis and PgBouncer per run):
 * - "direct": every test, the app connected straight to PostgreSQL;
 * - "pgbouncer": the isolation and identity suites again, plus test/pgbouncer/, with the app
 *   (and t.db.appUrl) behind a transaction-mode PgBouncer, where tenant context leaks if
 *   anything is kept per connection (test/helpers/pgbouncer.ts).
 * `npx jest <file>` runs a file in each project it belongs to; `npx jest <file> --selectProjects direct`
 * picks one (the option last: it takes every word after it).
 */
/** @type {import('jest').Config['projects'][number]} */
const shared = {
  testEnvironment: 'node',
  rootDir: __dirname,
  roots: ['<rootDir>/src', '<rootDir>/test'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  transform: {
    '^.+\\.(t|j)s$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2022',
        },
        module: { type: 'commonjs' },
      },
    ],
  },
  transformIgnorePatterns: [
    '/node_modules/(?!.*/node_modules/)(?!(@nestjs|cookie|@standard-schema|uid|file-type|load-esm|strtok3|token-types|@tokenizer|uint8array-extras|@borewit|jose)/)',
  ],
};

/** @type {import('jest').Config} */
module.exports = {
  globalSetup: '<rootDir>/test/setup/global-setup.ts',
  globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
  testTimeout: 60000,
  maxWorkers: 2,
  projects: [
    {
      ...shared,
      displayName: 'direct',
      testRegex: '\\.(e2e-)?spec\\.ts$',
      // Meaningful only behind PgBouncer.
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/pgbouncer/'],
    },
    {
      ...shared,
      displayName: 'pgbouncer',
      testRegex: '/test/(tenancy|identity|pgbouncer)/.*\\.e2e-spec\\.ts$',
      setupFiles: ['<rootDir>/test/setup/through-pgbouncer.ts'],
    },
  ],
};
