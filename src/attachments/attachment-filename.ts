import { AppError } from '../common/errors/app-error';

/**
 * A user's file name is metadata only: it never becomes part of a storage key
 * and reaches clients only inside Content-Disposition. It is still refused
 * (400, before any storage call) when it looks like a path or could fool a
 * client that saves it: separators, traversal, control characters, and
 * percent-encoded forms of any of those (double encoding included).
 */

export const MAX_FILENAME_BYTES = 255;
/** How many layers of percent-encoding are unwrapped looking for a hidden separator. */
const DECODE_DEPTH = 3;

// C0/C1 controls (NUL included), DEL, and the bidi/zero-width marks used to disguise extensions.
const FORBIDDEN_CHARS = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function problem(message: string): AppError {
  return AppError.validation([{ path: 'filename', message }]);
}

function checkForm(name: string): void {
  if (name.includes('/') || name.includes('\\')) throw problem('must not contain path separators');
  if (FORBIDDEN_CHARS.test(name)) throw problem('must not contain control characters');
  if (name === '.' || name === '..') throw problem('must be a file name');
}

/** Returns the name unchanged when acceptable; throws a 400 otherwise. */
export function parseAttachmentFilename(raw: unknown): string {
  if (raw === undefined || raw === null || raw === '') throw problem('is required (?filename= or the x-filename header)');
  if (typeof raw !== 'string') throw problem('must be given once');
  if (raw.trim() === '') throw problem('must not be blank');
  if (Buffer.byteLength(raw, 'utf8') > MAX_FILENAME_BYTES) throw problem(`must be at most ${MAX_FILENAME_BYTES} bytes`);
  if (LONE_SURROGATE.test(raw)) throw problem('must be valid Unicode');

  let form = raw;
  checkForm(form);
  for (let depth = 0; depth < DECODE_DEPTH && /%[0-9a-f]{2}/i.test(form); depth++) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(form);
    } catch {
      break; // not valid percent-encoding (e.g. "50%off"): nothing hidden behind it
    }
    checkForm(decoded);
    form = decoded;
  }
  return raw;
}

/** Header values are Latin-1 on the wire: clients send x-filename percent-encoded UTF-8 (as encodeURIComponent does). */
export function filenameFromHeader(header: string | string[] | undefined): unknown {
  if (header === undefined) return undefined;
  if (Array.isArray(header)) return header;
  try {
    return decodeURIComponent(header);
  } catch {
    throw problem('x-filename must be percent-encoded UTF-8');
  }
}

const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/i;

/** `type/subtype` from Content-Type (parameters dropped), lowercase; octet-stream when absent. */
export function parseContentType(header: string | string[] | undefined): string {
  if (header === undefined || header === '') return 'application/octet-stream';
  if (Array.isArray(header)) throw AppError.validation([{ path: 'content-type', message: 'must be given once' }]);
  const essence = header.split(';')[0].trim().toLowerCase();
  if (!MEDIA_TYPE.test(essence)) throw AppError.validation([{ path: 'content-type', message: 'must be a media type such as image/png' }]);
  return essence;
}

/**
 * RFC 6266 `attachment` with an ASCII fallback and the exact name as RFC 8187
 * `filename*` (UTF-8, percent-encoded). Always "attachment": a stored HTML or
 * SVG file must never render inline on the API's origin.
 */
export function contentDisposition(filename: string): string {
  const fallback = filename.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
