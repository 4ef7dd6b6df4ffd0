import { z } from 'zod';

export const exportQuerySchema = z.strictObject({
  period: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'Expected a month as YYYY-MM'),
  format: z.enum(['csv', 'json']).default('json'),
});
export type ExportQuery = z.infer<typeof exportQuerySchema>;
