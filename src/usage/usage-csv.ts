/**
 * RFC 4180 CSV: CRLF line ends, a field quoted (its quotes doubled) when it
 * holds a comma, quote, CR or LF. A field starting with = + - @ (or a tab or
 * CR) is prefixed with ' so spreadsheets do not run it as a formula (OWASP
 * "CSV injection"); numbers are written as they are.
 */
export function toCsv(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number | null>>): string {
  return [header, ...rows].map((row) => row.map(csvField).join(',')).join('\r\n') + '\r\n';
}

export function csvField(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
