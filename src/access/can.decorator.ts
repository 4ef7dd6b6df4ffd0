import { SetMetadata } from '@nestjs/common';
import { Action } from './permissions';

export const REQUIRED_ACTION = 'required-action';

/**
 * The action a tenant route performs (see permissions.ts). The guard admits the
 * request only if the caller's role in the tenant allows it. A @TenantRoute
 * handler without @Can is refused (fail closed), so a new route cannot be
 * reachable by every role by accident. Put it on the handler, or on the class
 * as a default for all its handlers.
 */
export const Can = (action: Action) => SetMetadata(REQUIRED_ACTION, action);
