import { Controller, Get } from '@nestjs/common';
import { ApiOperation } from '../common/http/api-operation';
import { TenantRoute } from '../access/route-access.decorator';
import { meView } from './auth.schemas';
import { AuthService } from './auth.service';
import { Can } from '../access/can.decorator';

@TenantRoute()
@Controller('me')
export class MeController {
  constructor(private readonly auth: AuthService) {}

  /** The caller, the current tenant and role, and every tenant the user belongs to. */
  @Get()
  @Can('session:read')
  @ApiOperation({ id: 'me.get', summary: 'The caller, the current tenant and role, and every tenant the user belongs to', response: { schema: meView } })
  me() {
    return this.auth.me();
  }
}
