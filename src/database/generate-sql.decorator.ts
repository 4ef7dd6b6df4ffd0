/**
 * `@GenerateSql(...)` on a repository method declares the sample arguments to
 * call it with when its SQL is written to `src/queries/<name>.repository.sql`
 * (`npm run db:queries`; test/database/queries.e2e-spec.ts fails when a
 * method lacks the declaration or a committed file is out of date). Metadata
 * only: the decorator stores the samples and leaves the method untouched.
 *
 * Several variants list one query shape each (e.g. a list with and without a
 * cursor); a method that takes no arguments is just `@GenerateSql()`.
 */

/** Sample values: fixed, so the generated files are deterministic (values never appear in them anyway: they are $n parameters). */
export const DummyValue = {
  UUID: '00000000-0000-4000-8000-000000000001',
  UUID_2: '00000000-0000-4000-8000-000000000002',
  EMAIL: 'someone@example.test',
  STRING: 'sample',
  DATE: new Date('2026-01-01T00:00:00.000Z'),
  NUMBER: 10,
  /** Replaced by the `tx` handle of a `TenantDb.transaction()` the method is called inside. */
  TX: Symbol.for('generate-sql.transaction'),
} as const;

export interface GenerateSqlVariant {
  /** Distinguishes variants of one method in the file, e.g. "with cursor". */
  name?: string;
  params?: unknown[];
}

const registry = new WeakMap<object, Map<string, GenerateSqlVariant[]>>();

export function GenerateSql(...variants: GenerateSqlVariant[]): MethodDecorator {
  return (target, propertyKey) => {
    let methods = registry.get(target);
    if (!methods) {
      methods = new Map();
      registry.set(target, methods);
    }
    methods.set(String(propertyKey), variants.length > 0 ? variants : [{}]);
  };
}

/** The declared variants of `prototype[method]`, or undefined when the method has no @GenerateSql. */
export function generateSqlVariants(prototype: object, method: string): GenerateSqlVariant[] | undefined {
  return registry.get(prototype)?.get(method);
}
