import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { z } from 'zod';
import { PlatformAdminId } from '../access/platform-admin';
import { PlatformAdminRoute } from '../access/route-access.decorator';
import { ErrorCode } from '../common/errors/error-codes';
import { ApiOperation } from '../common/http/api-operation';
import { ZodValidationPipe } from '../common/http/zod-validation.pipe';
import { listTenantMovesQuerySchema, MoveTenantBody, moveTenantBodySchema, tenantMovePage, tenantMoveParamsSchema, tenantMoveView } from './tenant-move.schemas';
import { TenantMoveService } from './tenant-move.service';

/** Moving a tenant between databases (README "Moving a tenant"). Platform admin only. */
@PlatformAdminRoute()
@Controller()
export class TenantMoveController {
  constructor(private readonly moves: TenantMoveService) {}

  @Post('tenants/:idOrSlug/move')
  @HttpCode(202)
  @ApiOperation({
    id: 'tenants.move',
    summary: "Move a tenant's data to another database (shared or dedicated), live: its writes pause, reads go on; verified, then switched",
    description:
      'Answers 202 with the move report at once; the move runs as a background job (tenants.move). Follow it with GET /tenant-moves/:id. ' +
      'A move of the tenant that failed part way is resumed by asking again with the same target; one still running is 409.',
    response: { schema: tenantMoveView },
    errors: [ErrorCode.NotFound, ErrorCode.Conflict, ErrorCode.ServiceUnavailable],
  })
  async move(@Param('idOrSlug') idOrSlug: string, @Body(new ZodValidationPipe(moveTenantBodySchema)) body: MoveTenantBody, @PlatformAdminId() requestedBy: string) {
    const move = await this.moves.start({ tenant: idOrSlug, to: body.to, requestedBy });
    return this.moves.launch(move);
  }

  @Get('tenant-moves')
  @ApiOperation({ id: 'tenantMoves.list', summary: 'Tenant move reports, newest first', response: { schema: tenantMovePage }, errors: [ErrorCode.InvalidCursor, ErrorCode.ServiceUnavailable] })
  list(@Query(new ZodValidationPipe(listTenantMovesQuerySchema)) query: z.infer<typeof listTenantMovesQuerySchema>) {
    return this.moves.list(query.limit, query.cursor);
  }

  @Get('tenant-moves/:id')
  @ApiOperation({
    id: 'tenantMoves.get',
    summary: 'One tenant move: its step, rows copied, the verification (counts and checksums per table, both sides), when writes paused and resumed',
    response: { schema: tenantMoveView },
    errors: [ErrorCode.NotFound, ErrorCode.ServiceUnavailable],
  })
  get(@Param(new ZodValidationPipe(tenantMoveParamsSchema)) params: z.infer<typeof tenantMoveParamsSchema>) {
    return this.moves.get(params.id);
  }
}
