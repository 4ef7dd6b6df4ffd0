import { AppError } from '../common/errors/app-error';
import { contentDisposition, filenameFromHeader, parseAttachmentFilename, parseContentType } from './attachment-filename';

describe('attachment file names', () => {
  it.each([
    'report.pdf',
    'Résumé 2026 (final).docx',
    '日本語のファイル.txt',
    '50%off.png',
    '..hidden-but-harmless',
    'a'.repeat(255),
    'report%20final.pdf',
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
