import { Controller, Get } from '@nestjs/common';
import { PublicRoute } from '../tenancy/route-access.decorator';

@PublicRoute()
@Controller('health')
export class HealthController {
  @Get()
  health() {
    return { status: 'ok' };
  }
}
