import { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { printJson, printLines } from './cli-output';

/**
 * The platform admin key is configuration, not data: ADMIN_API_KEY in the
 * API's environment (embedded mode: generated into DATA_DIR/secrets.json,
 * which ADMIN_API_KEY overrides), compared by digest in AccessGuard. So the
 * CLI cannot swap it on running instances; what it can do is make the new key
 * and say how to roll it without a moment where valid clients are refused:
 * the API accepts ADMIN_API_KEY_PREVIOUS beside ADMIN_API_KEY (and logs each
 * use of it), so instances and clients can move over in any order.
 */
export function adminKeyCommand(): Command {
  const adminKey = new Command('admin-key').description('the platform admin key (ADMIN_API_KEY)');
  adminKey
    .command('rotate')
    .description('generate a new admin key and print the rotation steps (nothing is changed by this command)')
    .option('--json', 'print JSON: the key and the steps')
    .action((options: { json?: boolean }) => {
      // 32 random bytes: 256 bits, far past the schema's 32-character floor; the prefix makes a leaked one recognisable.
      const key = `adm_${randomBytes(32).toString('base64url')}`;
      const steps = [
        'Keep the current key working: set ADMIN_API_KEY_PREVIOUS to the value ADMIN_API_KEY has now.',
        `Set ADMIN_API_KEY to the new key (in your secret store, .env, or the compose/orchestrator environment).`,
        'Restart or roll every API instance: each now accepts both keys.',
        'Move every client to the new key (scripts, Prometheus credentials_file for /metrics).',
        'Watch the API logs for "a request used ADMIN_API_KEY_PREVIOUS" (warn): when none appear any more, unset ADMIN_API_KEY_PREVIOUS and roll the instances again. The old key is then refused (401).',
      ];
      if (options.json) return printJson({ key, steps });
      printLines('New platform admin key (shown once; store it in your secret store now):', '', `  ${key}`, '', 'Rotation, with no moment where a valid client is refused:');
      printLines(...steps.map((step, index) => `  ${index + 1}. ${step}`));
    });
  return adminKey;
}
