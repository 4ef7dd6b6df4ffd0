import { z } from 'zod';
import { pageOf, paginationQuery } from '../common/http/cursor';
import { uuidParam } from '../common/http/zod-validation.pipe';
import { JOB_STATUSES } from '../database/schema/jobs';

export const listJobsQuerySchema = z.strictObject(paginationQuery);
export type ListJobsQuery = z.infer<typeof listJobsQuerySchema>;
export const jobParamsSchema = z.strictObject({ id: uuidParam });

// Responses (GET /openapi.json); JobView is inferred from it.
export const jobView = z
  .object({
    id: z.uuid(),
    kind: z.string(),
    status: z.enum(JOB_STATUSES),
    progress: z.object({ done: z.number().int(), total: z.number().int().nullable(), stage: z.string().nullable() }),
    attempts: z.number().int().meta({ description: 'Attempts started so far' }),
    maxAttempts: z.number().int(),
    lastError: z
      .object({ code: z.string(), message: z.string() })
      .nullable()
      .meta({ description: "The last failed attempt's error (kept after a later success)" }),
    result: z.record(z.string(), z.unknown()).nullable(),
    requestedBy: z.uuid().nullable().meta({ description: 'The user or API key that enqueued it; null for platform or system work' }),
    createdAt: z.iso.datetime(),
    startedAt: z.iso.datetime().nullable(),
    finishedAt: z.iso.datetime().nullable(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'Job' });
export type JobView = z.infer<typeof jobView>;
export const jobPage = pageOf(jobView, 'JobPage');
