/**
 * Hostile values, by kind. None of them contains a fragment the checks look
 * for (SQL keywords, constraint-name suffixes, stack-trace shapes): the API
 * may store and later echo what the fuzzer sent, and that must not read as a
 * leak (the spec asserts it).
 */

/** A JSON number written as is (JSON.stringify cannot write 2^53+1 or 1e309). */
export class RawJson {
  constructor(readonly text: string) {}
}

export const BODY_LIMIT = 1024 * 1024;

export const BOUNDARY_NUMBERS: unknown[] = [
  0,
  -1,
  1,
  -0.5,
  1.5,
  2 ** 31,
  2 ** 31 - 1,
  -(2 ** 31) - 1,
  2 ** 32,
  Number.MAX_SAFE_INTEGER,
  new RawJson('9007199254740993'), // 2^53 + 1
  new RawJson('1e309'),
  new RawJson('-1e309'),
  new RawJson('1e-400'),
  new RawJson('-0'),
  new RawJson('100000000000000000000000000000000000000000000000000'),
  Number.MIN_VALUE,
];

export const NUMBERISH_STRINGS = ['NaN', 'Infinity', '-Infinity', '-0', '0x10', '1e3', ' 1', '1 ', '1_000', '１', '', '0.0', '+1', '1e309', '9007199254740993', '2147483648', '-1', '0', '00001', 'null', 'undefined', 'true', '[]', '{}'];

export const UNICODE_STRINGS = [
  '\u0000',
  'a\u0000b',
  '\ud800', // lone high surrogate (JSON.stringify writes it escaped)
  '\udc00x',
  'x\udbff\udfffy',
  '\u202eevil\u202c',
  '\u200f\u200e\u061c',
  'e\u0301\u0301\u0301\u0301',
  'Z\u0334\u0321\u032a\u0351\u0352\u0353'.repeat(20),
  '\u{1F469}\u200d\u{1F469}\u200d\u{1F467}\u200d\u{1F466}',
  '\u{1F4A9}'.repeat(60),
  '\ufeffbom',
  '\uffff\ufffe',
  '\u2028\u2029',
  '\u00c0\u00af', // overlong "/" as Latin-1 characters
  '\u00ed\u00a0\u0080', // an encoded surrogate, as Latin-1 characters
  '\u00f0\u009f\u0092\u00a9', // emoji bytes read as Latin-1
  '\t\n\r\u000b\u000c',
  '\u0085\u00a0\u3000',
  '   ',
  '',
  '漢字かなカナ한국어',
  'ｆｕｌｌｗｉｄｔｈ',
  '\u0130\u0131\u00df\u1e9e', // case-folding oddities
  '..\\..\\windows',
  '../../etc/passwd',
  '%00%2e%2e%2f',
  '<script>alert(1)</script>',
  '{{7*7}}${7*7}',
  "' or 1=1--",
  '"; drop table documents; --',
  "admin'--",
  '1) or (1=1',
  '\\',
  '"',
];

export const WRONG_TYPES: unknown[] = [null, true, false, 0, -1, 1.5, [], [1, 2], ['a'], {}, { a: 1 }, [[[]]], 'string', [null], { '': '' }];

/** Lengths of "huge" strings: around the field limits and around/above the 1 MiB body limit. */
export const HUGE_LENGTHS = [51, 101, 201, 255, 301, 4097, 10_001, 100_001, 400_000, BODY_LIMIT - 64, BODY_LIMIT + 1, BODY_LIMIT * 2];

export const EXTRA_FIELDS = ['tenantId', 'tenant_id', 'tenant', 'id', 'createdAt', 'ownerId', 'userId', 'role', 'isAdmin', 'status', 'x', '', ' ', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'];

/** Path segments (already percent-encoded where needed; Node sends them as they are). */
export const BAD_PATH_SEGMENTS = [
  'not-a-uuid',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  'ffffffff-ffff-ffff-ffff-ffffffffffffff',
  '0000000-0000-4000-8000-000000000000',
  'zzzzzzzz-zzzz-4zzz-8zzz-zzzzzzzzzzzz',
  '00000000000040008000000000000000',
  '%7B00000000-0000-4000-8000-000000000000%7D',
  'urn:uuid:00000000-0000-4000-8000-000000000000',
  '00000000-0000-4000-8000-000000000000%00',
  '00000000-0000-4000-8000-000000000000%20',
  "'%20or%201=1--",
  "%27%20or%201%3D1--",
  '1;drop',
  '..',
  '.',
  '%2e%2e',
  '%2E%2E%2F%2E%2E',
  '..%2f..%2f',
  '%2F',
  '%5C',
  '%00',
  '%',
  '%zz',
  '%ff',
  '%C0%AF',
  '%ED%A0%80',
  '%E2%80%AE',
  '%F0%9F%92%A9',
  '%EF%BB%BF',
  'a'.repeat(300),
  'a'.repeat(5000),
  '%41'.repeat(3000),
  '-1',
  '0',
  '2147483648',
  '9007199254740993',
  '1e309',
  'NaN',
  'null',
  'undefined',
  '%5Bobject%20Object%5D',
  'constructor',
  '__proto__',
  'UPPER-CASE',
  '~',
  '*',
  '%3Flimit=1',
  '%23frag',
  ';a=b',
];

export const BAD_QUERY_VALUES = [...NUMBERISH_STRINGS, '%00', '%', '%zz', '%ff', '%C0%AF', '%ED%A0%80', '%E2%80%AE', "'%20or%201=1--", 'a'.repeat(201), 'a'.repeat(3000), '%F0%9F%92%A9'.repeat(30)];

export const CONTENT_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
  'multipart/form-data; boundary=----x',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/json; charset=',
  'APPLICATION/JSON',
  'application/jsonx',
  'application/vnd.api+json',
  'application/xml',
  'application/octet-stream',
  '',
  ';',
  'application/json, text/plain',
  '*/*',
  'application/json; boundary=x; charset=utf-8; q=0.1',
];

export function hugeString(length: number, unit = 'a'): string {
  return unit.repeat(Math.ceil(length / unit.length)).slice(0, length);
}

/**
 * JSON text for a value that may hold RawJson numbers and own `__proto__` keys
 * (JSON.stringify writes lone surrogates escaped: "\ud800").
 */
export function toJsonText(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_key, v) => {
    if (v instanceof RawJson) {
      raws.push(v.text);
      return `\u0001RAW${raws.length - 1}\u0001`;
    }
    return v;
  });
  if (text === undefined) return '';
  return raws.length ? text.replace(/"\\u0001RAW(\d+)\\u0001"/g, (_, i: string) => raws[Number(i)]) : text;
}
