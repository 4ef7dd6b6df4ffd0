import { WireRequest } from './client';
import { Rng } from '../prng';
import { fieldsOf, AppRoute, jsonSchemaOf, JsonSchema } from '../app-routes';
import {
  BAD_PATH_SEGMENTS,
  BAD_QUERY_VALUES,
  BODY_LIMIT,
  BOUNDARY_NUMBERS,
  CONTENT_TYPES,
  EXTRA_FIELDS,
  HUGE_LENGTHS,
  hugeString,
  NUMBERISH_STRINGS,
  RawJson,
  toJsonText,
  UNICODE_STRINGS,
  WRONG_TYPES,
} from './values';

/** A request that the route accepts (2xx): what the mutations start from. */
export interface ValidBase {
  /** Path param values (plain, encoded when the path is built). */
  params: Record<string, string>;
  query: Array<[string, string]>;
  headers: Array<[string, string]>;
  json?: unknown;
  raw?: { bytes: Buffer; contentType: string };
}

export interface FuzzWorld {
  baseUrl: string;
  tenant: { id: string; slug: string; token: string };
  victim: { id: string; slug: string };
  adminKey: string;
  /** Ids of the other tenant's rows, injected into params, headers and tenantId fields. */
  victimIds: string[];
  baseDomain: string;
}

export interface GeneratedRequest {
  route: AppRoute;
  wire: WireRequest;
  /** The mutations applied, e.g. ["query:dup limit", "header:x-tenant-id=victim id"]; empty for a valid request. */
  mutations: string[];
}

interface Draft {
  method: string;
  params: Record<string, string>;
  /** Params replaced by the fuzzer: sent as they are (already encoded). */
  rawParams: Set<string>;
  path?: string;
  query: Array<[string, string | undefined]>;
  headers: Array<[string, string]>;
  json: { value: unknown } | undefined;
  raw: Buffer | undefined;
  chunked: boolean;
  mutations: string[];
}

