import { createHash } from 'node:crypto';
import pg from 'pg';
import { AccessClaim, tagWithClaim } from '../../tenancy/tenant-context';
import { DIRECT, Pooling } from './pool';
// pg's row parser; the same one pg.Query uses, so rows come back exactly as pg would build them.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Result: new (rowMode?: string, types?: unknown) => PgResult = require('pg/lib/result');

/**
 * Runs one statement for one tenant in a single round trip, as one implicit
 * transaction, on the extended protocol:
 *
 *   Parse/Bind/Execute  select 1 where not public.tenancy_set($1)
 *   [Parse/Bind/Execute  <leading statements>]   (TenantDb.together(): e.g. a usage event)
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
 * On a direct connection, statements are prepared under a name derived from
 * their text and reused per connection. pg itself only knows the statements it
 * parsed, so this object keeps its own per-connection registry and never
 * exposes a `name` to pg. Behind a transaction pooler (Pooling) every statement
 * is unnamed, parsed with each batch, and the first statement also sets
 * statement_timeout, transaction-locally: the batch is one pooler transaction,
 * so nothing of it outlives the Sync on the server connection either. There the
 * same batch with the timeout alone carries SystemDb's statements
 * (queryWithStatementTimeout).
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

/** The statement sent ahead of the caller's, in the same batch; `name` only on a direct connection. */
interface FirstStatement {
  text: string;
  name?: string;
  values: unknown[];
}

// tenancy_set (drizzle/0015): set_config('app.tenant_id', $1, true), refused (TA421) on a database
// the tenant is not placed on. It returns true or raises, so the statement returns no row.
const SET_TENANT_SQL = 'select 1 where not public.tenancy_set($1)';
const SET_TENANT_NAME = 'tenancy_set_tenant';
const ENTER_WITH_CLAIM_SQL = 'select 1 where not public.tenancy_enter($1, $2, $3, $4)';
const ENTER_WITH_CLAIM_NAME = 'tenancy_enter_claim';
// Behind a transaction pooler, the same with the statement timeout (the last parameter). set_config
// never returns null (and tenancy_set/tenancy_enter true or raise), so `or` evaluates every operand
// and the statement returns no row, as the ones above.
const SET_TENANT_AND_TIMEOUT_SQL = "select 1 where not public.tenancy_set($1) or set_config('statement_timeout', $2, true) is null";
const ENTER_WITH_CLAIM_AND_TIMEOUT_SQL = "select 1 where not public.tenancy_enter($1, $2, $3, $4) or set_config('statement_timeout', $5, true) is null";
/** SystemDb's statements behind a transaction pooler: no tenant, only the timeout. */
const SET_TIMEOUT_SQL = "select 1 where set_config('statement_timeout', $1, true) is null";

function tenantStatement(tenantId: string, claim: AccessClaim | undefined, pooling: Pooling): FirstStatement {
  if (pooling.pooler === 'transaction') {
    const timeout = String(pooling.statementTimeoutMs);
    return claim
      ? { text: ENTER_WITH_CLAIM_AND_TIMEOUT_SQL, values: [tenantId, claim.kind, claim.id, claim.role, timeout] }
      : { text: SET_TENANT_AND_TIMEOUT_SQL, values: [tenantId, timeout] };
  }
  return claim
    ? { text: ENTER_WITH_CLAIM_SQL, name: ENTER_WITH_CLAIM_NAME, values: [tenantId, claim.kind, claim.id, claim.role] }
    : { text: SET_TENANT_SQL, name: SET_TENANT_NAME, values: [tenantId] };
}

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

export class BatchQuery {
  private readonly result: PgResult;
  /** CommandCompletes of `first` and the leading statements seen so far: theirs come before the statement's own. */
  private skippedCommands = 0;
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

  /**
   * `named`: prepare `statement` under a per-connection name (direct connections only);
   * `first` carries its own name or none.
   */
  constructor(
    private readonly first: FirstStatement,
    private readonly statement: StatementConfig,
    private readonly named: boolean,
    private readonly claim?: AccessClaim,
    /** Statements run after `first` and before `statement`, in the same implicit transaction; they must return no rows. */
    private readonly leading: readonly StatementConfig[] = [],
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
      this.sendStatement(connection, prepared, this.first.name, this.first.text, this.first.values, false);
      for (const leading of this.leading) {
        const leadingName = this.named ? statementNameFor(leading.text) : undefined;
        this.sendStatement(connection, prepared, leadingName, leading.text, leading.values ?? [], false);
      }
      const name = this.named ? statementNameFor(this.statement.text) : undefined;
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
    // Rows before the statement's own would belong to a leading statement (none returns any; never mixed in).
    if (this.settled || this.skippedCommands <= this.leading.length) return;
    try {
      this.result.addRow(this.result.parseRow(msg.fields));
    } catch (error) {
      this.fail(error as Error);
    }
  }

  handleCommandComplete(msg: unknown): void {
    // The first CommandCompletes belong to the first statement (set_config or tenancy_enter) and the leading ones.
    if (this.skippedCommands <= this.leading.length) {
      this.skippedCommands++;
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

function runBatch(client: pg.PoolClient | pg.Client, query: BatchQuery): Promise<pg.QueryResult> {
  // pg's typings do not describe custom submittables; pg.Query's own shape is what it checks for.
  void (client as unknown as { query(q: unknown): unknown }).query(query);
  return query.promise;
}

/**
 * Runs `statement` for `tenantId` on a checked-out client. Not on a pool:
 * pool.query() releases its client from a callback this query does not use.
 * `pooling` is the client's pool's (poolingOf); direct when not given.
 */
export function queryForTenant(
  client: pg.PoolClient | pg.Client,
  tenantId: string,
  statement: StatementConfig,
  options: { claim?: AccessClaim; pooling?: Pooling; leading?: readonly StatementConfig[] } = {},
): Promise<pg.QueryResult> {
  const pooling = options.pooling ?? DIRECT;
  const first = tenantStatement(tenantId, options.claim, pooling);
  return runBatch(client, new BatchQuery(first, statement, pooling.pooler === 'none', options.claim, options.leading));
}

/**
 * Runs `statement`, unnamed, with a transaction-local statement_timeout, in one
 * batch: SystemDb's statements behind a transaction pooler, where the timeout
 * cannot be a startup parameter. No tenant is set.
 */
export function queryWithStatementTimeout(client: pg.PoolClient | pg.Client, statement: StatementConfig, statementTimeoutMs: number): Promise<pg.QueryResult> {
  const first = { text: SET_TIMEOUT_SQL, values: [String(statementTimeoutMs)] };
  return runBatch(client, new BatchQuery(first, statement, false));
}
