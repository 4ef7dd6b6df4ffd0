/**
 * stdout carries the result only (a table, or JSON with --json), so a script
 * can parse it; progress, audit lines and errors go to stderr.
 */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printLines(...lines: string[]): void {
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** A plain aligned table: `columns` in order, header in capitals. */
export function printTable<T extends object>(rows: T[], columns: Array<keyof T & string>): void {
  const cells = [columns.map((column) => column.toUpperCase()), ...rows.map((row) => columns.map((column) => String(row[column] ?? '')))];
  const widths = columns.map((_, index) => Math.max(...cells.map((line) => line[index].length)));
  printLines(...cells.map((line) => line.map((cell, index) => cell.padEnd(widths[index])).join('  ').trimEnd()));
}
