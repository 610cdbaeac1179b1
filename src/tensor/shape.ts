// Shapes, strides and NumPy broadcasting, with the error messages every op reuses.

export type Shape = readonly number[];

export const fmt = (s: Shape): string => `[${s.join(',')}]`;

export function numel(s: Shape): number {
  let n = 1;
  for (const d of s) n *= d;
  return n;
}

/** Row-major (C-contiguous) strides. */
export function contiguousStrides(s: Shape): number[] {
  const st = new Array<number>(s.length);
  let acc = 1;
  for (let i = s.length - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

/** Reject non-integer, negative or non-finite dimensions. */
export function checkShape(op: string, s: unknown): number[] {
  if (!Array.isArray(s)) throw new Error(`${op}: shape must be an array of sizes, got ${String(s)}`);
  for (const d of s) {
    if (typeof d !== 'number' || !Number.isFinite(d) || !Number.isInteger(d) || d < 0)
      throw new Error(`${op}: invalid shape ${fmt(s as number[])}: sizes must be finite non-negative integers, got ${d}`);
  }
  if (s.length > 6) throw new Error(`${op}: rank ${s.length} exceeds the supported 6 dimensions in ${fmt(s)}`);
  return [...(s as number[])];
}

/** NumPy broadcast of two shapes. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`${op}: shapes ${fmt(a)} and ${fmt(b)} cannot broadcast`);
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides of `s` (contiguous) read as shape `out` under broadcasting (0 where broadcast). */
export function broadcastStrides(s: Shape, out: Shape): number[] {
  const st = contiguousStrides(s);
  const r = new Array<number>(out.length).fill(0);
  const off = out.length - s.length;
  for (let i = 0; i < s.length; i++) r[off + i] = s[i] === 1 && out[off + i] !== 1 ? 0 : st[i];
  return r;
}

/** Normalise a possibly negative axis. */
export function normAxis(op: string, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -Math.max(rank, 1) || axis >= Math.max(rank, 1))
    throw new Error(`${op}: axis ${axis} is out of range for a tensor of rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Resolve one -1 in a reshape target. */
export function inferReshape(op: string, from: Shape, to: readonly number[]): number[] {
  const n = numel(from);
  const neg = to.filter((d) => d === -1).length;
  if (neg > 1) throw new Error(`${op}: only one dimension can be -1, got ${fmt(to)}`);
  const known = to.filter((d) => d !== -1);
  checkShape(op, known);
  let out = [...to];
  if (neg === 1) {
    const k = numel(known);
    if (k === 0 || n % k !== 0) throw new Error(`${op}: cannot reshape ${fmt(from)} (${n} elements) to ${fmt(to)}`);
    out = to.map((d) => (d === -1 ? n / k : d));
  }
  if (numel(out) !== n)
    throw new Error(`${op}: cannot reshape ${fmt(from)} (${n} elements) to ${fmt(out)} (${numel(out)} elements)`);
  return out;
}
