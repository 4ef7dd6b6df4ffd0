import { createHash } from 'node:crypto';
import pg from 'pg';
import { AccessClaim, tagWithClaim } from '../../tenancy/tenant-context';
// pg's row parser; the same one pg.Query uses, so rows come back exactly as pg would build them.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Result: new (rowMode?: string, types?: unknown) => PgResult = require('pg/lib/result');

/**
 * Runs one statement for one tenant in a single round trip, as one implicit
 * transaction, on the extended protocol:
 *
 *   Parse/Bind/Execute  select 1 where set_config('app.tenant_id', $1, true) is null
 *   Parse/Bind/Describe/Execute  <the statement>
 *   Sync
 *
 * For a request admitted with a claim (a user's role or an API key, see
 * AccessClaim), the first statement is `tenancy_enter(tenant, kind, id, role)`
 * instead: it sets the tenant the same way and raises (TA401/TA403/TA409) when
 * the claim no longer holds. PostgreSQL skips everything after an error until
 * the Sync, so the statement never runs for a removed member or a revoked key,
 * and the check costs no extra round trip.
 *
 * Everything up to a Sync runs in one implicit transaction, so the
 * transaction-local set_config applies to the statement and ends with it. No
 * BEGIN/COMMIT is sent: under load those cost as much as the query itself (see
 * README, "Toolchain facts"). After the Sync the setting
 * is gone from the connection whatever happened, so a pooled connection never
 * carries a tenant into the next request.
 *
 * Statements are prepared under a name derived from their text and reused per
 * connection. pg itself only knows the statements it parsed, so this object
 * keeps its own per-connection registry and never exposes a `name` to pg.
 */

interface PgResult {
  command: string | null;
  rowCount: number | null;
  rows: unknown[];
  fields: unknown[];
  addFields(fields: unknown[]): void;
  parseRow(fields: unknown[]): unknown;
  addRow(row: unknown): void;
  addCommandComplete(msg: unknown): void;
}

/** What pg's Connection offers a submittable (pg's own Query uses the same calls). */
interface PgConnection {
  parse(msg: { text: string; name?: string; types?: number[] }): void;
  bind(msg: { portal?: string; statement?: string; values: unknown[]; valueMapper?: unknown; binary?: boolean }): void;
  describe(msg: { type: 'P' | 'S'; name?: string }): void;
  execute(msg: { portal?: string; rows?: number }): void;
  close(msg: { type: 'P' | 'S'; name?: string }): void;
  sync(): void;
  stream: { cork?: () => void; uncork?: () => void };
}

export interface StatementConfig {
  text: string;
  values?: unknown[];
  rowMode?: 'array';
  types?: { getTypeParser(oid: number, format?: string): (value: string) => unknown };
}

const SET_TENANT_SQL = "select 1 where set_config('app.tenant_id', $1, true) is null";
const SET_TENANT_NAME = 'tenancy_set_tenant';
const ENTER_WITH_CLAIM_SQL = 'select 1 where not public.tenancy_enter($1, $2, $3, $4)';
const ENTER_WITH_CLAIM_NAME = 'tenancy_enter_claim';

/** Bounded so a query shape built from user input (e.g. IN lists) cannot grow server memory forever. */
const MAX_NAMED_STATEMENTS = 1000;
const statementNames = new Map<string, string>();

function statementNameFor(text: string): string | undefined {
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < MAX_NAMED_STATEMENTS) {
    name = 'tenancy_' + createHash('sha1').update(text).digest('hex').slice(0, 20);
    statementNames.set(text, name);
  }
  return name;
}

type StatementState = 'ready' | 'unknown';
/** Per connection: statements this module has prepared there, and whether they are known to exist. */
const preparedByConnection = new WeakMap<object, Map<string, StatementState>>();

// pg's own value serialiser (Dates, arrays, Buffers, JSON), so parameters behave as with client.query().
// eslint-disable-next-line @typescript-eslint/no-require-imports
const prepareValue: (value: unknown) => unknown = require('pg/lib/utils').prepareValue;

export class TenantBatchQuery {
  private readonly result: PgResult;
  private firstCommandSeen = false;
  private settled = false;
  private parsedHere: string[] = [];
  private connection?: PgConnection;
  private resolveFn!: (result: pg.QueryResult) => void;
  private rejectFn!: (error: Error) => void;
  readonly promise: Promise<pg.QueryResult>;
  /** pg reads `text` for its error messages and debugging; `name` stays undefined on purpose. */
  readonly text: string;
  /**
   * pg wraps this when the client has a query_timeout (createPool sets one): the
   * wrapper clears the read-timeout timer. Called once the query settles, or every
   * query would keep a timer, and through it its rows, alive for the whole timeout.
   */
  callback?: (error: Error | null, result?: unknown) => void;

