import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Observable } from 'rxjs';
import { AccessCache } from '../access/access-cache';
import { claimRefusal } from '../access/access-errors';
import { TenantDb } from '../database/tenant-db';
import { AccessClaim, TenantContext, TenantScope } from '../tenancy/tenant-context';
import { TenantRequest } from './access.guard';

/**
 * Enters the tenant context with run() around everything after the guards:
 * pipes, the handler and the response stream. Nest binds the handler chain to
 * the async context current when next.handle() is called, so everything the
 * handler awaits sees this tenant, and concurrent requests never share a store.
 *
 * It also closes the one gap of admitting from AccessCache: a request whose
 * claim PostgreSQL never saw (admitted from the cache, and no statement sent,
 * e.g. a read served from the document cache) is confirmed with one statement
 * before its answer leaves. When PostgreSQL refuses a claim, the request gets
 * the answer AccessGuard would have given (access-errors.ts), and this instance
 * forgets the cached credential so the next request is judged afresh.
 */
@Injectable()
export class TenantContextInterceptor implements NestInterceptor {
  constructor(
    private readonly db: TenantDb,
    private readonly accessCache: AccessCache,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<TenantRequest>();
    if (!request.tenant) return next.handle();
    const scope: TenantScope = { tenant: request.tenant, requestId: request.id, principal: request.principal, claim: request.claim };
    const claim = request.claim;
    return TenantContext.run(scope, () => {
      const handled = next.handle();
      if (!claim) return handled;
      // One subscriber instead of an operator chain: this runs on every tenant request.
      return new Observable<unknown>((subscriber) => {
        const refused = (error: unknown) => {
          const refusal = claimRefusal(error, claim);
          if (refusal) this.forget(scope.tenant.id, claim);
          subscriber.error(refusal ?? error);
        };
        let confirming: Promise<void> | undefined;
        return handled.subscribe({
          next: (value) => {
            if (claim.confirmed) return subscriber.next(value);
            confirming = TenantContext.run(scope, () => this.db.confirmClaim()).then(() => subscriber.next(value), refused);
          },
          error: refused,
          // After a refusal the subscriber is already closed, and complete() does nothing.
          complete: () => (confirming ? void confirming.then(() => subscriber.complete()) : subscriber.complete()),
        });
      });
    });
  }

  private forget(tenantId: string, claim: AccessClaim): void {
    if (claim.kind === 'user') this.accessCache.forgetMember(tenantId, claim.id);
    else this.accessCache.forgetApiKey(claim.id);
  }
}
