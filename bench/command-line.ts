import { Command, CommanderError, InvalidArgumentError } from 'commander';

/**
 * The command-line rules every bench entry point shares (npm run bench,
 * bench:seed, bench:noisy), like the ops CLI: `--help` prints and exits 0
 * without starting anything; an unknown flag, a bad value or a stray argument
 * is refused with exit 2 before anything starts. exitOverride: commander throws
 * a CommanderError instead of exiting, and parsedOrRefused turns it into the
 * exit code.
 */
export function commandLine(name: string, description: string): Command {
  return new Command(name)
    .usage(`[flags]   (npm run ${name} -- [flags])`)
    .description(description)
    .helpOption('-h, --help', 'print this and exit')
    .showHelpAfterError('(add --help for usage)')
    .allowExcessArguments(false)
    .exitOverride();
}

/** Parses `argv` (node's, with the script); false when --help was printed (exit 0) or the line refused (exit 2). */
export function parsedOrRefused(command: Command, argv: string[] = process.argv): boolean {
  try {
    command.parse(argv);
    return true;
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    process.exitCode = exitCodeOf(error);
    return false;
  }
}

/** --help: 0; anything commander refused: 2. */
export function exitCodeOf(error: CommanderError): number {
  return error.exitCode === 0 ? 0 : 2;
}

export function positiveInt(raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError('must be a positive integer');
  return value;
}

export function nonNegativeInt(raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new InvalidArgumentError('must be a whole number from 0');
  return value;
}
