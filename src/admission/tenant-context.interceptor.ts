import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Observable } from 'rxjs';
import { TenantRequest } from './access.guard';
import { TenantContext } from '../tenancy/tenant-context';

/**
 * Enters the tenant context with run() around everything after the guards:
 * pipes, the handler and the response stream. Nest binds the handler chain to
 * the async context current when next.handle() is called, so everything the
 * handler awaits sees this tenant, and concurrent requests never share a store.
 */
@Injectable()
export class TenantContextInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<TenantRequest>();
    if (!request.tenant) return next.handle();
    return TenantContext.run({ tenant: request.tenant, requestId: request.id, principal: request.principal }, () => next.handle());
  }
}
