import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { z } from 'zod';
import { ZodValidationPipe } from '../common/http/zod-validation.pipe';
import { Can } from '../access/can.decorator';
import { currentPrincipal } from '../access/principal';
import { TenantRoute } from '../access/route-access.decorator';
import { InvitationsService } from './invitations.service';
import {
  changeRoleSchema,
  ChangeRoleInput,
  invitationParamsSchema,
  inviteMemberSchema,
  InviteMemberInput,
  listQuerySchema,
  ListQuery,
  memberParamsSchema,
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
  list(@Query(new ZodValidationPipe(listQuerySchema)) query: ListQuery) {
    return this.members.list(query);
  }

  /** Always an invitation (token shown once); the account joins when its holder accepts it. */
  @Post()
  @Can('members:manage')
  @HttpCode(201)
  invite(@Body(new ZodValidationPipe(inviteMemberSchema)) body: InviteMemberInput) {
    return this.members.invite(body, currentPrincipal());
  }

  @Get('invitations')
  @Can('members:manage')
  listInvitations(@Query(new ZodValidationPipe(listQuerySchema)) query: ListQuery) {
    return this.invitations.listPending(query);
  }

  @Delete('invitations/:id')
  @Can('members:manage')
  @HttpCode(204)
  revokeInvitation(@Param(new ZodValidationPipe(invitationParamsSchema)) params: z.infer<typeof invitationParamsSchema>) {
    return this.members.revokeInvitation(params.id, currentPrincipal());
  }

  @Patch(':userId')
  @Can('members:manage')
  changeRole(
    @Param(new ZodValidationPipe(memberParamsSchema)) params: z.infer<typeof memberParamsSchema>,
    @Body(new ZodValidationPipe(changeRoleSchema)) body: ChangeRoleInput,
  ) {
    return this.members.changeRole(params.userId, body.role, currentPrincipal());
  }

  @Delete(':userId')
  @Can('members:manage')
  @HttpCode(204)
  remove(@Param(new ZodValidationPipe(memberParamsSchema)) params: z.infer<typeof memberParamsSchema>) {
    return this.members.remove(params.userId, currentPrincipal());
  }
}
