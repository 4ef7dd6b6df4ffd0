import { Command } from 'commander';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { TenantView } from '../tenants/tenants.service';
import { createTenantSchema } from '../tenants/tenants.schemas';
import { tenantPlanSchema } from '../plans/plans.schemas';
import { positiveInt } from './cli-arguments';
import { printJson, printLines, printTable } from './cli-output';
import { startProgress } from './cli-progress-bar';
import { UsageError } from './cli-errors';
import { withOffboardingService, withTenantMoveService, withTenantsService } from './cli.module';
import { userInfo } from 'node:os';
import { TenantDeletionFailedError, TenantDeletionView } from '../lifecycle/tenant-offboarding.service';
import { TenantMoveFailedError, TenantMoveView } from '../lifecycle/tenant-move.service';
import { addArchiveCommands } from './tenant-archives.command';
import { addVectorIndexCommands } from './tenant-vector-index.command';

type Env = Record<string, string | undefined>;

/** One line from stdin: a password never goes on the command line (shell history, `ps`). */
async function readLineFromStdin(): Promise<string> {
  const lines = createInterface({ input: process.stdin, terminal: false });
  for await (const line of lines) {
    lines.close();
    return line;
  }
  throw new UsageError('--owner-password-stdin: nothing was read from stdin');
}

function printTenant(tenant: TenantView): void {
  printTable(
    Object.entries(tenant).map(([field, value]) => ({ field, value: typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value) })),
    ['field', 'value'],
  );
}

