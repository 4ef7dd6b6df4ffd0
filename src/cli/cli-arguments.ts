import { InvalidArgumentError } from 'commander';

/** A count flag (--page-size, --concurrency): commander refuses anything else with exit 2, naming the flag. */
export function positiveInt(raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 1000) throw new InvalidArgumentError('an integer from 1 to 1000');
  return value;
}
