import { Command } from 'commander';
import { adminKeyCommand } from './admin-key.command';
import { migrateCommand, setupCommand } from './database.command';
import { plansCommand } from './plans.command';
import { tenantsCommand } from './tenants.command';

type Env = Record<string, string | undefined>;

/**
 * The ops CLI's commands. Settings given to the root before any subcommand is
 * added (exitOverride, output, help after errors) are inherited by every
 * subcommand commander creates; each subcommand refuses unknown options and
 * extra arguments before its action runs, so a typo never reaches the database.
 */
export function buildProgram(env: Env): Command {
  const program = new Command('cli')
    .description('tenancy-backend operations: tenants, migrations, the platform admin key')
    .usage('<command> [options]   (npm run cli -- <command> ...)')
    .option('--verbose', 'print stack traces on failure')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .allowExcessArguments(false);
  program.addCommand(copySettings(program, tenantsCommand(env)));
  program.addCommand(copySettings(program, plansCommand(env)));
  program.addCommand(copySettings(program, migrateCommand(env)));
  program.addCommand(copySettings(program, setupCommand(env)));
  program.addCommand(copySettings(program, adminKeyCommand()));
  return program;
}

/** addCommand() (unlike command()) does not copy the parent's settings; applied to the whole subtree. */
function copySettings(parent: Command, command: Command): Command {
  command.copyInheritedSettings(parent);
  command.allowExcessArguments(false);
  for (const child of command.commands) copySettings(command, child);
  return command;
}