export function tenantsCommand(env: Env): Command {
  const tenants = new Command('tenants').description('list, show, create, suspend, resume and delete tenants (through the API\'s own services)');

  tenants
    .command('list')
    .description('every tenant, ordered by slug (paged through the same query as GET /tenants)')
    .option('--json', 'print a JSON array')
    .option('--page-size <n>', 'tenants read per query (1-1000)', positiveInt, 100)
    .action(async (options: { json?: boolean; pageSize: number }) => {
      const all = await withTenantsService(env, async (service) => {
        const total = await service.count();
        const found: TenantView[] = [];
        // Only worth a bar when it takes more than one page.
        const progress = total > options.pageSize ? startProgress('tenants', total, 'tenants') : undefined;
        try {
          let cursor: string | undefined;
          do {
            const page = await service.list(options.pageSize, cursor);
            found.push(...page.items);
            progress?.increment(page.items.length);
            cursor = page.nextCursor ?? undefined;
          } while (cursor);
        } finally {
          progress?.stop();
        }
        return found;
      });
      if (options.json) printJson(all);
      else if (all.length === 0) printLines('no tenants');
      else printTable(all, ['slug', 'id', 'status', 'plan', 'database', 'name', 'createdAt']);
    });

  tenants
    .command('show')
    .description('one tenant, by id or slug')
    .argument('<id-or-slug>', 'tenant id (UUID) or slug')
    .option('--json', 'print a JSON object')
    .action(async (idOrSlug: string, options: { json?: boolean }) => {
      const tenant = await withTenantsService(env, (service) => service.get(idOrSlug));
      if (options.json) printJson(tenant);
      else printTenant(tenant);
    });

  tenants
    .command('create')
    .description('a new tenant, optionally with its first owner (same rules as POST /tenants)')
    .requiredOption('--slug <slug>', 'subdomain and x-tenant-id name: 3-63 of a-z, 0-9 and "-"')
    .requiredOption('--name <name>', 'display name')
    .option('--plan <plan>', 'plan name (default: the database default)')
    .option('--database <name>', 'placement: "shared" (default) or a dedicated database registered in TENANT_DATABASES (created and migrated on first use)')
    .option('--owner-email <email>', "first owner: an account is created with --owner-password-stdin, otherwise (or if the email has an account) an owner invitation is issued and its token printed once")
    .option('--owner-name <name>', 'first owner\'s display name (with --owner-password-stdin)')
    .option('--owner-password-stdin', 'read the first owner\'s password from the first line of stdin')
    .option('--json', 'print a JSON object')
    .action(async (options: { slug: string; name: string; plan?: string; database?: string; ownerEmail?: string; ownerName?: string; ownerPasswordStdin?: boolean; json?: boolean }) => {
      if (!options.ownerEmail && (options.ownerName || options.ownerPasswordStdin)) {
        throw new UsageError('--owner-name and --owner-password-stdin need --owner-email');
      }
      const password = options.ownerPasswordStdin ? await readLineFromStdin() : undefined;
      const input = createTenantSchema.safeParse({
        slug: options.slug,
        name: options.name,
        plan: options.plan,
        database: options.database,
        owner: options.ownerEmail ? { email: options.ownerEmail, password, name: options.ownerName } : undefined,
      });
      if (!input.success) throw new UsageError(`invalid tenant:\n${z.prettifyError(input.error)}`);
      const created = await withTenantsService(env, (service) => service.create(input.data));
      if (options.json) return printJson(created);
      const { owner, ...tenant } = created;
      printTenant(tenant);
      if (owner?.member) printLines(`owner: ${owner.member.email} (account created, role owner)`);
      if (owner?.invitation) {
        printLines(
          `owner invitation for ${owner.invitation.email}, expires ${owner.invitation.expiresAt}`,
          `token (shown once; the holder accepts it with POST /auth/accept-invitation): ${owner.invitation.token}`,
        );
      }
    });

  for (const [verb, status, help] of [
    ['suspend', 'suspended', 'refuse every request to a tenant (its data is kept); instances sharing REDIS_URL see it at once, others within TENANT_CACHE_TTL_MS'],
    ['resume', 'active', 'serve a suspended tenant again'],
  ] as const) {
    tenants
      .command(verb)
      .description(help)
      .argument('<id-or-slug>', 'tenant id (UUID) or slug')
      .option('--json', 'print the tenant as a JSON object')
      .action(async (idOrSlug: string, options: { json?: boolean }) => {
        const tenant = await withTenantsService(env, (service) => service.update(idOrSlug, { status }));
        if (options.json) printJson(tenant);
        else printLines(`${tenant.slug} (${tenant.id}) is ${tenant.status}`);
      });
  }

  tenants
    .command('delete')
    .description(
      "delete a tenant, verified (same operation as DELETE /tenants/:idOrSlug): suspend, delete its rows from every tenant table, purge its cache keys, " +
        'delete its files, verify none is left, delete the tenant; prints the deletion report. Needs DATABASE_MIGRATION_URL (the owner role) and, for a ' +
        'tenant on a dedicated database, its TENANT_DATABASES entry; the storage (S3_*) and REDIS_URL of the API. A failed deletion is resumed by running it again. ' +
        'Runs here, in the foreground, under the same lease as the API\'s background runs: when another run holds the deletion (an API instance, another CLI), ' +
        'it says so and exits 1 without doing anything (run it again once that lease has expired, or follow GET /tenant-deletions/:id)',
    )
    .argument('<id-or-slug>', 'tenant id (UUID) or slug')
    .requiredOption('--confirm <slug>', "the tenant's slug, typed out (nothing is done otherwise)")
    .option('--reason <text>', 'why, kept in the report')
    .option('--json', 'print the report as a JSON object')
    .action(async (idOrSlug: string, options: { confirm: string; reason?: string; json?: boolean }) => {
      const reason = options.reason?.trim();
      if (options.reason !== undefined && (!reason || reason.length > 500)) throw new UsageError('--reason: 1-500 characters');
      const request = { tenantId: idOrSlug, requestedBy: `cli:${operatorName()}`, reason };
      const { report, failure } = await withOffboardingService(env, async (offboarding) => {
        const started = await offboarding.start(request, options.confirm);
        // Over the steps; the note says which one runs (and how many rows are deleted so far).
        const progress = startProgress(`delete ${started.tenantSlug}`, 8, 'steps');
        let shown = 0;
        try {
          const done = await offboarding.run(started.id, {
            report: async ({ done: steps, stage }) => {
              progress.increment(Math.max(0, steps - shown), stage);
              shown = Math.max(shown, steps);
            },
          });
          return { report: done, failure: undefined };
        } catch (error) {
          // TenantDeletionLeasedError (another run holds it: nothing done) and TenantDeletionInterruptedError
          // (the lease lost mid-way) exit 1 with their message; a failed deletion prints its report first.
          if (!(error instanceof TenantDeletionFailedError)) throw error;
          return { report: error.report, failure: error };
        } finally {
          progress.stop();
        }
      });
      if (options.json) printJson(report);
      else printDeletion(report);
      // Printed first (it says which step failed); then exit 1 with the cause.
      if (failure) throw failure;
    });

  tenants
    .command('deletions')
    .description('tenant deletion reports, newest first (they outlive the tenants)')
    .option('--json', 'print a JSON array')
    .option('--limit <n>', 'how many (1-100)', positiveInt, 20)
    .action(async (options: { json?: boolean; limit: number }) => {
      if (options.limit > 100) throw new UsageError('--limit: at most 100');
      const page = await withOffboardingService(env, (offboarding) => offboarding.list(options.limit));
      if (options.json) return printJson(page.items);
      if (page.items.length === 0) return printLines('no tenant deletions');
      printTable(
        page.items.map((item) => ({ ...item, rows: String(Object.values(item.deleted.rows).reduce((a, b) => a + b, 0)), verified: String(item.verification?.ok ?? false) })),
        ['id', 'tenantSlug', 'status', 'attempts', 'rows', 'verified', 'requestedBy', 'startedAt', 'finishedAt'],
      );
    });

  tenants
    .command('move')
    .description(
      "move a tenant's data to another database, live (same operation as POST /tenants/:idOrSlug/move, run here in the foreground): pause its writes " +
        '(reads go on), copy every tenant table, verify counts and checksums, switch the directory, clean the source; a mismatch rolls back. ' +
        'Needs DATABASE_MIGRATION_URL and the TENANT_DATABASES entries of both databases. A failed move is resumed by running it again with the same --to',
    )
    .argument('<id-or-slug>', 'tenant id (UUID) or slug')
    .requiredOption('--to <database>', '"shared" or a TENANT_DATABASES name')
    .option('--json', 'print the report as a JSON object')
    .action(async (idOrSlug: string, options: { to: string; json?: boolean }) => {
      if (!/^[a-z][a-z0-9_-]{0,62}$/.test(options.to)) throw new UsageError('--to: "shared" or a database name (lower-case letters, digits, _ and -)');
      const { report, failure } = await withTenantMoveService(env, async (moves) => {
        const started = await moves.start({ tenant: idOrSlug, to: options.to, requestedBy: `cli:${operatorName()}` }, { resumeRunning: true });
        // Over the steps; the note says which one runs (and how many rows are copied so far).
        const progress = startProgress(`move ${started.tenantSlug} ${started.from} -> ${started.to}`, 5, 'steps');
        let shown = 0;
        try {
          const done = await moves.run(started.id, {
            report: async ({ done: steps, stage }) => {
              progress.increment(Math.max(0, steps - shown), stage);
              shown = Math.max(shown, steps);
            },
          });
          return { report: done, failure: undefined };
        } catch (error) {
          if (!(error instanceof TenantMoveFailedError)) throw error;
          return { report: error.report, failure: error };
        } finally {
          progress.stop();
        }
      });
      if (options.json) printJson(report);
      else printMove(report);
      if (failure) throw failure;
      // Rolled back: the tenant stayed where it was, but the move did not happen.
      if (report.status !== 'completed') process.exitCode = 1;
    });

  tenants
    .command('move-abort')
    .description(
      'abort a tenant move before its switch (same operation as POST /tenant-moves/:id/abort): the copy on the target is deleted, the tenant stays on its source ' +
        'and its writes resume. A move being run elsewhere stops at its next step boundary (exit 0, status still running: follow it with `tenants moves`). ' +
        'A switched or completed move cannot be aborted (exit 1): move the tenant back instead',
    )
    .argument('<move-id>', 'the move report id (UUID, see `tenants moves`)')
    .option('--json', 'print the report as a JSON object')
    .action(async (moveId: string, options: { json?: boolean }) => {
      if (!z.uuid().safeParse(moveId).success) throw new UsageError('<move-id>: a move report id (UUID)');
      const report = await withTenantMoveService(env, (moves) => moves.abort(moveId, `cli:${operatorName()}`));
      if (options.json) printJson(report);
      else printMove(report);
    });

  tenants
    .command('moves')
    .description('tenant move reports, newest first')
    .option('--json', 'print a JSON array')
    .option('--limit <n>', 'how many (1-100)', positiveInt, 20)
    .action(async (options: { json?: boolean; limit: number }) => {
      if (options.limit > 100) throw new UsageError('--limit: at most 100');
      const page = await withTenantMoveService(env, (moves) => moves.list(options.limit));
      if (options.json) return printJson(page.items);
      if (page.items.length === 0) return printLines('no tenant moves');
      printTable(
        page.items.map((item) => ({ ...item, rows: String(Object.values(item.copied ?? {}).reduce((a, b) => a + b, 0)), verified: String(item.verification?.ok ?? false) })),
        ['id', 'tenantSlug', 'from', 'to', 'status', 'step', 'attempts', 'rows', 'verified', 'requestedBy', 'startedAt', 'finishedAt'],
      );
    });

  tenants
    .command('plan')
    .description(
      "put a tenant on a plan, with its overrides (replaced as a whole: none given clears them); same rules as PUT /tenants/:idOrSlug/plan, and it bites at once on instances sharing REDIS_URL",
    )
    .argument('<id-or-slug>', 'tenant id (UUID) or slug')
    .requiredOption('--plan <plan>', 'plan id (see `plans list`)')
    .option('--feature <name=on|off>', 'turn a feature on or off for this tenant only (repeatable), e.g. attachments=on', collect, [])
    .option('--limit <name=n|unlimited>', 'override a limit for this tenant only (repeatable), e.g. documents=5000', collect, [])
    .option('--json', 'print the tenant as a JSON object')
    .action(async (idOrSlug: string, options: { plan: string; feature: string[]; limit: string[]; json?: boolean }) => {
      const features = Object.fromEntries(options.feature.map((entry) => assignment('--feature', entry, (value) => ({ on: true, off: false })[value])));
      const limits = Object.fromEntries(options.limit.map((entry) => assignment('--limit', entry, (value) => (value === 'unlimited' ? null : /^\d+$/.test(value) ? Number(value) : undefined))));
      const overrides = { ...(options.feature.length ? { features } : {}), ...(options.limit.length ? { limits } : {}) };
      const input = tenantPlanSchema.safeParse({ plan: options.plan, overrides });
      if (!input.success) throw new UsageError(`invalid plan or overrides:\n${z.prettifyError(input.error)}`);
      const tenant = await withTenantsService(env, (service) => service.setPlan(idOrSlug, input.data));
      if (options.json) printJson(tenant);
      else printLines(`${tenant.slug} (${tenant.id}) is on ${tenant.plan}, overrides ${JSON.stringify(tenant.planOverrides)}`);
    });

  addArchiveCommands(tenants, env);
  addVectorIndexCommands(tenants, env);

  return tenants;
}

