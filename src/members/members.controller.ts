import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ErrorCode } from '../common/errors/error-codes';
import { ApiOperation } from '../common/http/api-operation';
import { z } from 'zod';
import { ZodValidationPipe } from '../common/http/zod-validation.pipe';
import { Can } from '../access/can.decorator';
import { currentPrincipal } from '../access/principal';
import { TenantRoute } from '../access/route-access.decorator';
import { InvitationsService } from './invitations.service';
import {
  changeRoleSchema,
  ChangeRoleInput,
  invitationPage,
  invitationParamsSchema,
  inviteMemberResultView,
  inviteMemberSchema,
  InviteMemberInput,
  listQuerySchema,
  ListQuery,
  memberPage,
  memberParamsSchema,
  memberView,
} from './members.schemas';
import { MembersService } from './members.service';

@TenantRoute()
@Controller('members')
export class MembersController {
  constructor(
    private readonly members: MembersService,
    private readonly invitations: InvitationsService,
  ) {}

  @Get()
  @Can('members:read')
  @ApiOperation({ id: 'members.list', summary: "The tenant's members and their roles", response: { schema: memberPage } })
  list(@Query(new ZodValidationPipe(listQuerySchema)) query: ListQuery) {
    return this.members.list(query);
  }

  /** Always an invitation (token shown once); the account joins when its holder accepts it. */
  @Post()
  @Can('members:manage')
  @HttpCode(201)
  @ApiOperation({ id: 'members.invite', summary: 'Invite someone (the token is in this response only)', response: { schema: inviteMemberResultView }, errors: [ErrorCode.Conflict] })
  invite(@Body(new ZodValidationPipe(inviteMemberSchema)) body: InviteMemberInput) {
    return this.members.invite(body, currentPrincipal());
  }

  @Get('invitations')
  @Can('members:manage')
  @ApiOperation({ id: 'invitations.list', summary: 'Pending invitations (never their tokens)', response: { schema: invitationPage } })
  listInvitations(@Query(new ZodValidationPipe(listQuerySchema)) query: ListQuery) {
    return this.invitations.listPending(query);
  }

  @Delete('invitations/:id')
  @Can('members:manage')
  @HttpCode(204)
  @ApiOperation({ id: 'invitations.revoke', summary: 'Revoke a pending invitation', errors: [ErrorCode.NotFound] })
  revokeInvitation(@Param(new ZodValidationPipe(invitationParamsSchema)) params: z.infer<typeof invitationParamsSchema>) {
    return this.members.revokeInvitation(params.id, currentPrincipal());
  }

  @Patch(':userId')
  @Can('members:manage')
  @ApiOperation({ id: 'members.changeRole', summary: "Change a member's role", response: { schema: memberView }, errors: [ErrorCode.NotFound, ErrorCode.LastOwner] })
  changeRole(
    @Param(new ZodValidationPipe(memberParamsSchema)) params: z.infer<typeof memberParamsSchema>,
    @Body(new ZodValidationPipe(changeRoleSchema)) body: ChangeRoleInput,
  ) {
    return this.members.changeRole(params.userId, body.role, currentPrincipal());
  }

  @Delete(':userId')
  @Can('members:manage')
  @HttpCode(204)
  @ApiOperation({ id: 'members.remove', summary: 'Remove a member from the tenant', errors: [ErrorCode.NotFound, ErrorCode.LastOwner] })
  remove(@Param(new ZodValidationPipe(memberParamsSchema)) params: z.infer<typeof memberParamsSchema>) {
    return this.members.remove(params.userId, currentPrincipal());
  }
}
