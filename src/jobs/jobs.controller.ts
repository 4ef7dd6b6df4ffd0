import { Controller, Get, Param, Query } from '@nestjs/common';
import { z } from 'zod';
import { Can } from '../access/can.decorator';
import { TenantRoute } from '../access/route-access.decorator';
import { ErrorCode } from '../common/errors/error-codes';
import { ApiOperation } from '../common/http/api-operation';
import { ZodValidationPipe } from '../common/http/zod-validation.pipe';
import { jobPage, jobParamsSchema, jobView, ListJobsQuery, listJobsQuerySchema } from './jobs.schemas';
import { JobsService } from './jobs.service';

/** The tenant's own background jobs: status, progress, attempts and the last error. Another tenant's job id is a 404 like a random one. */
@TenantRoute()
@Controller('jobs')
export class JobsController {
  constructor(private readonly jobs: JobsService) {}

  @Get()
  @Can('jobs:read')
  @ApiOperation({ id: 'jobs.list', summary: "List the tenant's background jobs, newest first", response: { schema: jobPage } })
  list(@Query(new ZodValidationPipe(listJobsQuerySchema)) query: ListJobsQuery) {
    return this.jobs.list(query);
  }

  @Get(':id')
  @Can('jobs:read')
  @ApiOperation({ id: 'jobs.get', summary: 'Get a background job: status, progress, attempts, last error, result', response: { schema: jobView }, errors: [ErrorCode.NotFound] })
  get(@Param(new ZodValidationPipe(jobParamsSchema)) params: z.infer<typeof jobParamsSchema>) {
    return this.jobs.get(params.id);
  }
}
