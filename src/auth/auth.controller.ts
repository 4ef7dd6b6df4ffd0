import { Body, Controller, HttpCode, Ip, Post } from '@nestjs/common';
import { ErrorCode } from '../common/errors/error-codes';
import { ApiOperation } from '../common/http/api-operation';
import { ZodValidationPipe } from '../common/http/zod-validation.pipe';
import { TenantRoute, TenantSignInRoute } from '../access/route-access.decorator';
import { AcceptInvitationInput, acceptInvitationSchema, LoginInput, loginSchema, sessionView, switchTenantSchema, SwitchTenantInput } from './auth.schemas';
import { AuthService } from './auth.service';
import { Can } from '../access/can.decorator';

@Controller('auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  /** Email + password, and the tenant by header or subdomain -> an access token for that tenant. */
  @Post('login')
  @TenantSignInRoute()
  @HttpCode(200)
  @ApiOperation({
    id: 'auth.login',
    summary: 'Sign in to a tenant: an access token',
    response: { schema: sessionView },
    errors: [ErrorCode.InvalidCredentials, ErrorCode.TooManyRequests],
  })
  login(@Body(new ZodValidationPipe(loginSchema)) body: LoginInput, @Ip() address: string) {
    return this.auth.login(body, address);
  }

  @Post('accept-invitation')
  @TenantSignInRoute()
  @HttpCode(200)
  @ApiOperation({
    id: 'auth.acceptInvitation',
    summary: 'Accept an invitation: joins the tenant and signs in',
    response: { schema: sessionView },
    errors: [ErrorCode.InvitationInvalid, ErrorCode.InvalidCredentials, ErrorCode.TooManyRequests, ErrorCode.Conflict],
  })
  acceptInvitation(@Body(new ZodValidationPipe(acceptInvitationSchema)) body: AcceptInvitationInput, @Ip() address: string) {
    return this.auth.acceptInvitation(body, address);
  }

  /** Authenticated by the current tenant's token; body names the target tenant. */
  @Post('switch-tenant')
  @TenantRoute()
  @Can('session:read')
  @HttpCode(200)
  @ApiOperation({ id: 'auth.switchTenant', summary: 'A session for another tenant you belong to', response: { schema: sessionView } })
  switchTenant(@Body(new ZodValidationPipe(switchTenantSchema)) body: SwitchTenantInput) {
    return this.auth.switchTenant(body.tenant);
  }
}
