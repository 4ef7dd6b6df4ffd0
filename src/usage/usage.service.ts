import { Injectable } from '@nestjs/common';
import { AppError } from '../common/errors/app-error';
import { USAGE_METRICS, UsageMetric } from '../database/schema';
import { TenantDb } from '../database/tenant-db';
import type { Tenant } from '../tenancy/tenant';
import { TenantContext } from '../tenancy/tenant-context';
import { BillingPeriod, billingPeriodOf, parseBillingPeriod } from './billing-period';
import { toCsv } from './usage-csv';
import { UsageExportRepository } from './usage-export.repository';
import { limitFor } from './usage-ledger.service';
import { UsageRepository } from './usage.repository';

export interface MetricUsage {
  /** Current value: the counter (for requests: every request counted so far). */
  value: number;
  /** The plan's limit with overrides (null: unlimited; requests have none, their rate is a rate limit). */
  limit: number | null;
  /** This period: sum of increases (created, uploaded, joined; requests counted). */
  added: number;
  /** This period: sum of decreases (deleted, removed, revoked). */
  removed: number;
}

export interface UsageView {
  plan: string;
  period: { id: string; start: string; end: string };
  metrics: Record<UsageMetric, MetricUsage>;
}

export const EXPORT_COLUMNS = ['period', 'tenant_id', 'tenant_slug', 'plan', 'metric', 'opening', 'added', 'removed', 'closing', 'limit'] as const;
export type ExportRow = { [K in (typeof EXPORT_COLUMNS)[number]]: K extends 'opening' | 'added' | 'removed' | 'closing' ? number : K extends 'limit' ? number | null : string };

const periodView = (period: BillingPeriod) => ({ id: period.id, start: period.start.toISOString(), end: period.end.toISOString() });

@Injectable()
export class UsageService {
  constructor(
    private readonly usage: UsageRepository,
    private readonly exports: UsageExportRepository,
  ) {}

  /** Current use per metric (the counters): what GET /plan shows beside the limits. */
  async currentUse(): Promise<Record<UsageMetric, number>> {
    const values = new Map((await this.usage.counters()).map((c) => [c.metric, c.value]));
    return Object.fromEntries(USAGE_METRICS.map((m) => [m, values.get(m) ?? 0])) as Record<UsageMetric, number>;
  }

  /** GET /usage: this billing period (calendar month, UTC) against the limits. */
  async current(now = new Date()): Promise<UsageView> {
    const tenant = TenantContext.current();
    const period = billingPeriodOf(now);
    const [values, totals] = await Promise.all([this.currentUse(), this.usage.periodTotals(period.start, period.end)]);
    const moved = new Map(totals.map((t) => [t.metric, t]));
    const metrics = Object.fromEntries(
      USAGE_METRICS.map((m): [UsageMetric, MetricUsage] => [
        m,
        { value: values[m], limit: limitFor(tenant.entitlements.limits, m), added: moved.get(m)?.added ?? 0, removed: moved.get(m)?.removed ?? 0 },
      ]),
    ) as Record<UsageMetric, MetricUsage>;
    return { plan: tenant.entitlements.plan, period: periodView(period), metrics };
  }

  /**
   * One billing period for every tenant: per tenant and metric, the value at
   * the start (opening), the period's increases and decreases, the value at
   * the end (closing) and the current limit. A period not yet over is exported
   * as it stands (closing = now).
   */
  async export(periodId: string): Promise<{ period: BillingPeriod; rows: ExportRow[] }> {
    const period = parseBillingPeriod(periodId);
    if (!period) throw AppError.validation([{ path: 'period', message: 'Expected a month as YYYY-MM' }]);
    const perTenant = await this.exports.forEachTenant((tenant, tx) => this.tenantRows(period, tenant, tx));
    return { period, rows: perTenant.flat() };
  }

  exportCsv(rows: ExportRow[]): string {
    return toCsv(EXPORT_COLUMNS, rows.map((row) => EXPORT_COLUMNS.map((column) => row[column])));
  }

  private async tenantRows(period: BillingPeriod, tenant: Tenant, tx: TenantDb): Promise<ExportRow[]> {
    const opening = await this.usage.balancesAt(period.start, tx);
    const closing = await this.usage.balancesAt(period.end, tx);
    const moved = new Map((await this.usage.periodTotals(period.start, period.end, tx)).map((t) => [t.metric, t]));
    return USAGE_METRICS.map((metric) => ({
      period: period.id,
      tenant_id: tenant.id,
      tenant_slug: tenant.slug,
      plan: tenant.entitlements.plan,
      metric,
      opening: opening.get(metric) ?? 0,
      added: moved.get(metric)?.added ?? 0,
      removed: moved.get(metric)?.removed ?? 0,
      closing: closing.get(metric) ?? 0,
      limit: limitFor(tenant.entitlements.limits, metric),
    }));
  }
}
