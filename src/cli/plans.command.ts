import { Command } from 'commander';
import { PlanView } from '../plans/plans.service';
import { printJson, printLines, printTable } from './cli-output';
import { withPlansService } from './cli.module';

type Env = Record<string, string | undefined>;

const limitText = (value: number | null) => (value === null ? 'unlimited' : String(value));

function planRows(plans: PlanView[]): Array<Record<string, string>> {
  return plans.map((plan) => ({
    id: plan.id,
    name: plan.name,
    features: plan.features.join(',') || '-',
    ...Object.fromEntries(Object.entries(plan.limits).map(([name, value]) => [name, limitText(value)])),
  }));
}

export function plansCommand(env: Env): Command {
  const plans = new Command('plans').description('the plans tenants are on: features and limits (edit with PUT /plans/:id; a tenant\'s plan with `tenants plan`)');

  plans
    .command('list')
    .description('every plan with its features and limits')
    .option('--json', 'print a JSON array')
    .action(async (options: { json?: boolean }) => {
      const { items } = await withPlansService(env, (service) => service.list());
      if (options.json) printJson(items);
      else if (items.length === 0) printLines('no plans');
      else printTable(planRows(items), ['id', 'name', 'features', 'documents', 'storage_bytes', 'members', 'api_keys', 'requests_per_minute']);
    });

  plans
    .command('show')
    .description('one plan')
    .argument('<id>', 'plan id (e.g. free)')
    .option('--json', 'print a JSON object')
    .action(async (id: string, options: { json?: boolean }) => {
      const plan = await withPlansService(env, (service) => service.get(id));
      if (options.json) printJson(plan);
      else printTable(Object.entries(planRows([plan])[0]).map(([field, value]) => ({ field, value })), ['field', 'value']);
    });

  return plans;
}
