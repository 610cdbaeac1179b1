// Argument checks shared by the pooling ops (max, average, adaptive): sizes given as a number or an
// [h, w] pair, the options objects, and PyTorch's output-size rule. Every error names the op and the
// values, and is thrown before any GPU work.
import { checkOptions } from '../backend/options.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { requireFloat } from '../tensor/raw.ts';
import { fmt } from '../tensor/shape.ts';
import { poolOut, type PoolGeom } from '../kernels/maxpool.ts';

/** A size given as one number (both axes) or [height, width]. */
export type Size2 = number | readonly [number, number];

/** A number or [h, w] pair of integers >= min. */
export function pair(op: string, what: string, v: unknown, min: number): [number, number] {
  const p = typeof v === 'number' ? [v, v] : Array.isArray(v) ? [...(v as unknown[])] : [v];
  if (p.length !== 2 || !p.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= min))
    throw new Error(`${op}: expected ${what} to be an integer >= ${min} or a pair of them, got ${JSON.stringify(v)}`);
  return [p[0] as number, p[1] as number];
}

/** Throw naming the op, the key and the accepted keys when `o` has a key outside `accepted`. */
export function checkKeys(op: string, o: object, accepted: readonly string[]): void {
  checkOptions(op, o, accepted);
}

/** `v` if it is a boolean, `dflt` if undefined; otherwise an error naming the op and the option. */
export function boolOpt(op: string, name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new Error(`${op}: expected ${name} to be a boolean, got ${JSON.stringify(v)}`);
  return v;
}

const isOptions = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The window options of a pooling op. */
export interface PoolWindowOptions {
  /** Default: the kernel size. */
  stride?: Size2 | null;
  /** Implicit padding on both sides of each axis, at most half the kernel (default 0). */
  padding?: Size2;
  /** Output size by ceil instead of floor (PyTorch's ceil_mode; default false). */
  ceilMode?: boolean;
}

/**
 * The two call forms of a pooling op, merged into one options object:
 *   op(x, k, { stride, padding, ...extra })            (options as the third argument)
 *   op(x, k, stride?, padding?, { ...extra })          (PyTorch's positional order)
 * `extra` lists the option keys beyond stride and padding (e.g. 'ceilMode').
 */
export function poolOptions(
  op: string,
  extra: readonly string[],
  strideOrOptions: unknown,
  padding: unknown,
  options: unknown,
): Record<string, unknown> {
  if (isOptions(strideOrOptions)) {
    if (padding !== undefined || options !== undefined)
      throw new Error(`${op}: with an options object as the third argument, pass padding and the other options in it`);
    checkKeys(op, strideOrOptions, ['stride', 'padding', ...extra]);
    return { ...strideOrOptions };
  }
  if (options !== undefined && !isOptions(options))
    throw new Error(`${op}: expected the options (${extra.join(', ')}) as an object, got ${JSON.stringify(options)}`);
  if (options) checkKeys(op, options, extra);
  return { ...(options ?? {}), stride: strideOrOptions, padding };
}

/** x [B, C, H, W] or [C, H, W] (float) and its planes (B * C, or C). */
export function planesOf(op: string, x: Tensor): { lead: number[]; n: number; h: number; w: number } {
  requireFloat(op, x);
  if (x.ndim !== 4 && x.ndim !== 3) throw new Error(`${op}: expected x of shape [B, C, H, W] or [C, H, W], got ${fmt(x.shape)}`);
  const lead = x.shape.slice(0, -2);
  const [h, w] = x.shape.slice(-2);
  return { lead, n: lead.reduce((a, b) => a * b, 1), h, w };
}

/** The pooling geometry for x and a window, checked as PyTorch checks it: kernel and stride >= 1,
 * padding >= 0 and at most half the kernel, output at least 1 x 1. */
export function windowGeom(op: string, x: Tensor, kernelSize: unknown, o: PoolWindowOptions): { geom: PoolGeom; outShape: number[] } {
  const { lead, n, h, w } = planesOf(op, x);
  const [kh, kw] = pair(op, 'kernelSize', kernelSize, 1);
  const [sh, sw] = o.stride === undefined || o.stride === null ? [kh, kw] : pair(op, 'stride', o.stride, 1);
  const [ph, pw] = pair(op, 'padding', o.padding ?? 0, 0);
  const ceil = boolOpt(op, 'ceilMode', o.ceilMode, false);
  if (2 * ph > kh || 2 * pw > kw)
    throw new Error(`${op}: padding (${ph}, ${pw}) must be at most half the kernel size (${kh}, ${kw})`);
  const oh = poolOut(h, kh, sh, ph, ceil);
  const ow = poolOut(w, kw, sw, pw, ceil);
  if (oh < 1 || ow < 1)
    throw new Error(
      `${op}: input ${fmt(x.shape)} is smaller than the kernel (${kh}, ${kw}) with padding (${ph}, ${pw})` +
        ` (output would be ${oh} x ${ow})`,
    );
  return { geom: { n, h, w, oh, ow, kh, kw, sh, sw, ph, pw }, outShape: [...lead, oh, ow] };
}

/** An adaptive pool's output size: a number (both axes) or [oh, ow], where null keeps that input
 * size (PyTorch's None). */
export type OutputSize2 = number | readonly [number | null, number | null];

export function adaptiveOut(op: string, outputSize: unknown, h: number, w: number): [number, number] {
  const bad = () =>
    new Error(`${op}: expected outputSize to be a positive integer or a pair of them (null keeps the input size), got ${JSON.stringify(outputSize)}`);
  const v = typeof outputSize === 'number' ? [outputSize, outputSize] : Array.isArray(outputSize) ? [...(outputSize as unknown[])] : null;
  if (!v || v.length !== 2) throw bad();
  const r = v.map((d, i) => (d === null ? (i === 0 ? h : w) : d));
  if (!r.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 1)) throw bad();
  return [r[0] as number, r[1] as number];
}
