import { PipeTransform } from '@nestjs/common';
import { z } from 'zod';
import { AppError } from '../errors/app-error';

/**
 * Validates a body, query or params object against a zod schema and returns the
 * parsed value. Schemas are strict objects, so unknown fields (tenantId among
 * them) are rejected with 400 instead of being silently honoured or dropped.
 */
export class ZodValidationPipe<T extends z.ZodType> implements PipeTransform<unknown, z.infer<T>> {
  constructor(private readonly schema: T) {}

  transform(value: unknown): z.infer<T> {
    const result = this.schema.safeParse(value ?? {});
    if (result.success) return result.data;
    throw AppError.validation(
      result.error.issues.map((issue) => ({
        path: issue.path.join('.') || (issue.code === 'unrecognized_keys' ? '' : '(body)'),
        message: issue.code === 'unrecognized_keys' ? `Unknown field(s): ${issue.keys.join(', ')}` : issue.message,
      })),
    );
  }
}

export const uuidParam = z.uuid({ message: 'must be a UUID' }).transform((v) => v.toLowerCase());
