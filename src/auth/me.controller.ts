import { Controller, Get } from '@nestjs/common';
import { TenantRoute } from '../access/route-access.decorator';
import { AuthService } from './auth.service';
import { Can } from '../access/can.decorator';

@TenantRoute()
@Controller('me')
export class MeController {
  constructor(private readonly auth: AuthService) {}

  /** The caller, the current tenant and role, and every tenant the user belongs to. */
  @Get()
  @Can('session:read')
  me() {
    return this.auth.me();
  }
}
