// Small statistics and formatting helpers for the bench scripts.

export function median(xs: readonly number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function min(xs: readonly number[]): number {
  return xs.length ? Math.min(...xs) : NaN;
}

/** A number with `sig` significant digits, without exponent noise for the usual bench ranges. */
export function fmtNum(x: number, sig = 3): string {
  if (!Number.isFinite(x)) return '-';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 10 ** sig) return x.toFixed(0);
  const digits = Math.max(0, sig - 1 - Math.floor(Math.log10(a)));
  return x.toFixed(Math.min(digits, 6));
}

export function fmtPct(x: number): string {
  return Number.isFinite(x) ? `${x >= 10 ? x.toFixed(0) : x.toFixed(1)}%` : '-';
}

/** A plain text table: header row, rows, right-aligned numbers. */
export function table(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const isNum = (s: string) => /^[-+]?[\d.]+(e[-+]?\d+)?(%|x)?$/.test(s) || s === '-';
  const line = (r: string[]) =>
    r.map((c, i) => (isNum(c) && i > 0 ? c.padStart(w[i]) : c.padEnd(w[i]))).join('  ').trimEnd();
  return [line(header), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