/** A v4-shaped UUID from the seeded generator (replays must send the same ids). */
export function uuidFrom(rng: Rng): string {
  const hex = Array.from({ length: 32 }, () => rng.int(0, 15).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${'89ab'[rng.int(0, 3)]}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

const schemaCache = new WeakMap<object, JsonSchema | undefined>();
function cachedJsonSchema(schema: object | undefined): JsonSchema | undefined {
  if (!schema) return undefined;
  if (!schemaCache.has(schema)) schemaCache.set(schema, jsonSchemaOf(schema as never));
  return schemaCache.get(schema);
}

function setHeader(draft: Draft, name: string, value: string | undefined): void {
  draft.headers = draft.headers.filter(([n]) => n.toLowerCase() !== name.toLowerCase());
  if (value !== undefined) draft.headers.push([name, value]);
}

function getHeader(draft: Draft, name: string): string | undefined {
  return draft.headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
}

/** Header values must be Latin-1 on the wire: other text goes as its UTF-8 bytes read as Latin-1. */
function latin1(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1').replace(/[\u0000-\u0008\u000a-\u001f\u007f]/g, '?');
}

/** A path or query piece: Node refuses spaces and non-Latin-1 in the request line, so those are percent-encoded. */
function pathSafe(text: string): string {
  return text.replace(/[^\u0021-\u007e]/gu, (c) => encodeURIComponent(c.replace(/[\ud800-\udfff]/g, '\ufffd')));
}

function hostileString(rng: Rng, world: FuzzWorld): string {
  return rng.weighted<() => string>([
    [6, () => rng.pick(UNICODE_STRINGS)],
    [2, () => rng.pick(NUMBERISH_STRINGS)],
    [2, () => hugeString(rng.pick(HUGE_LENGTHS.filter((n) => n < 20_000)), rng.pick(['a', 'é', '\u{1F4A9}', 'e\u0301', '\u202e']))],
    [1, () => rng.pick(UNICODE_STRINGS) + rng.pick(UNICODE_STRINGS)],
    [1, () => `${world.tenant.slug}\u0000${world.victim.slug}`.slice(0, rng.int(1, 30))],
  ])();
}

function hostileValue(rng: Rng, world: FuzzWorld): { value: unknown; kind: string } {
  return rng.weighted<() => { value: unknown; kind: string }>([
    [4, () => ({ value: rng.pick(WRONG_TYPES), kind: 'wrong type' })],
    [3, () => ({ value: rng.pick(BOUNDARY_NUMBERS), kind: 'boundary number' })],
    [2, () => ({ value: rng.pick(NUMBERISH_STRINGS), kind: 'numberish string' })],
    [6, () => ({ value: rng.pick(UNICODE_STRINGS), kind: 'unicode edge' })],
    [2, () => ({ value: hostileString(rng, world), kind: 'hostile string' })],
    [1, () => ({ value: hugeString(rng.pick(HUGE_LENGTHS)), kind: 'huge string' })],
    [1, () => ({ value: Array.from({ length: rng.pick([21, 100, 5000]) }, (_, i) => `t${i}`), kind: 'long array' })],
    [1, () => ({ value: [rng.pick(UNICODE_STRINGS), rng.pick(WRONG_TYPES)], kind: 'mixed array' })],
    [1, () => ({ value: { nested: { deeper: rng.pick(UNICODE_STRINGS) } }, kind: 'object' })],
  ])();
}

function withOwnKey(object: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  const copy = { ...object };
  Object.defineProperty(copy, key, { value, enumerable: true, configurable: true, writable: true });
  return copy;
}

// ---------------------------------------------------------------- mutators

type Mutator = (draft: Draft, route: AppRoute, rng: Rng, world: FuzzWorld) => string | undefined;

const bodyField: Mutator = (draft, route, rng, world) => {
  if (!draft.json || typeof draft.json.value !== 'object' || draft.json.value === null || Array.isArray(draft.json.value)) return undefined;
  const object = draft.json.value as Record<string, unknown>;
  const names = [...new Set([...fieldsOf(cachedJsonSchema(route.bodySchema)).names, ...Object.keys(object)])];
  if (!names.length) return undefined;
  const field = rng.pick(names);
  const current = object[field];
  // Nested objects (tenant owner) and arrays (tags) get their inside mutated too.
  if (current && typeof current === 'object' && rng.chance(0.5)) {
    if (Array.isArray(current)) {
      const { value, kind } = hostileValue(rng, world);
      draft.json = { value: { ...object, [field]: [...current, value] } };
      return `body.${field}[] += ${kind}`;
    }
    const inner = Object.keys(current as object);
    if (inner.length) {
      const key = rng.pick(inner);
      const { value, kind } = hostileValue(rng, world);
      draft.json = { value: { ...object, [field]: { ...(current as object), [key]: value } } };
      return `body.${field}.${key} = ${kind}`;
    }
  }
  const { value, kind } = hostileValue(rng, world);
  draft.json = { value: withOwnKey(object, field, value) };
  return `body.${field} = ${kind}`;
};

const bodyMissing: Mutator = (draft, _route, rng) => {
  if (!draft.json || typeof draft.json.value !== 'object' || draft.json.value === null || Array.isArray(draft.json.value)) return undefined;
  const object = { ...(draft.json.value as Record<string, unknown>) };
  const keys = Object.keys(object);
  if (!keys.length || rng.chance(0.2)) {
    draft.json = { value: {} };
    return 'body = {}';
  }
  const key = rng.pick(keys);
  delete object[key];
  draft.json = { value: object };
  return `body.${key} missing`;
};

const bodyExtra: Mutator = (draft, _route, rng, world) => {
  if (!draft.json || typeof draft.json.value !== 'object' || draft.json.value === null || Array.isArray(draft.json.value)) {
    if (draft.json || draft.raw) return undefined;
    draft.json = { value: {} };
  }
  const key = rng.pick(EXTRA_FIELDS);
  const value = rng.weighted<() => unknown>([
    [4, () => world.victim.id],
    [2, () => world.tenant.id],
    [1, () => world.victim.slug],
    [1, () => rng.pick(world.victimIds)],
    [2, () => rng.pick(WRONG_TYPES)],
    [2, () => ({ isAdmin: true, role: 'owner', tenantId: world.victim.id })],
  ])();
  draft.json = { value: withOwnKey(draft.json!.value as Record<string, unknown>, key, value) };
  return `body.${key || '""'} extra (${typeof value === 'object' ? 'object' : value === world.victim.id ? 'victim tenant id' : 'value'})`;
};

/** The whole body replaced: wrong JSON types, broken JSON, odd encodings, sizes around the limit. */
const bodyWhole: Mutator = (draft, _route, rng) => {
  const baseText = draft.json ? toJsonText(draft.json.value) : '{"a":1}';
  const choice = rng.weighted<() => [string, Buffer | { value: unknown }]>([
    [3, () => ['json wrong type', { value: rng.pick<unknown>([null, [], [1, 2], 0, -1, 'str', true, new RawJson('1e309')]) }]],
    [2, () => ['empty body', Buffer.alloc(0)]],
    [1, () => ['whitespace body', Buffer.from(' \n\t ')]],
    [3, () => ['truncated json', Buffer.from(baseText.slice(0, Math.max(1, Math.floor(baseText.length / 2))))]],
    [2, () => ['not json', Buffer.from(rng.pick(['not json', 'title=x&body=y', '<xml/>', "{'a':1}", '{a:1}', 'NaN', 'undefined', '\u0000']))]],
    [1, () => ['two json values', Buffer.from(`${baseText}${baseText}`)]],
    [1, () => ['trailing comma', Buffer.from(baseText.replace(/}$/, ',}'))]],
    [2, () => ['duplicate keys', Buffer.from(baseText.replace(/^\{/, baseText.length > 2 ? `{${baseText.slice(1, -1)},` : '{'))]],
    [2, () => ['deep nesting', Buffer.from(((n) => '['.repeat(n) + ']'.repeat(n))(rng.pick([64, 1000, 20_000])))]],
    [1, () => ['deep object nesting', Buffer.from(((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n))(rng.pick([1000, 20_000])))]],
    [1, () => ['__proto__ pollution', Buffer.from(baseText.replace(/^\{/, '{"__proto__":{"isAdmin":true},') || '{"__proto__":{}}')]],
    [1, () => ['constructor pollution', Buffer.from(baseText.replace(/^\{/, '{"constructor":{"prototype":{"isAdmin":true}},'))]],
    [1, () => ['BOM + json', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(baseText)])]],
    [1, () => ['utf-16 json', Buffer.from(baseText, 'utf16le')]],
    [2, () => ['invalid utf-8 in a string', Buffer.concat([Buffer.from(baseText.replace(/"([^"]*)"\s*}$/, '"$1')), Buffer.from([0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xff, 0xfe]), Buffer.from('"}')])]],
    [1, () => ['raw control char in a string', Buffer.from('{"title":"a\u0000\u0001\nb"}')]],
    [1, () => ['lone surrogate escapes', Buffer.from('{"title":"\\ud800\\udc00\\udfff\\ud800","body":"\\u0000"}')]],
    [1, () => ['bad escapes', Buffer.from('{"title":"\\x41\\u12"}')]],
    [0.5, () => ['body just under the limit', Buffer.from(`{"title":"${hugeString(BODY_LIMIT - 32)}"}`)]],
    [0.5, () => ['body over the limit', Buffer.from(`{"title":"${hugeString(BODY_LIMIT + rng.pick([1, 1024, BODY_LIMIT]))}"}`)]],
  ])();
  const [label, body] = choice;
  if (Buffer.isBuffer(body)) {
    draft.json = undefined;
    draft.raw = body;
    // Broken JSON is sent as JSON (the route's own type stays, so an earlier content-type mutation is kept).
    if (!getHeader(draft, 'content-type')) setHeader(draft, 'content-type', 'application/json');
  } else draft.json = body;
  return `body: ${label}`;
};

/** Uploads (raw body routes): bytes of odd sizes and kinds. */
const rawBody: Mutator = (draft, route, rng) => {
  if (route.hasBody || !['POST', 'PUT', 'PATCH'].includes(route.method)) return undefined;
  const [label, bytes] = rng.weighted<() => [string, Buffer]>([
    [2, () => ['empty upload', Buffer.alloc(0)]],
    [2, () => ['binary upload', Buffer.from(Array.from({ length: rng.int(1, 4096) }, () => rng.int(0, 255)))]],
    [1, () => ['upload over 1 MiB', Buffer.alloc(BODY_LIMIT + rng.int(1, 1024), 0x61)]],
    [1, () => ['json upload', Buffer.from('{"tenantId":"x"}')]],
  ])();
  draft.raw = bytes;
  draft.json = undefined;
  return `body: ${label}`;
};

const bodyOnBodiless: Mutator = (draft, route, rng, world) => {
  if (route.hasBody || ['POST', 'PUT', 'PATCH'].includes(route.method)) return undefined;
  if (rng.chance(0.5)) {
    draft.json = { value: { tenantId: world.victim.id, limit: 1 } };
    setHeader(draft, 'content-type', 'application/json');
    return 'body on a bodiless route (json)';
  }
  draft.raw = Buffer.from(rng.pick(['x', '{', hugeString(4096)]));
  setHeader(draft, 'content-type', rng.pick(['application/json', 'text/plain', 'application/octet-stream']));
  return 'body on a bodiless route (raw)';
};

const contentType: Mutator = (draft, _route, rng) => {
  const action = rng.weighted<string>([
    [6, 'replace'],
    [2, 'remove'],
    [2, 'duplicate'],
  ]);
  if (action === 'remove') {
    setHeader(draft, 'content-type', undefined);
    return 'content-type removed';
  }
  const value = rng.pick(CONTENT_TYPES);
  if (action === 'duplicate') {
    draft.headers.push(['content-type', value]);
    if (!getHeader(draft, 'content-type')) draft.headers.push(['content-type', 'application/json']);
    return `content-type duplicated (${value})`;
  }
  setHeader(draft, 'content-type', value);
  // A form body should look like one, so a parser that accepts it gets to the handler.
  if (value === 'application/x-www-form-urlencoded' && draft.json && typeof draft.json.value === 'object' && draft.json.value && rng.chance(0.7)) {
    const form = new URLSearchParams(Object.entries(draft.json.value as object).map(([k, v]): [string, string] => [k, typeof v === 'string' ? v : String(JSON.stringify(v))])).toString();
    draft.raw = Buffer.from(form);
    draft.json = undefined;
    return 'content-type form-urlencoded (form body)';
  }
  return `content-type ${JSON.stringify(value)}`;
};

const chunked: Mutator = (draft) => {
  if (!draft.json && !draft.raw) return undefined;
  draft.chunked = true;
  return 'chunked body';
};

const query: Mutator = (draft, route, rng, world) => {
  const known = [...new Set([...fieldsOf(cachedJsonSchema(route.querySchema)).names, ...draft.query.map(([k]) => k)])];
  const action = rng.weighted<string>([
    [4, known.length ? 'bad value' : 'unknown'],
    [3, known.length ? 'array' : 'unknown'],
    [2, 'nested'],
    [3, 'unknown'],
    [3, 'tenantId'],
    [1, 'key only'],
    [1, 'junk separators'],
    [1, 'long'],
    [1, 'proto'],
  ]);
  switch (action) {
    case 'bad value': {
      const key = rng.pick(known);
      const value = rng.chance(0.8) ? rng.pick(BAD_QUERY_VALUES) : pathSafe(hostileString(rng, world)).slice(0, 4000);
      draft.query = [...draft.query.filter(([k]) => k !== key), [key, value]];
      return `query ${key}=${value.slice(0, 40)}`;
    }
    case 'array': {
      const key = rng.pick(known);
      draft.query.push([key, rng.pick(['1', '2', '100', 'x'])], [key, rng.pick(['1', '2', '-1', ''])]);
      if (rng.chance(0.3)) draft.query.push([`${key}[]`, '1']);
      return `query ${key} repeated`;
    }
    case 'nested':
      draft.query.push([rng.pick([...known, 'a', 'filter']) + rng.pick(['[b]', '[]', '[0]', '[__proto__]', '.b', '[b][c]']), rng.pick(['', '1', 'x'])]);
      return 'query nested a[b]=';
    case 'unknown':
      draft.query.push([rng.pick(['foo', 'sort', 'order', 'offset', 'page', 'select', 'include', 'fields', 'q', '']), rng.pick(BAD_QUERY_VALUES)]);
      return 'query unknown param';
    case 'tenantId':
      draft.query.push([rng.pick(['tenantId', 'tenant_id', 'tenant', 'x-tenant-id']), rng.pick([world.victim.id, world.victim.slug, world.tenant.id])]);
      return 'query tenantId injection';
    case 'key only':
      draft.query.push([rng.pick([...known, 'limit', 'x']), undefined]);
      return 'query key without value';
    case 'junk separators':
      draft.path = undefined;
      draft.query.push(['', rng.pick(['', '&&&', '=', '==', '?', '%26'])]);
      return 'query junk separators';
    case 'long':
      draft.query.push([`k${rng.int(0, 9)}`, 'v'.repeat(rng.pick([1000, 8000]))]);
      return 'query very long';
    default:
      draft.query.push([rng.pick(['__proto__[isAdmin]', 'constructor[prototype][isAdmin]', '__proto__']), 'true']);
      return 'query prototype keys';
  }
};

const pathParam: Mutator = (draft, route, rng, world) => {
  if (!route.params.length) return undefined;
  const param = rng.pick(route.params);
  const current = draft.params[param] ?? '';
  const [label, value] = rng.weighted<() => [string, string]>([
    [8, () => ['bad segment', rng.pick(BAD_PATH_SEGMENTS)]],
    [3, () => ["another tenant's id", rng.pick(world.victimIds)]],
    [2, () => ['random uuid', uuidFrom(rng)]],
    [2, () => ['upper-case id', encodeURIComponent(current.toUpperCase())]],
    [1, () => ['own tenant id', world.tenant.id]],
    [1, () => ['id with whitespace', `%20${encodeURIComponent(current)}%09`]],
    [1, () => ['hostile text', pathSafe(hostileString(rng, world)).slice(0, 6000).replace(/[/?#]/g, encodeURIComponent)]],
    [1, () => ['double-encoded id', encodeURIComponent(encodeURIComponent(current))]],
    [1, () => ['very long segment', 'a'.repeat(rng.pick([2000, 9000]))]],
  ])();
  draft.params[param] = value || '%20';
  draft.rawParams.add(param);
  return `path :${param} ${label}`;
};

const pathWhole: Mutator = (draft, route, rng) => {
  const base = route.path.replace(/:(\w+)/g, (_, p: string) => (draft.rawParams.has(p) ? draft.params[p] : encodeURIComponent(draft.params[p] ?? '')));
  const [label, path] = rng.weighted<() => [string, string]>([
    [2, () => ['trailing slash', `${base}/`]],
    [2, () => ['double slashes', base.replace(/\//g, '//')]],
    [2, () => ['upper-case path', base.toUpperCase()]],
    [2, () => ['extra segment', `${base}/${rng.pick(['x', '..', '%2e%2e', 'a'.repeat(300), '%00'])}`]],
    [2, () => ['dot segments', `${base}/../${base.split('/')[1] ?? ''}`]],
    [1, () => ['encoded slash', base.replace(/\/(?=[^/]*$)/, '%2F')]],
    [1, () => ['matrix params', `${base};jsessionid=1`]],
    [1, () => ['backslash', base.replace(/\//g, '\\')]],
    [1, () => ['prefixed', `/api${base}`]],
    [1, () => ['very long path', base + '/a'.repeat(rng.pick([1000, 5000]))]],
  ])();
  draft.path = path;
  return `path ${label}`;
};

const tenantHeader: Mutator = (draft, _route, rng, world) => {
  const [label, values] = rng.weighted<() => [string, string[]]>([
    [3, () => ['removed', []]],
    [2, () => ['empty', [rng.pick(['', ' ', '\t'])]]],
    [4, () => ['victim id', [world.victim.id]]],
    [3, () => ['victim slug', [world.victim.slug]]],
    [1, () => ['upper-case own id', [world.tenant.id.toUpperCase()]]],
    [1, () => ['upper-case slug', [world.tenant.slug.toUpperCase()]]],
    [1, () => ['padded slug', [` ${world.tenant.slug} `]]],
    [2, () => ['two values joined', [`${world.tenant.slug},${world.victim.slug}`]]],
    [2, () => ['duplicated (same)', [world.tenant.slug, world.tenant.slug]]],
    [2, () => ['duplicated (differ)', [world.tenant.slug, world.victim.id]]],
    [2, () => ['garbage', [latin1(rng.pick(UNICODE_STRINGS)) || 'x']]],
    [1, () => ['uuid-ish', [rng.pick(BAD_PATH_SEGMENTS.slice(1, 7))]]],
    [1, () => ['sql-ish', ["' or 1=1--"]]],
    [1, () => ['very long', ['a'.repeat(rng.pick([64, 300, 5000]))]]],
    [1, () => ['nil uuid', ['00000000-0000-0000-0000-000000000000']]],
    [1, () => ['random uuid', [uuidFrom(rng)]]],
  ])();
  setHeader(draft, 'x-tenant-id', undefined);
  for (const value of values) draft.headers.push(['x-tenant-id', value]);
  return `header x-tenant-id ${label}`;
};

function tamper(token: string, rng: Rng): string {
  const at = rng.int(0, token.length - 1);
  const c = token[at] === 'A' ? 'B' : 'A';
  return token.slice(0, at) + c + token.slice(at + 1);
}

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

const authorization: Mutator = (draft, _route, rng, world) => {
  const [label, values] = rng.weighted<() => [string, string[]]>([
    [4, () => ['removed', []]],
    [2, () => ['"Bearer" alone', [rng.pick(['Bearer', 'Bearer ', 'Bearer  ', 'bearer'])]]],
    [2, () => ['basic', ['Basic dXNlcjpwYXNzd29yZA==']]],
    [2, () => ['lower-case scheme', [`bearer ${world.tenant.token}`]]],
    [3, () => ['tampered jwt', [`Bearer ${tamper(world.tenant.token, rng)}`]]],
    [2, () => ['alg none jwt', [`Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: uuidFrom(rng), tid: world.victim.id, exp: 4102444800 })}.`]]],
    [2, () => ['api-key shaped garbage', [`Bearer ${rng.pick(['tk_', 'tk_x', `tk_${'0'.repeat(32)}_${world.victim.id.replace(/-/g, '')}_${'A'.repeat(43)}`, `tk_${'f'.repeat(32)}_${'f'.repeat(32)}_${'-'.repeat(43)}`])}`]]],
    [2, () => ['admin key', [`Bearer ${world.adminKey}`]]],
    [2, () => ['tenant token', [`Bearer ${world.tenant.token}`]]],
    [1, () => ['garbage', [latin1(rng.pick(UNICODE_STRINGS)) || 'x']]],
    [1, () => ['huge token', [`Bearer ${'a'.repeat(rng.pick([4097, 12_000]))}`]]],
    [1, () => ['duplicated', [`Bearer ${world.tenant.token}`, `Bearer ${world.adminKey}`]]],
    [1, () => ['two tokens', [`Bearer ${world.tenant.token} ${world.adminKey}`]]],
  ])();
  setHeader(draft, 'authorization', undefined);
  for (const value of values) draft.headers.push(['authorization', value]);
  return `header authorization ${label}`;
};

const host: Mutator = (draft, _route, rng, world) => {
  const d = world.baseDomain;
  const value = rng.pick([
    `${world.victim.slug}.${d}`,
    `${world.tenant.slug}.${d}`,
    `${world.tenant.slug.toUpperCase()}.${d}:8080`,
    `${world.tenant.slug}.${d}.`,
    `a.b.${d}`,
    `admin.${d}`,
    `-bad-.${d}`,
    `${'a'.repeat(70)}.${d}`,
    `${latin1('\u{1F4A9}')}.${d}`,
    d,
    '[::1]:80',
    'localhost',
    '',
    'evil.test',
  ]);
  setHeader(draft, 'host', value);
  return `header host ${value.slice(0, 40) || '(empty)'}`;
};

const bigHeader: Mutator = (draft, _route, rng) => {
  if (rng.chance(0.85)) {
    const size = rng.int(1024, 12 * 1024);
    draft.headers.push([`x-fuzz-padding`, 'p'.repeat(size)]);
    return 'header huge (within limits)';
  }
  draft.headers.push([`x-fuzz-padding`, 'p'.repeat(rng.pick([17 * 1024, 40 * 1024]))]);
  return 'header beyond the size limit';
};

const duplicateHeaders: Mutator = (draft, _route, rng) => {
  const name = rng.pick(['x-request-id', 'content-length', 'accept', 'x-forwarded-for', 'x-filename']);
  if (name === 'content-length') {
    const body = draft.raw ?? (draft.json ? Buffer.from(toJsonText(draft.json.value)) : Buffer.alloc(0));
    if (draft.json) {
      draft.raw = body;
      draft.json = undefined;
    }
    draft.chunked = false;
    draft.headers.push(['content-length', String(body.length)], ['content-length', String(body.length + rng.pick([0, 1]))]);
    return 'header content-length duplicated';
  }
  draft.headers.push([name, 'a'], [name, rng.pick(['b', 'a', '', '1.2.3.4'])]);
  return `header ${name} duplicated`;
};

const miscHeader: Mutator = (draft, _route, rng) => {
  const [name, value] = rng.pick<[string, string]>([
    ['x-request-id', latin1(rng.pick(UNICODE_STRINGS)) || 'x'],
    ['x-request-id', 'r'.repeat(129)],
    ['x-request-id', "../../' or 1=1--"],
    ['accept', 'text/html'],
    ['accept', '*/*;q=abc'],
    ['accept-encoding', 'gzip;q=2, br, zstd, identity;q=0'],
    ['content-encoding', rng.pick(['gzip', 'deflate', 'br', 'identity, gzip'])],
    ['x-forwarded-for', `1.2.3.4, ${latin1('\u202e')}, ::1`],
    ['x-forwarded-host', 'evil.test'],
    ['x-forwarded-proto', 'gopher'],
    ['cookie', 'a=b; tenantId=x; ' + 'c'.repeat(500)],
    ['x-filename', latin1(rng.pick(UNICODE_STRINGS)) || 'x'],
    ['x-http-method-override', 'DELETE'],
    ['origin', 'null'],
    ['range', 'bytes=0-1,5-2'],
    ['if-none-match', '*'],
    ['x-tenant', 'other'],
  ]);
  draft.headers.push([name, value]);
  return `header ${name}`;
};

const methodSwap: Mutator = (draft, route, rng) => {
  draft.method = rng.pick(METHODS.filter((m) => m !== route.method));
  return `method ${draft.method}`;
};

const MUTATORS: ReadonlyArray<readonly [number, Mutator]> = [
  [14, bodyField],
  [5, bodyMissing],
  [5, bodyExtra],
  [7, bodyWhole],
  [3, rawBody],
  [2, bodyOnBodiless],
  [6, contentType],
  [2, chunked],
  [9, query],
  [9, pathParam],
  [3, pathWhole],
  [6, tenantHeader],
  [6, authorization],
  [2, host],
  [2, bigHeader],
  [2, duplicateHeaders],
  [3, miscHeader],
  [1, methodSwap],
];

function draftFrom(route: AppRoute, base: ValidBase): Draft {
  const headers = [...base.headers];
  let raw: Buffer | undefined;
  if (base.raw) {
    raw = base.raw.bytes;
    headers.push(['content-type', base.raw.contentType]);
  } else if (base.json !== undefined) headers.push(['content-type', 'application/json']);
  return {
    method: route.method,
    params: { ...base.params },
    rawParams: new Set(),
    query: [...base.query],
    headers,
    json: base.json === undefined ? undefined : { value: base.json },
    raw,
    chunked: false,
    mutations: [],
  };
}

function encodeQueryPart(text: string): string {
  // Keep what the fuzzer wrote already encoded (%zz stays %zz); encode the rest.
  return pathSafe(text).replace(/[&#=+]/g, encodeURIComponent);
}

export function toWire(route: AppRoute, draft: Draft): WireRequest {
  let path = draft.path ?? route.path.replace(/:(\w+)/g, (_, p: string) => (draft.rawParams.has(p) ? draft.params[p] : encodeURIComponent(draft.params[p] ?? '')));
  if (draft.query.length) {
    const qs = draft.query.map(([k, v]) => (v === undefined ? encodeQueryPart(k) : `${encodeQueryPart(k)}=${encodeQueryPart(v)}`)).join('&');
    path += `${path.includes('?') ? '&' : '?'}${qs}`;
  }
  let body = draft.raw;
  if (draft.json) body = Buffer.from(toJsonText(draft.json.value));
  return { method: draft.method, path, headers: draft.headers, body, chunked: draft.chunked };
}

/** A valid request (no mutation): the positive control for the route. */
export function validRequest(route: AppRoute, base: ValidBase): WireRequest {
  return toWire(route, draftFrom(route, base));
}

/**
 * One fuzzed request: the route's valid request with 0-3 mutations. A DELETE
 * never goes out with all of its own ids intact (the fuzz run must not delete
 * what later requests use); its positive control deletes a dedicated row.
 */
export function generate(route: AppRoute, base: ValidBase, rng: Rng, world: FuzzWorld): GeneratedRequest {
  const draft = draftFrom(route, base);
  const count = rng.weighted<number>([
    [6, 0],
    [50, 1],
    [30, 2],
    [14, 3],
  ]);
  for (let attempts = 0; draft.mutations.length < count && attempts < 20; attempts++) {
    const label = rng.weighted(MUTATORS)(draft, route, rng, world);
    if (label) draft.mutations.push(label);
  }
  if (draft.method === 'DELETE' && route.params.length) {
    const own = (param: string) => {
      let value = draft.params[param];
      try {
        value = decodeURIComponent(decodeURIComponent(value));
      } catch {
        /* not decodable: not an id */
      }
      return value.trim().toLowerCase() === (base.params[param] ?? '').toLowerCase();
    };
    if (route.params.every(own)) {
      const param = route.params[route.params.length - 1];
      const replacement = uuidFrom(rng);
      if (draft.path !== undefined) {
        const ownId = (base.params[param] ?? '').toLowerCase();
        draft.path = draft.path.replace(new RegExp(ownId.replace(/[^0-9a-z]/g, '.'), 'gi'), replacement);
      }
      draft.params[param] = replacement;
      draft.rawParams.add(param);
      draft.mutations.push(`path :${param} random uuid (delete guard)`);
    }
  }
  // Whatever a mutation swapped in, a DELETE on a route of another method must not hit own rows either.
  if (draft.method === 'DELETE' && route.method !== 'DELETE') {
    draft.method = 'OPTIONS';
    draft.mutations.push('method OPTIONS (delete guard)');
  }
  return { route, wire: toWire(route, draft), mutations: draft.mutations };
}
