/**
 * One command runs everything: unit specs beside the code (src/**\/*.spec.ts)
 * and integration/e2e specs (test/**\/*.e2e-spec.ts) against real PostgreSQL,
 * Redis and an S3-protocol server provisioned by test/setup/global-setup.ts.
 *
 * The @nestjs/* 12 packages (and a few of their dependencies) and jose 6 are ES modules;
 * Jest runs CommonJS, so those are transpiled too (see TOOLCHAIN notes in README).
 */
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
    module: { type: 'commonjs' },
  },
];

module.exports = {
  testEnvironment: 'node',
  rootDir: __dirname,
  roots: ['<rootDir>/src', '<rootDir>/test'],
  testRegex: '\\.(e2e-)?spec\\.ts$',
  moduleFileExtensions: ['ts', 'js', 'json'],
  transform: { '^.+\\.(t|j)s$': swc },
  transformIgnorePatterns: [
    '/node_modules/(?!.*/node_modules/)(?!(@nestjs|cookie|@standard-schema|uid|file-type|load-esm|strtok3|token-types|@tokenizer|uint8array-extras|@borewit|jose)/)',
  ],
  globalSetup: '<rootDir>/test/setup/global-setup.ts',
  globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
  testTimeout: 60_000,
  maxWorkers: 2,
};
