import { PlatformTransaction, SystemDb } from './system-db';

export type { PlatformTransaction } from './system-db';

/**
 * What feature code may do with SystemDb: open a named, audited platform
 * transaction (SystemDb.transaction) for a multi-step write that must commit as
 * a whole, e.g. a tenant with its first owner. The handle it gives runs no
 * query itself: it is passed to platform repository methods (their optional
 * `tx`) and enters a tenant with asTenant(), which gives a TenantDb bound to
 * the same transaction. Raw platform queries stay in the platform repositories.
 */
export class Transactions {
  constructor(private readonly systemDb: SystemDb) {}

  run<T>(operation: string, fn: (platform: PlatformTransaction) => Promise<T>): Promise<T> {
    return this.systemDb.transaction(operation, fn);
  }
}
