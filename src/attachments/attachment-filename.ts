import { AppError } from '../common/errors/app-error';

/**
 * A user's file name is metadata only: it never becomes part of a storage key
 * and reaches clients only inside Content-Disposition. It is still refused
 * (400, before any storage call) when it looks like a path or could fool a
 * client that saves it: separators, `.`/`..`, control characters (NUL
 * included), bidi/zero-width marks, and percent-encoded forms of any of those.
 *
 * The rule is about the stored name, not about how far some decoder gets:
 *
 *   1. the name as given (what is stored and echoed) passes the form check;
 *   2. its tolerant one-layer decoding (every `%XX` run that is well-formed
 *      UTF-8 decoded, exactly as decodeURIComponent would decode it, malformed
 *      ones such as `%E0` left as text) passes the form check;
 *   3. that decoding contains no `%` followed by two hex digits. So a name may
 *      carry percent-encoding only if it is exactly one well-formed layer:
 *      double encoding (`%252e`) and malformed sequences (`%E0`, overlong
 *      `%C0%AF`) are refused whatever follows them, while `50%off.txt`,
 *      `100% sure.pdf` and `report%20final.pdf` are accepted.
 *
 * Why that is enough: every way of percent-decoding an accepted name (a
 * tolerant decoder, decodeURIComponent on any substring, repeated any number
 * of times) decodes some of its well-formed sequences to the same characters
 * as step 2, and never forms a new `%XX` (it would already be in the step-2
 * form, which has none). So each result is the name with some of its sequences
 * decoded: its characters are those of step 1 or step 2, and none of them is a
 * separator, control or bidi mark; it is `.`/`..` only if it is the step-2 form.
 * The previous check stopped at the first sequence decodeURIComponent refused
 * (`%252e%252e%252fx%25E0` was accepted and echoed as `%2e%2e%2fx%E0`, which
 * decodes to `../x`); attachment-filename.spec.ts checks the invariant on
 * generated names.
 */

export const MAX_FILENAME_BYTES = 255;

// Controls (C0/C1, NUL and DEL included), every bidi control, default-ignorable (zero-width, soft hyphen, word joiner) and line/paragraph separators: all can disguise a name.
const FORBIDDEN_CHARS = /[\p{Cc}\p{Bidi_Control}\p{Default_Ignorable_Code_Point}\p{Zl}\p{Zp}]/u;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** `%` followed by two hex digits: something a percent-decoder would act on. */
const PERCENT_TRIPLET = /%[0-9a-f]{2}/i;
const PERCENT_TRIPLET_RUN = /(?:%[0-9a-f]{2})+/gi;

function problem(message: string): AppError {
  return AppError.validation([{ path: 'filename', message }]);
}

function checkForm(name: string): void {
  if (name.includes('/') || name.includes('\\')) throw problem('must not contain path separators');
  if (FORBIDDEN_CHARS.test(name)) throw problem('must not contain control characters');
  if (name === '.' || name === '..') throw problem('must be a file name');
}

/** UTF-8 sequence length announced by a lead byte; 0 when it cannot start one. */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

/**
 * One layer of percent-decoding that never fails: each `%XX` sequence that
 * starts a well-formed UTF-8 character is decoded (validated by
 * decodeURIComponent itself, so overlong forms, surrogates and truncated
 * sequences are treated exactly as browsers and Node treat them); any other
 * `%XX` is kept as literal text.
 */
export function percentDecodeTolerant(value: string): string {
  return value.replace(PERCENT_TRIPLET_RUN, (run) => {
    const triplets = run.match(/%[0-9a-f]{2}/gi) ?? [];
    let out = '';
    for (let i = 0; i < triplets.length; ) {
      const length = sequenceLength(parseInt(triplets[i].slice(1), 16));
      if (length > 0 && i + length <= triplets.length) {
        try {
          out += decodeURIComponent(triplets.slice(i, i + length).join(''));
          i += length;
          continue;
        } catch {
          // malformed: fall through and keep this byte as text
        }
      }
      out += triplets[i];
      i += 1;
    }
    return out;
  });
}

/** Returns the name unchanged when acceptable; throws a 400 otherwise. */
export function parseAttachmentFilename(raw: unknown): string {
  if (raw === undefined || raw === null || raw === '') throw problem('is required (?filename= or the x-filename header)');
  if (typeof raw !== 'string') throw problem('must be given once');
  if (raw.trim() === '') throw problem('must not be blank');
  if (Buffer.byteLength(raw, 'utf8') > MAX_FILENAME_BYTES) throw problem(`must be at most ${MAX_FILENAME_BYTES} bytes`);
  if (LONE_SURROGATE.test(raw)) throw problem('must be valid Unicode');

  checkForm(raw);
  const decoded = percentDecodeTolerant(raw);
  checkForm(decoded);
  if (PERCENT_TRIPLET.test(decoded)) throw problem('must not contain nested or malformed percent-encoding');
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
