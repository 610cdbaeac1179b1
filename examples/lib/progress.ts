// Progress display: a redrawn bar with ETA and running loss on a TTY, plain periodic lines otherwise.

export class Progress {
  private start = Date.now();
  private lastPlain = 0;
  private readonly tty = !!process.stdout.isTTY;
  constructor(private readonly label: string, private readonly total: number) {}

  /** `done` items of `total`; `extra` is appended (e.g. running loss). */
  update(done: number, extra = ''): void {
    const el = (Date.now() - this.start) / 1000;
    const eta = done > 0 ? (el / done) * (this.total - done) : NaN;
    const pct = this.total ? done / this.total : 1;
    if (this.tty) {
      const w = 24;
      const fill = Math.round(pct * w);
      const bar = '#'.repeat(fill) + '-'.repeat(w - fill);
      process.stdout.write(`\r${this.label} [${bar}] ${(pct * 100).toFixed(0).padStart(3)}% ${fmtTime(el)} eta ${fmtTime(eta)} ${extra}\x1b[K`);
    } else if (el - this.lastPlain >= 15 || done === this.total) {
      this.lastPlain = el;
      console.log(`${this.label} ${done}/${this.total} (${(pct * 100).toFixed(0)}%) ${fmtTime(el)} elapsed, eta ${fmtTime(eta)} ${extra}`);
    }
  }
  /** How often the caller should read back numbers for `update` (seconds). */
  get interval(): number {
    return this.tty ? 1 : 15;
  }
  end(): void {
    if (this.tty) process.stdout.write('\n');
  }
}

export function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  const m = Math.floor(s / 60);
  const sec = Math.floor(s % 60);
  return m >= 60 ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m` : `${m}:${String(sec).padStart(2, '0')}`;
}
