import { z } from 'zod';

export const exportQuerySchema = z.strictObject({
  period: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'Expected a month as YYYY-MM'),
  format: z.enum(['csv', 'json']).default('json'),
});
export type ExportQuery = z.infer<typeof exportQuerySchema>;

// Responses (GET /openapi.json).
const metricUsage = z.strictObject({ value: z.number().int(), limit: z.number().int().nullable(), added: z.number().int(), removed: z.number().int() }).meta({ id: 'MetricUsage' });
const billingPeriod = z.strictObject({ id: z.string(), start: z.iso.datetime(), end: z.iso.datetime() });
export const usageView = z
  .strictObject({
    plan: z.string(),
    period: billingPeriod,
    metrics: z.strictObject({ documents: metricUsage, storage_bytes: metricUsage, members: metricUsage, api_keys: metricUsage, requests: metricUsage }),
  })
  .meta({ id: 'Usage' });
/** The current value of every counted metric (GET /plan's `usage`). */
export const currentUseView = z
  .strictObject({ documents: z.number().int(), storage_bytes: z.number().int(), members: z.number().int(), api_keys: z.number().int(), requests: z.number().int() })
  .meta({ id: 'CurrentUse' });
const exportRow = z.strictObject({
  period: z.string(),
  tenant_id: z.uuid(),
  tenant_slug: z.string(),
  plan: z.string(),
  metric: z.string(),
  opening: z.number().int(),
  added: z.number().int(),
  removed: z.number().int(),
  closing: z.number().int(),
  limit: z.number().int().nullable(),
});
export const usageExportView = z.strictObject({ period: z.string(), start: z.iso.datetime(), end: z.iso.datetime(), rows: z.array(exportRow) }).meta({ id: 'UsageExport' });