/** Who runs the CLI, for the report's requested_by. */
function operatorName(): string {
  try {
    return userInfo().username || 'unknown';
  } catch {
    return 'unknown';
  }
}

function printDeletion(report: TenantDeletionView): void {
  printLines(
    `deletion ${report.id} of ${report.tenantSlug} (${report.tenantId}) on ${report.database}: ${report.status}, attempt ${report.attempts}, asked by ${report.requestedBy}`,
  );
  printTable(
    report.steps.map((step) => ({ ...step, counts: step.counts ? JSON.stringify(step.counts) : '', note: step.note ?? '' })),
    ['attempt', 'name', 'status', 'counts', 'startedAt', 'finishedAt', 'note'],
  );
  const rows = Object.values(report.deleted.rows).reduce((a, b) => a + b, 0);
  printLines(`deleted: ${rows} rows, ${report.deleted.cacheKeys} cache keys, ${report.deleted.objects} objects`);
  if (report.verification) printLines(`verified ${report.verification.ok ? 'ok' : 'NOT ok'} at ${report.verification.at}: ${JSON.stringify(report.verification.rows)}, ${report.verification.cacheKeys} keys, ${report.verification.objects} objects`);
  if (report.error) printLines(`error: ${report.error}`);
}

function printMove(report: TenantMoveView): void {
  printLines(
    `move ${report.id} of ${report.tenantSlug} (${report.tenantId}) from ${report.from} to ${report.to}: ${report.status} after step ${report.step}, attempt ${report.attempts}, asked by ${report.requestedBy}`,
  );
  const copied = Object.values(report.copied ?? {}).reduce((a, b) => a + b, 0);
  printLines(`copied: ${copied} rows ${JSON.stringify(report.copied ?? {})}`);
  if (report.verification) printLines(`verified ${report.verification.ok ? 'ok' : `NOT ok (${report.verification.mismatched.join(', ')})`} at ${report.verification.at}`);
  if (report.pausedAt) printLines(`writes paused ${report.pausedAt}, resumed ${report.resumedAt ?? '-'}`);
  if (report.cleaned) printLines(`source cleaned: ${Object.values(report.cleaned).reduce((a, b) => a + b, 0)} rows`);
  if (report.abortedBy) printLines(`abort asked by ${report.abortedBy}${report.status === 'running' ? ': the run stops at its next step boundary' : ''}`);
  if (report.error) printLines(`error: ${report.error}`);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `name=value` from a repeatable option; the value parsed, or a usage error naming the option. */
function assignment<T>(option: string, entry: string, parse: (value: string) => T | undefined): [string, T] {
  const match = /^([a-z_]+)=(.+)$/.exec(entry);
  const value = match ? parse(match[2]) : undefined;
  if (!match || value === undefined) throw new UsageError(`${option} ${entry}: expected name=value (see --help)`);
  return [match[1], value];
}
