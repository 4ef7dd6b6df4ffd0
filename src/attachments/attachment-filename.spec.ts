import { Rng } from '../../test/helpers/prng';
import { AppError } from '../common/errors/app-error';
import { contentDisposition, filenameFromHeader, parseAttachmentFilename, parseContentType, percentDecodeTolerant } from './attachment-filename';

describe('attachment file names', () => {
  it.each([
    'report.pdf',
    'Résumé 2026 (final).docx',
    '日本語のファイル.txt',
    '50%off.png',
    '..hidden-but-harmless',
    'a'.repeat(255),
    'report%20final.pdf',
    '50%off.txt',
    '100% sure.pdf',
    '100%',
    '%',
    '%%',
    'a%2',
    '%g0.txt',
    '%2g.txt',
    'Résumé%20v2.pdf',
    '%C3%A9t%C3%A9.txt',
    '%e2%9c%93 done.txt',
    'emoji %F0%9F%98%80.png',
  ])('accepts %j (positive control)', (name) => {
    expect(parseAttachmentFilename(name)).toBe(name);
  });

  it.each([
    ['../etc/passwd'],
    ['..'],
    ['.'],
    ['%2e%2e%2f'],
    ['%2e%2e%2fetc%2fpasswd'],
    ['%252e%252e%252f'],
    ['%2e%2e'],
    ['%2E.'],
    ['%C0%AF'], // overlong "/": decodeURIComponent refuses it, a sloppy decoder would not
    ['..%2f..%2fsecret'],
    ['..%5c..%5csecret'],
    ['//server/share'],
    ['/etc/passwd'],
    ['a/b'],
    ['C:\\Windows\\system32'],
    ['\\\\server\\share'],
    ['nul\u0000byte.txt'],
    ['new\nline.txt'],
    ['tab\t.txt'],
    ['del\u007f.txt'],
    ['%00.txt'],
    ['evil\u202Etxt.exe'],
    ['arabic\u061Cmark.txt'], // the one bidi control outside the U+202x/U+206x blocks
    ['word\u2060joiner.txt'],
    ['soft\u00ADhyphen.txt'],
    ['line\u2028separator.txt'],
    ['para\u2029separator.txt'],
    ['%E2%81%A0.txt'], // U+2060, percent-encoded
    ['%D8%9C.txt'], // U+061C, percent-encoded
    ['a'.repeat(256)],
    ['é'.repeat(128)],
    [''],
    ['   '],
    [undefined],
    [['a.txt', 'b.txt']],
  ])('rejects %j with a 400', (name) => {
    let caught: unknown;
    try {
      parseAttachmentFilename(name);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AppError);
    expect((caught as AppError).code).toBe('VALIDATION_FAILED');
    expect((caught as AppError).details?.[0].path).toBe('filename');
  });

  it('reads x-filename as percent-encoded UTF-8', () => {
    expect(filenameFromHeader(encodeURIComponent('Résumé.pdf'))).toBe('Résumé.pdf');
    expect(filenameFromHeader(undefined)).toBeUndefined();
    expect(() => filenameFromHeader('%E0%A4%A')).toThrow(AppError);
  });

  it('builds an RFC 6266 Content-Disposition with an ASCII fallback and filename*', () => {
    expect(contentDisposition('plain.txt')).toBe(`attachment; filename="plain.txt"; filename*=UTF-8''plain.txt`);
    expect(contentDisposition('Résumé "1" (x).pdf')).toBe(
      `attachment; filename="R_sum_ _1_ (x).pdf"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%221%22%20%28x%29.pdf`,
    );
    // Nothing in the header value can end the parameter early or start a new header.
    expect(contentDisposition('a";\r\nx-evil: 1')).not.toMatch(/[\r\n]|";[^ ]/);
  });

  it('keeps only a well-formed media type', () => {
    expect(parseContentType('Image/PNG; charset=binary')).toBe('image/png');
    expect(parseContentType(undefined)).toBe('application/octet-stream');
    expect(() => parseContentType('text/html\r\nx: y')).toThrow(AppError);
    expect(() => parseContentType('not a type')).toThrow(AppError);
  });
});

/** What a query parser does to ?filename= (Fastify decodes the query string once). */
const viaQuery = (wire: string): unknown => parseAttachmentFilename(decodeURIComponent(wire));
/** The x-filename path of the controller. */
const viaHeader = (wire: string): unknown => parseAttachmentFilename(filenameFromHeader(wire));

function refusal(run: () => unknown): AppError | undefined {
  try {
    run();
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  return undefined;
}

const FORBIDDEN_AFTER_DECODING = /[/\\\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/;
const isForbidden = (form: string) => FORBIDDEN_AFTER_DECODING.test(form) || form === '.' || form === '..';

/**
 * Every string any percent-decoder can make of `name`, applied any number of
 * times: the tolerant decoder, and decodeURIComponent on every substring that
 * it accepts (a substring starting at a `%` is enough: literal characters
 * before the first `%` pass through unchanged).
 */
function everyDecoding(name: string, limit = 20_000): Set<string> {
  const seen = new Set([name]);
  const queue = [name];
  while (queue.length > 0) {
    const form = queue.shift()!;
    const next = [percentDecodeTolerant(form)];
    for (let i = form.indexOf('%'); i !== -1; i = form.indexOf('%', i + 1)) {
      for (let j = i + 3; j <= form.length; j++) {
        try {
          next.push(form.slice(0, i) + decodeURIComponent(form.slice(i, j)) + form.slice(j));
        } catch {
          // not decodable as a whole: another (i, j) covers its decodable parts
        }
      }
    }
    for (const candidate of next) {
      if (seen.has(candidate)) continue;
      if (seen.size >= limit) throw new Error(`more than ${limit} decodings of ${JSON.stringify(name)}`);
      seen.add(candidate);
      queue.push(candidate);
    }
  }
  return seen;
}


describe('attachment file names hiding something behind an invalid percent-sequence (issue 9)', () => {
  // The exact requests of the issue; the old check stopped decoding at the first %E0.
  const issueRequests = [
    ['traversal', '%252e%252e%252fx%25E0'],
    ['encoded NUL', '%2500secret.txt%25E0'],
    ['right-to-left override', '%25E2%2580%25AEtxt.exe%25E0'],
  ] as const;

  it.each(issueRequests)('refuses the %s through ?filename= and through x-filename', (_label, wire) => {
    for (const path of [viaQuery, viaHeader]) {
      const error = refusal(() => path(wire));
      expect(error?.code).toBe('VALIDATION_FAILED');
      expect(error?.details?.[0].path).toBe('filename');
    }
  });

  it('decodes tolerantly: well-formed UTF-8 runs decoded, malformed ones kept as text', () => {
    expect(percentDecodeTolerant('%2e%2e%2fx%E0')).toBe('../x%E0');
    expect(percentDecodeTolerant('%E0%2e%2E%2F')).toBe('%E0../');
    expect(percentDecodeTolerant('%00x%e0')).toBe('\u0000x%e0');
    expect(percentDecodeTolerant('%E2%80%AEtxt%E0')).toBe('\u202etxt%E0');
    expect(percentDecodeTolerant('%e0%a4%a4')).toBe('त');
    expect(percentDecodeTolerant('%F0%9F%98%80%E0%A4')).toBe('😀%E0%A4'); // truncated sequence kept
    expect(percentDecodeTolerant('%C0%AF')).toBe('%C0%AF'); // overlong, as decodeURIComponent sees it
    expect(percentDecodeTolerant('%ED%A0%80')).toBe('%ED%A0%80'); // surrogate
    expect(percentDecodeTolerant('50%off %zz %2')).toBe('50%off %zz %2');
    expect(percentDecodeTolerant('%252e')).toBe('%2e'); // one layer only
  });

  it.each([
    // triple encoding, through both paths
    ['%25252e%25252e%25252fx%2525E0'],
    ['%25252e%25252e%25252fx'],
    // invalid sequences before, between and after valid ones; upper and lower case hex
    ['%252E%252E%252Fx%25e0'],
    ['%25E0%252e%252e%252fx'],
    ['%252e%25E0%252e%252fx'],
    ['x%25E0%252f%25E0'],
    ['%25C0%25AF%252fx'],
    ['%25ff%2500'],
    ['%25E2%2580%25aeexe.txt'],
    ['%25e2%2580%258b.txt'], // zero-width space
    ['%25E0%25E0%25E0%255c'],
    // a nested layer even when what it hides is harmless, and a bare malformed byte
    ['%252541.txt'],
    ['x%25E0.txt'],
    ['%2585'], // would be NEL (a C1 control) to a Latin-1 decoder
  ])('refuses %j through ?filename= and through x-filename', (wire) => {
    for (const path of [viaQuery, viaHeader]) {
      expect(refusal(() => path(wire))?.details?.[0].path).toBe('filename');
    }
  });

  it.each([
    ['50%25off.txt', '50%off.txt'],
    ['100%25%20sure.pdf', '100% sure.pdf'],
    ['report%2520final.pdf', 'report%20final.pdf'],
    ['R%C3%A9sum%C3%A9.pdf', 'Résumé.pdf'],
    ['%E6%97%A5%E6%9C%AC.txt', '日本.txt'],
    ['%25g0%25', '%g0%'],
    ['%2541.txt', '%41.txt'], // one well-formed layer: stored as given, a client decoding it gets A.txt
  ])('accepts %j as %j through both paths (positive control)', (wire, stored) => {
    expect(viaQuery(wire)).toBe(stored);
    expect(viaHeader(wire)).toBe(stored);
  });

  it('accepts no name that any amount of further percent-decoding turns into a path, a control or a bidi mark (seeded property test)', () => {
    const rng = new Rng(0x19);
    const random = () => rng.next();
    const pieces = [
      '%', '%%', '25', '2', '5', 'e', 'E', 'f', 'F', '0', '2e', '2E', '2f', '2F', '5c', '5C', '00', 'E0', 'e0', 'E2', '80', 'AE', 'ae', '8B',
      'C0', 'AF', '.', '..', 'a', 'x', ' ', 'é', '%25', '%2e', '%2E', '%2f', '%2F', '%5c', '%00', '%0A', '%E0', '%e0', '%E2%80%AE',
      '%e2%80%8b', '%C0%AF', '%C3%A9', '%32', '%36', '%66', '%65', '%F0%9F%98%80', '%E2%80', '%2525',
    ];
    let accepted = 0;
    let refused = 0;
    for (let n = 0; n < 3000; n++) {
      let name = '';
      const count = 1 + Math.floor(random() * 9);
      for (let k = 0; k < count; k++) name += pieces[Math.floor(random() * pieces.length)];
      if (refusal(() => parseAttachmentFilename(name)) !== undefined) {
        refused++;
        continue;
      }
      accepted++;
      const bad = [...everyDecoding(name)].find(isForbidden);
      expect({ name, bad }).toEqual({ name, bad: undefined });
    }
    // Not vacuous: plenty of both outcomes.
    expect(accepted).toBeGreaterThan(500);
    expect(refused).toBeGreaterThan(500);
  });
});
