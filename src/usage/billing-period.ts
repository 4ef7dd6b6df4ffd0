/** A billing period: a calendar month in UTC, named `YYYY-MM`. */
export interface BillingPeriod {
  id: string;
  start: Date;
  /** Exclusive: the first instant of the next month. */
  end: Date;
}

const PERIOD = /^(\d{4})-(0[1-9]|1[0-2])$/;

export function billingPeriodOf(at: Date): BillingPeriod {
  return periodFor(at.getUTCFullYear(), at.getUTCMonth());
}

/** `2026-11` -> that month; undefined when it is not a valid `YYYY-MM`. */
export function parseBillingPeriod(id: string): BillingPeriod | undefined {
  const m = PERIOD.exec(id);
  return m ? periodFor(Number(m[1]), Number(m[2]) - 1) : undefined;
}

function periodFor(year: number, month: number): BillingPeriod {
  const start = new Date(Date.UTC(year, month, 1));
  const end = new Date(Date.UTC(year, month + 1, 1));
  return { id: `${year.toString().padStart(4, '0')}-${String(month + 1).padStart(2, '0')}`, start, end };
}
