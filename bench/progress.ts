/** A one-line progress bar on stderr (a line per 10% when stderr is not a terminal). */
export class ProgressBar {
  private readonly started = Date.now();
  private lastDecile = -1;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly unit: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  update(done: number): void {
    const fraction = this.total === 0 ? 1 : Math.min(1, done / this.total);
    const elapsed = ((Date.now() - this.started) / 1000).toFixed(1);
    const text = `${this.label} [${bar(fraction)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${done.toLocaleString('en-US')}/${this.total.toLocaleString('en-US')} ${this.unit} ${elapsed}s`;
    if (this.stream.isTTY) {
      this.stream.write(`\r${text}`);
      return;
    }
    const decile = Math.floor(fraction * 10);
    if (decile !== this.lastDecile) {
      this.lastDecile = decile;
      this.stream.write(`${text}\n`);
    }
  }

  finish(): void {
    if (this.stream.isTTY) this.stream.write('\n');
  }
}

function bar(fraction: number, width = 30): string {
  const filled = Math.round(fraction * width);
  return '#'.repeat(filled) + '.'.repeat(width - filled);
}
