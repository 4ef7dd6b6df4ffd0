import { Module } from '@nestjs/common';
import { AccessModule } from '../access/access.module';
import { UsersModule } from '../users/users.module';
import { InvitationsRepository } from './invitations.repository';
import { InvitationsService } from './invitations.service';
import { MembersController } from './members.controller';
import { MembershipsRepository } from './memberships.repository';
import { MembersService } from './members.service';

@Module({
  imports: [AccessModule, UsersModule],
  controllers: [MembersController],
  providers: [MembershipsRepository, InvitationsRepository, InvitationsService, MembersService],
  exports: [MembershipsRepository, InvitationsService, MembersService],
})
export class MembersModule {}
