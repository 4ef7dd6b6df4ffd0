import { Injectable } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { oas31 } from 'zod-openapi';
import { buildOpenApiDocument } from './openapi-document';
import { catalogRoutes } from './route-catalog';

/** The app's document, built on first use (routes do not change once the app is up) and kept. */
@Injectable()
export class OpenApiService {
  private built?: oas31.OpenAPIObject;

  constructor(private readonly modules: ModulesContainer) {}

  document(): oas31.OpenAPIObject {
    this.built ??= buildOpenApiDocument(catalogRoutes(this.modules));
    return this.built;
  }
}
