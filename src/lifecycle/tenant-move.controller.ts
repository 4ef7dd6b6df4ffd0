import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { z } from 'zod';
import { PlatformAdminId } from '../access/platform-admin';
import { PlatformAdminRoute } from '../access/route-access.decorator';
import { ErrorCode } from '../common/errors/error-codes';
import { ApiOperation } from '../common/http/api-operation';
import { ReplyWithStatus } from '../common/http/reply';
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

  @Post('tenant-moves/:id/abort')
  @HttpCode(200)
  @ApiOperation({
    id: 'tenantMoves.abort',
    summary: 'Abort a tenant move before its switch: the copy on the target is deleted, the tenant stays on its source and its writes resume there',
    description:
      'When no run holds the move (queued, failed) it is aborted at once: 200, status aborted. While its job runs, the run is asked to stop at its next step boundary: 202, ' +
      'status still running with abortedBy set; follow GET /tenant-moves/:id. Aborting an aborted move returns it (200). ' +
      'Once switched (or completed): 409 TENANT_MOVE_SWITCHED, move the tenant back instead; rolled back: 409 TENANT_MOVE_FINISHED.',
    response: { schema: tenantMoveView },
    errors: [ErrorCode.NotFound, ErrorCode.TenantMoveSwitched, ErrorCode.TenantMoveFinished, ErrorCode.Conflict, ErrorCode.ServiceUnavailable],
  })
  async abort(
    @Param(new ZodValidationPipe(tenantMoveParamsSchema)) params: z.infer<typeof tenantMoveParamsSchema>,
    @PlatformAdminId() abortedBy: string,
    @Res({ passthrough: true }) reply: ReplyWithStatus,
  ) {
    const move = await this.moves.abort(params.id, abortedBy);
    if (move.status === 'running') reply.status(202);
    return move;
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
