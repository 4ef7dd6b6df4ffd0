/**
 * What a handler may use of the reply it gets with `@Res({ passthrough: true })`,
 * on either adapter (Fastify's reply and Express' response both have these).
 */
export interface ReplyWithHeaders {
  header(name: string, value: string): unknown;
}

export interface ReplyWithStatus {
  status(code: number): unknown;
}
