#!/usr/bin/env node
/**
 * Compiles bench/*.ts to bench/dist/*.js (CommonJS) with @swc/core, one file at
 * a time, and points their imports of ../src/... at the application's build in
 * dist/ (run `npm run build` first; `npm run bench` does).
 *
 * Why not tsc: bench code imports the application's classes (TenantDb, the
 * controllers, AppConfig). Compiled by tsc, those would be emitted a second time
 * under bench/dist/src and loaded as different classes from the ones the built
 * app registers, and Nest's dependency injection matches providers by class
 * identity. Loading the app's own dist/ keeps one copy of each.
 * Type checking is done by `tsc -p test/tsconfig.json` (it includes bench/).
 */
const { transformFileSync } = require('@swc/core');
const fs = require('node:fs');
const path = require('node:path');

const benchDir = __dirname;
const outDir = path.join(benchDir, 'dist');
const appDist = path.resolve(benchDir, '..', 'dist');

if (!fs.existsSync(path.join(appDist, 'app.factory.js'))) {
  process.stderr.write('bench/build.js: dist/app.factory.js is missing; run `npm run build` first.\n');
  process.exit(1);
}

fs.rmSync(outDir, { recursive: true, force: true });
fs.mkdirSync(outDir, { recursive: true });

const sources = fs.readdirSync(benchDir).filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'));
for (const file of sources) {
  const { code } = transformFileSync(path.join(benchDir, file), {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
      keepClassNames: true,
    },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  });
  // bench/x.ts imports "../src/a/b"; from bench/dist/x.js the build of that is "../../dist/a/b".
  const rewritten = code.replace(/require\((["'])\.\.\/src\//g, 'require($1../../dist/');
  fs.writeFileSync(path.join(outDir, file.replace(/\.ts$/, '.js')), rewritten);
}
process.stderr.write(`bench/build.js: compiled ${sources.length} files to bench/dist\n`);
