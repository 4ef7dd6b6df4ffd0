#!/usr/bin/env node
import 'reflect-metadata';
import { CommanderError } from 'commander';
import { loadDotEnv } from '../config/env-file';
import { describeFailure, EXIT, UsageError } from './cli-errors';
import { buildProgram } from './program';

/**
 * Entry point of the ops CLI: `npm run cli -- <command>` (builds, then runs
 * dist/cli/cli.js), or `node dist/cli/cli.js <command>` where the build
 * exists (the container). Exit codes: 0 ok, 1 the command failed, 2 the
 * command line was wrong (README "Ops CLI").
 */
async function main(argv: string[]): Promise<number> {
  // Before anything reads the environment; the real environment wins over .env.
  loadDotEnv();
  const program = buildProgram(process.env);
  try {
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed the message (or the help) already.
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    process.stderr.write(describeFailure(error, program.opts<{ verbose?: boolean }>().verbose === true));
    return error instanceof UsageError ? EXIT.usage : EXIT.failed;
  }
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`error: ${error?.stack ?? error}\n`);
    process.exitCode = EXIT.failed;
  },
);