  constructor(
    private readonly tenantId: string,
    private readonly statement: StatementConfig,
    private readonly claim?: AccessClaim,
  ) {
    this.text = statement.text;
    this.result = new Result(statement.rowMode, statement.types ?? pg.types);
    this.promise = new Promise((resolve, reject) => {
      this.resolveFn = resolve;
      this.rejectFn = reject;
    });
  }

  submit(connection: PgConnection): null {
    this.connection = connection;
    let prepared = preparedByConnection.get(connection);
    if (!prepared) {
      prepared = new Map();
      preparedByConnection.set(connection, prepared);
    }
    connection.stream.cork?.();
    try {
      const claim = this.claim;
      if (claim) this.sendStatement(connection, prepared, ENTER_WITH_CLAIM_NAME, ENTER_WITH_CLAIM_SQL, [this.tenantId, claim.kind, claim.id, claim.role], false);
      else this.sendStatement(connection, prepared, SET_TENANT_NAME, SET_TENANT_SQL, [this.tenantId], false);
      const name = statementNameFor(this.statement.text);
      this.sendStatement(connection, prepared, name, this.statement.text, this.statement.values ?? [], true);
      connection.sync();
    } catch (error) {
      // Only value serialisation can throw here. The Sync still has to go out so
      // the server ends the implicit transaction and answers ReadyForQuery.
      connection.sync();
      this.fail(error as Error);
    } finally {
      connection.stream.uncork?.();
    }
    return null;
  }

  private sendStatement(
    connection: PgConnection,
    prepared: Map<string, StatementState>,
    name: string | undefined,
    text: string,
    values: unknown[],
    describe: boolean,
  ): void {
    if (name === undefined) {
      connection.parse({ text });
    } else {
      const state = prepared.get(name);
      if (state !== 'ready') {
        // After an error we cannot tell whether the Parse succeeded; closing a
        // statement that does not exist is not an error, so close, then parse.
        if (state === 'unknown') connection.close({ type: 'S', name });
        connection.parse({ text, name });
        this.parsedHere.push(name);
        prepared.set(name, 'unknown');
      }
    }
    connection.bind({ statement: name ?? '', values: values.map(prepareValue) });
    if (describe) connection.describe({ type: 'P' });
    connection.execute({});
  }

  handleRowDescription(msg: { fields: unknown[] }): void {
    this.result.addFields(msg.fields);
  }

  handleDataRow(msg: { fields: unknown[] }): void {
    if (this.settled) return;
    try {
      this.result.addRow(this.result.parseRow(msg.fields));
    } catch (error) {
      this.fail(error as Error);
    }
  }

  handleCommandComplete(msg: unknown): void {
    // The first CommandComplete belongs to the set_config statement.
    if (!this.firstCommandSeen) {
      this.firstCommandSeen = true;
      return;
    }
    this.result.addCommandComplete(msg);
  }

  handleEmptyQuery(): void {}

  handlePortalSuspended(): void {}

  handleCopyInResponse(connection: { sendCopyFail(message: string): void }): void {
    connection.sendCopyFail('COPY is not supported through the tenant batch');
  }

  handleCopyData(): void {}

  /** pg calls this and then forgets the query: no ReadyForQuery reaches us after an error. */
  handleError(error: Error): void {
    this.fail(error);
  }

  handleReadyForQuery(): void {
    if (this.settled) return;
    this.settled = true;
    const prepared = this.connection && preparedByConnection.get(this.connection);
    for (const name of this.parsedHere) prepared?.set(name, 'ready');
    if (this.claim) this.claim.confirmed = true;
    this.resolveFn(this.result as unknown as pg.QueryResult);
    this.callback?.(null, this.result);
  }

  private fail(error: Error): void {
    if (this.settled) return;
    this.settled = true;
    if (this.claim) tagWithClaim(error, this.claim);
    // Leave the statements parsed in this batch as 'unknown': the next use closes and re-parses them.
    this.rejectFn(error);
    this.callback?.(error);
  }
}

/**
 * Runs `statement` for `tenantId` on a checked-out client. Not on a pool:
 * pool.query() releases its client from a callback this query does not use.
 */
export function queryForTenant(
  client: pg.PoolClient | pg.Client,
  tenantId: string,
  statement: StatementConfig,
  claim?: AccessClaim,
): Promise<pg.QueryResult> {
  const query = new TenantBatchQuery(tenantId, statement, claim);
  // pg's typings do not describe custom submittables; pg.Query's own shape is what it checks for.
  void (client as unknown as { query(q: unknown): unknown }).query(query);
  return query.promise;
}
