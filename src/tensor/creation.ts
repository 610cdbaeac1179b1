// Creating tensors. `device` defaults to the GPU once `init()` has run, else the CPU.
import type { NumArray } from '../kernels/kernel.ts';
import { checkShape, fmt, numel, type Shape } from './shape.ts';
import { fromArray } from './launch.ts';
import { arange as rawArange, full as rawFull } from './raw.ts';
import { defaultDevice, type Tensor } from './tensor.ts';
import type { DType, Device } from './storage.ts';
import { globalGenerator } from './random.ts';
import { checkOptions } from '../backend/options.ts';

/** Where a new tensor lives, its dtype, and whether autograd tracks it. */
export interface CreateOptions {
  device?: Device;
  dtype?: DType;
  requiresGrad?: boolean;
}

const CREATE_KEYS = ['device', 'dtype', 'requiresGrad'] as const;

/** `o` checked for unknown keys (`extra` are the op's own, e.g. rand's low and high). */
function opts<T extends CreateOptions>(op: string, o: T | undefined, extra: readonly string[] = []): T {
  return checkOptions(op, o, [...CREATE_KEYS, ...extra]) as T;
}

function finish(t: Tensor, o: CreateOptions): Tensor {
  if (o.requiresGrad) t.requiresGrad = true;
  return t;
}

function dev(o: CreateOptions): Device {
  const d = o.device ?? defaultDevice();
  if (d !== 'cpu' && d !== 'gpu') throw new Error(`tensor: device must be 'cpu' or 'gpu', got ${String(d)}`);
  return d;
}

function dtypeOf(op: string, o: CreateOptions, device: Device): DType {
  const dt = o.dtype ?? 'float32';
  if (dt !== 'float32' && dt !== 'float64' && dt !== 'int32')
    throw new Error(`${op}: dtype must be 'float32', 'float64' or 'int32', got ${String(dt)}`);
  if (dt === 'float64' && device === 'gpu') throw new Error(`${op}: float64 is CPU-only (WebGPU has no f64)`);
  return dt;
}

function flattenNested(data: unknown, shape: number[], depth: number, out: number[]): void {
  if (Array.isArray(data)) {
    if (shape.length <= depth) shape.push(data.length);
    else if (shape[depth] !== data.length)
      throw new Error(`tensor: ragged nested array: expected length ${shape[depth]} at depth ${depth}, got ${data.length}`);
    for (const x of data) flattenNested(x, shape, depth + 1, out);
  } else {
    if (depth !== shape.length && shape.length) throw new Error('tensor: ragged nested array');
    if (typeof data !== 'number') throw new Error(`tensor: values must be numbers, got ${typeof data}`);
    out.push(data);
  }
}

/**
 * A tensor from data: a typed array or flat array with `shape`, a nested array (shape inferred),
 * or a number (0-d).
 */
export function tensor(data: NumArray | number[] | unknown[] | number, shape?: readonly number[], options?: CreateOptions): Tensor {
  const o = opts('tensor', options);
  const device = dev(o);
  const dtype = dtypeOf('tensor', o, device);
  let flat: NumArray | number[];
  let sh: number[];
  if (typeof data === 'number') {
    flat = [data];
    sh = shape ? checkShape('tensor', shape) : [];
  } else if (ArrayBuffer.isView(data)) {
    flat = data as NumArray;
    sh = shape ? checkShape('tensor', shape) : [data.length];
  } else if (Array.isArray(data)) {
    const inferred: number[] = [];
    const vals: number[] = [];
    flattenNested(data, inferred, 0, vals);
    flat = vals;
    sh = shape ? checkShape('tensor', shape) : inferred;
  } else throw new Error(`tensor: data must be a number, an array or a typed array, got ${typeof data}`);
  if (flat.length !== numel(sh))
    throw new Error(`tensor: ${flat.length} values do not fill shape ${fmt(sh)} (${numel(sh)} elements)`);
  if (dtype === 'int32') for (const v of flat) if (!Number.isInteger(v)) throw new Error(`tensor: int32 data must be integers, got ${v}`);
  const arr: NumArray =
    dtype === 'int32' ? Int32Array.from(flat) : dtype === 'float64' ? Float64Array.from(flat) : Float32Array.from(flat);
  return finish(fromArray(arr, sh, dtype, device), o);
}

/** A tensor of `shape` filled with `value`. */
export function full(shape: Shape, value: number, o?: CreateOptions): Tensor {
  return fullAs('full', shape, value, o);
}

function fullAs(op: string, shape: Shape, value: number, options: CreateOptions | undefined): Tensor {
  const o = opts(op, options);
  const sh = checkShape(op, shape);
  const device = dev(o);
  const dtype = dtypeOf(op, o, device);
  if (typeof value !== 'number') throw new Error(`${op}: value must be a number, got ${typeof value}`);
  if (dtype === 'int32') return finish(fromArray(new Int32Array(numel(sh)).fill(value), sh, dtype, device), o);
  return finish(rawFull(sh, value, device, dtype), o);
}
/** A tensor of `shape` filled with 0. */
export const zeros = (shape: Shape, o?: CreateOptions) => fullAs('zeros', shape, 0, o);
/** A tensor of `shape` filled with 1. */
export const ones = (shape: Shape, o?: CreateOptions) => fullAs('ones', shape, 1, o);

/** [start, end) in steps of `step`; `arange(n)` = [0..n). */
export function arange(start: number, end?: number, step = 1, options?: CreateOptions): Tensor {
  const o = opts('arange', options);
  if (end === undefined) [start, end] = [0, start];
  for (const v of [start, end, step])
    if (!Number.isFinite(v)) throw new Error(`arange: start, end and step must be finite, got ${start}, ${end}, ${step}`);
  if (step === 0) throw new Error('arange: step must be non-zero');
  const n = Math.max(0, Math.ceil((end - start) / step));
  const device = dev(o);
  const dtype = dtypeOf('arange', o, device);
  if (dtype === 'int32') {
    const a = new Int32Array(n);
    for (let i = 0; i < n; i++) a[i] = start + i * step;
    return finish(fromArray(a, [n], dtype, device), o);
  }
  return finish(rawArange(n, start, step, device, dtype), o);
}

/** Uniform in [low, high) from the seeded generator. */
export function rand(shape: Shape, options?: CreateOptions & { low?: number; high?: number }): Tensor {
  const { low, high, ...create } = opts('rand', options, ['low', 'high']);
  const o = { ...create, low, high };
  const sh = checkShape('rand', shape);
  const lo = o.low ?? 0;
  const hi = o.high ?? 1;
  const a = new Float64Array(numel(sh));
  for (let i = 0; i < a.length; i++) a[i] = lo + (hi - lo) * globalGenerator.random();
  return tensor(a, sh, { ...create, dtype: o.dtype ?? 'float32' });
}

/** Normal(mean, std) from the seeded generator. */
export function randn(shape: Shape, options?: CreateOptions & { mean?: number; std?: number }): Tensor {
  const { mean, std, ...create } = opts('randn', options, ['mean', 'std']);
  const o = { ...create, mean, std };
  const sh = checkShape('randn', shape);
  const m = o.mean ?? 0;
  const s = o.std ?? 1;
  const a = new Float64Array(numel(sh));
  for (let i = 0; i < a.length; i++) a[i] = m + s * globalGenerator.normal();
  return tensor(a, sh, { ...create, dtype: o.dtype ?? 'float32' });
}

/** A tensor of `like`'s shape/device/dtype filled with `value`. */
export function fullLike(like: Tensor, value: number): Tensor {
  return full(like.shape, value, { device: like.device, dtype: like.dtype });
}
