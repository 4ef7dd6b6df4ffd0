import { Body, Controller, HttpCode, Ip, Post } from '@nestjs/common';
import { ZodValidationPipe } from '../common/http/zod-validation.pipe';
import { TenantRoute, TenantSignInRoute } from '../access/route-access.decorator';
import { AcceptInvitationInput, acceptInvitationSchema, LoginInput, loginSchema, switchTenantSchema, SwitchTenantInput } from './auth.schemas';
import { AuthService } from './auth.service';
import { Can } from '../access/can.decorator';

@Controller('auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  /** Email + password, and the tenant by header or subdomain -> an access token for that tenant. */
  @Post('login')
  @TenantSignInRoute()
  @HttpCode(200)
  login(@Body(new ZodValidationPipe(loginSchema)) body: LoginInput, @Ip() address: string) {
    return this.auth.login(body, address);
  }

  @Post('accept-invitation')
  @TenantSignInRoute()
  @HttpCode(200)
  acceptInvitation(@Body(new ZodValidationPipe(acceptInvitationSchema)) body: AcceptInvitationInput, @Ip() address: string) {
    return this.auth.acceptInvitation(body, address);
  }

  /** Authenticated by the current tenant's token; body names the target tenant. */
  @Post('switch-tenant')
  @TenantRoute()
  @Can('session:read')
  @HttpCode(200)
  switchTenant(@Body(new ZodValidationPipe(switchTenantSchema)) body: SwitchTenantInput) {
    return this.auth.switchTenant(body.tenant);
  }
}
