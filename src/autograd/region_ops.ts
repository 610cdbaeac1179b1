// Shape ops that copy regions (tensors are always contiguous, so none of these is a view):
// cat, stack, narrow, slice, pad, chunk, split, as torch. Kernels: src/kernels/region_copy.ts.
//   cat:           one region copy per input into its slot of the output; backward: a narrow of g
//                  per input.
//   narrow/slice:  one region copy; backward: the pad kernel scatters g into zeros.
//   pad:           the pad kernel (constant fill, negative pads crop); backward: the pad kernel
//                  again with the offsets negated (crops g, zero-fills what was cropped away).
//   stack, chunk, split: cat of unsqueezed views, narrows.
// Every op works on float and int32 tensors (int32 results carry no gradient).
import type { Tensor } from '../tensor/tensor.ts';
import { empty, launch, sameDevice } from '../tensor/launch.ts';
import { full } from '../tensor/raw.ts';
import { contiguousStrides, fmt } from '../tensor/shape.ts';
import { BASELINE_CAPS } from '../kernels/kernel.ts';
import { type RegionCopyParams, padKernel, regionCopyKernel, valueBits } from '../kernels/region_copy.ts';
import { regionCopyLayout } from '../policy/region_copy_choice.ts';
import { deviceCaps } from '../backend/device.ts';
import { Function } from './function.ts';
import { reshape } from './ops.ts';

const MAX_RANK = 6;

function isTensorLike(v: unknown): v is Tensor {
  return !!v && typeof v === 'object' && typeof (v as Tensor).check === 'function' && Array.isArray((v as Tensor).shape);
}

function int(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`${op}: ${name} must be an integer, got ${String(v)}`);
  return v;
}

/** Normalise `dim` for a tensor of rank `rank` (torch's range [-rank, rank - 1]). */
function dimOf(op: string, dim: unknown, rank: number, shape: readonly number[]): number {
  const d = int(op, 'dim', dim);
  if (d < -rank || d >= rank)
    throw new Error(`${op}: dim ${d} is out of range for a tensor of shape ${fmt(shape)} (expected [${-rank}, ${rank - 1}])`);
  return d < 0 ? d + rank : d;
}

// ---- raw (unrecorded) launchers ----

/** Copy the region `p` from src into dst, in the layout the policy picks for the GPU. */
function copyRegion(src: Tensor, dst: Tensor | { shape: readonly number[]; dtype: Tensor['dtype'] }, p: Omit<RegionCopyParams, 'layout'>): Tensor[] {
  const layout = src.device === 'gpu' ? regionCopyLayout(p, deviceCaps()) : regionCopyLayout(p, BASELINE_CAPS);
  return launch(regionCopyKernel, { ...p, layout }, [src, dst]);
}

/** x[..., start + k * step, ...] for k < length along `dim`: a new contiguous tensor. */
export function narrowRaw(x: Tensor, dim: number, start: number, length: number, step = 1): Tensor {
  const st = contiguousStrides(x.shape);
  const shape = x.shape.map((n, i) => (i === dim ? length : n));
  const p = {
    shape,
    srcStrides: st.map((s, i) => (i === dim ? s * step : s)),
    dstStrides: contiguousStrides(shape),
    srcOffset: start * st[dim],
    dstOffset: 0,
  };
  return copyRegion(x, { shape, dtype: x.dtype }, p)[0];
}

/** y of `outShape`: x at (c - lo) / step per dim where that is a whole in-range coordinate, else
 * `value`. */
export function padRaw(x: Tensor, outShape: readonly number[], lo: readonly number[], step: readonly number[], value: number): Tensor {
  if (x.size === 0) return full(outShape, value, x.device, x.dtype);
  const p = { outShape, inShape: x.shape, lo, step, value, valueBits: valueBits(value, x.dtype === 'int32') };
  return launch(padKernel, p, [x, { shape: outShape, dtype: x.dtype }])[0];
}

/** Concatenate along `dim` (validated) into a new tensor. */
export function catRaw(ts: readonly Tensor[], dim: number): Tensor {
  const parts = ts.filter((t) => !isLegacyEmpty(t, ts));
  const ref = parts[0];
  const shape = ref.shape.map((n, i) => (i === dim ? parts.reduce((s, t) => s + t.shape[dim], 0) : n));
  const out = empty(shape, ref.dtype, ref.device, 'cat');
  const dst = contiguousStrides(shape);
  let off = 0;
  for (const t of parts) {
    const p = { shape: t.shape, srcStrides: contiguousStrides(t.shape), dstStrides: dst, srcOffset: 0, dstOffset: off * dst[dim] };
    copyRegion(t, out, p);
    off += t.shape[dim];
  }
  return out;
}

/** torch.cat skips 1-D empty tensors whatever the other shapes (legacy behaviour). */
function isLegacyEmpty(t: Tensor, all: readonly Tensor[]): boolean {
  return t.ndim === 1 && t.shape[0] === 0 && all.some((u) => !(u.ndim === 1 && u.shape[0] === 0));
}

// ---- Functions ----

class Cat extends Function {
  name = 'cat';
  constructor(readonly dim: number) {
    super();
  }
  forward(...ts: Tensor[]) {
    return catRaw(ts, this.dim);
  }
  backward(g: Tensor) {
    let off = 0;
    return this.inputs.map((t, i) => {
      if (isLegacyEmpty(t, this.inputs)) return this.needsGrad[i] ? full(t.shape, 0, g.device, g.dtype) : null;
      const n = t.shape[this.dim];
      const gi = this.needsGrad[i] ? narrowRaw(g, this.dim, off, n) : null;
      off += n;
      return gi;
    });
  }
}

class Narrow extends Function {
  name: string;
  constructor(
    op: string,
    readonly dim: number,
    readonly start: number,
    readonly length: number,
    readonly step: number,
  ) {
    super();
    this.name = op;
  }
  forward(x: Tensor) {
    return narrowRaw(x, this.dim, this.start, this.length, this.step);
  }
  backward(g: Tensor) {
    const x = this.inputs[0];
    const lo = x.shape.map((_, i) => (i === this.dim ? this.start : 0));
    const step = x.shape.map((_, i) => (i === this.dim ? this.step : 1));
    return [padRaw(g, x.shape, lo, step, 0)];
  }
}

class Pad extends Function {
  name = 'pad';
  constructor(
    readonly lo: number[],
    readonly outShape: number[],
    readonly value: number,
  ) {
    super();
  }
  forward(x: Tensor) {
    return padRaw(x, this.outShape, this.lo, this.lo.map(() => 1), this.value);
  }
  backward(g: Tensor) {
    const x = this.inputs[0];
    return [padRaw(g, x.shape, this.lo.map((v) => -v), this.lo.map(() => 1), 0)];
  }
}

// ---- the functional API ----

function checkList(op: string, ts: unknown): Tensor[] {
  if (!Array.isArray(ts)) throw new Error(`${op}: expected an array of tensors, got ${typeof ts}`);
  if (ts.length === 0) throw new Error(`${op}: expected a non-empty list of tensors`);
  ts.forEach((t, i) => {
    if (!isTensorLike(t)) throw new Error(`${op}: element ${i} is not a Tensor (got ${t === null ? 'null' : typeof t})`);
  });
  const list = ts as Tensor[];
  sameDevice(op, list);
  const dt = list[0].dtype;
  list.forEach((t, i) => {
    if (t.dtype !== dt) throw new Error(`${op}: expected tensors of one dtype, got ${dt} (element 0) and ${t.dtype} (element ${i})`);
  });
  return list;
}

/**
 * Concatenate tensors along `dim` (default 0), as torch.cat: every other dim must match; 1-D empty
 * tensors are skipped. One copy kernel per input into its slot of the output.
 */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  const op = 'cat';
  const list = checkList(op, tensors);
  const parts = list.filter((t) => !isLegacyEmpty(t, list));
  const ref = parts[0];
  if (ref.ndim === 0) throw new Error(`${op}: zero-dimensional tensor (element ${list.indexOf(ref)}) cannot be concatenated`);
  const d = dimOf(op, dim, ref.ndim, ref.shape);
  parts.forEach((t) => {
    if (t.ndim !== ref.ndim || t.shape.some((n, i) => i !== d && n !== ref.shape[i]))
      throw new Error(
        `${op}: sizes of tensors must match except in dimension ${d}: expected ${fmt(ref.shape)} but got ${fmt(t.shape)} (element ${list.indexOf(t)})`,
      );
  });
  return new Cat(d).apply(...list);
}

/** Stack same-shaped tensors along a new dim (default 0), as torch.stack. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  const op = 'stack';
  const list = checkList(op, tensors);
  const ref = list[0];
  list.forEach((t, i) => {
    if (t.ndim !== ref.ndim || t.shape.some((n, j) => n !== ref.shape[j]))
      throw new Error(`${op}: expects each tensor to be equal size, but got ${fmt(ref.shape)} at entry 0 and ${fmt(t.shape)} at entry ${i}`);
  });
  if (ref.ndim + 1 > MAX_RANK) throw new Error(`${op}: the result would have rank ${ref.ndim + 1}; at most ${MAX_RANK} dimensions are supported`);
  const d = dimOf(op, dim, ref.ndim + 1, [...ref.shape, 1]);
  const shape = [...ref.shape];
  shape.splice(d, 0, 1);
  const views = list.map((t) => reshape(t, shape));
  const out = cat(views, d);
  // views outside the graph can go now (those in it hold no storage of their own beyond a reference)
  views.forEach((v) => !v.requiresGrad && v.dispose());
  return out;
}

/**
 * Elements start .. start + length - 1 along `dim`, as torch.narrow (a copy here). `start` may be
 * negative (counted from the end).
 */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  const op = 'narrow';
  if (!isTensorLike(x)) throw new Error(`${op}: expected a Tensor, got ${typeof x}`);
  x.check(op);
  if (x.ndim === 0) throw new Error(`${op}: cannot narrow a zero-dimensional tensor`);
  const d = dimOf(op, dim, x.ndim, x.shape);
  const size = x.shape[d];
  let s = int(op, 'start', start);
  const len = int(op, 'length', length);
  if (s < -size || s > size) throw new Error(`${op}: start ${s} is out of range for dimension ${d} of size ${size} (shape ${fmt(x.shape)})`);
  if (s < 0) s += size;
  if (len < 0) throw new Error(`${op}: length must be non-negative, got ${len}`);
  if (s + len > size)
    throw new Error(`${op}: start (${s}) + length (${len}) exceeds dimension size (${size}) of dim ${d} (shape ${fmt(x.shape)})`);
  return new Narrow(op, d, s, len, 1).apply(x);
}

/**
 * x[start:end:step] along `dim`, as Python / torch slicing (a copy here): start and end may be
 * negative or out of range (clamped), end defaults to the size; step is a positive integer.
 */
export function slice(x: Tensor, dim: number, start = 0, end?: number | null, step = 1): Tensor {
  const op = 'slice';
  if (!isTensorLike(x)) throw new Error(`${op}: expected a Tensor, got ${typeof x}`);
  x.check(op);
  if (x.ndim === 0) throw new Error(`${op}: cannot slice a zero-dimensional tensor`);
  const d = dimOf(op, dim, x.ndim, x.shape);
  const size = x.shape[d];
  const st = int(op, 'step', step);
  if (st <= 0) throw new Error(`${op}: step must be greater than zero, got ${st}`);
  const clampIdx = (v: number) => Math.min(Math.max(v < 0 ? v + size : v, 0), size);
  const s = clampIdx(int(op, 'start', start));
  const e = end === undefined || end === null ? size : clampIdx(int(op, 'end', end));
  const len = e > s ? Math.ceil((e - s) / st) : 0;
  return new Narrow(op, d, s, len, st).apply(x);
}

/**
 * Constant padding of the last dims, as torch.nn.functional.pad(x, pads, 'constant', value):
 * pads = [left, right] for the last dim, then [top, bottom] for the one before, and so on (at
 * most 2 * rank numbers, an even count). Negative pads crop.
 */
export function pad(x: Tensor, pads: readonly number[], value = 0): Tensor {
  const op = 'pad';
  if (!isTensorLike(x)) throw new Error(`${op}: expected a Tensor, got ${typeof x}`);
  x.check(op);
  if (!Array.isArray(pads)) throw new Error(`${op}: pads must be an array of integers, got ${String(pads)}`);
  if (pads.length % 2 !== 0) throw new Error(`${op}: pads must have an even length (pairs per dim), got ${pads.length}: [${pads.join(', ')}]`);
  if (pads.length / 2 > x.ndim)
    throw new Error(`${op}: pads [${pads.join(', ')}] cover ${pads.length / 2} dims but the tensor has shape ${fmt(x.shape)}`);
  pads.forEach((v, i) => int(op, `pads[${i}]`, v));
  if (typeof value !== 'number') throw new Error(`${op}: value must be a number, got ${String(value)}`);
  if (x.dtype === 'int32' && !Number.isInteger(value)) throw new Error(`${op}: value ${value} is not an integer, but the tensor is int32`);
  const lo = x.shape.map(() => 0);
  const outShape = [...x.shape];
  for (let k = 0; k < pads.length / 2; k++) {
    const d = x.ndim - 1 - k;
    lo[d] = pads[2 * k];
    outShape[d] = x.shape[d] + pads[2 * k] + pads[2 * k + 1];
    if (outShape[d] < 0)
      throw new Error(`${op}: pads (${pads[2 * k]}, ${pads[2 * k + 1]}) on dim ${d} of size ${x.shape[d]} give a negative size ${outShape[d]}`);
  }
  return new Pad(lo, outShape, value).apply(x);
}

/** Split into `chunks` pieces of ceil(size / chunks) along `dim` (the last may be smaller; fewer
 * pieces when they run out), as torch.chunk. */
export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  const op = 'chunk';
  if (!isTensorLike(x)) throw new Error(`${op}: expected a Tensor, got ${typeof x}`);
  x.check(op);
  const n = int(op, 'chunks', chunks);
  if (n <= 0) throw new Error(`${op}: chunks must be greater than 0, got ${n}`);
  if (x.ndim === 0) throw new Error(`${op}: cannot chunk a zero-dimensional tensor`);
  const d = dimOf(op, dim, x.ndim, x.shape);
  const size = x.shape[d];
  if (size === 0) return Array.from({ length: n }, () => narrow(x, d, 0, 0));
  return splitBy(x, d, Math.ceil(size / n));
}

/**
 * Split along `dim` (default 0), as torch.split: a number gives pieces of that size (the last
 * smaller), an array gives pieces of those sizes (they must add up to the dim's size).
 */
export function split(x: Tensor, sizeOrSections: number | readonly number[], dim = 0): Tensor[] {
  const op = 'split';
  if (!isTensorLike(x)) throw new Error(`${op}: expected a Tensor, got ${typeof x}`);
  x.check(op);
  if (x.ndim === 0) throw new Error(`${op}: cannot split a zero-dimensional tensor`);
  const d = dimOf(op, dim, x.ndim, x.shape);
  const size = x.shape[d];
  if (Array.isArray(sizeOrSections)) {
    const secs = sizeOrSections.map((v, i) => int(op, `sizeOrSections[${i}]`, v));
    if (secs.some((v) => v < 0)) throw new Error(`${op}: section sizes must be non-negative, got [${secs.join(', ')}]`);
    const total = secs.reduce((a, b) => a + b, 0);
    if (total !== size)
      throw new Error(`${op}: section sizes [${secs.join(', ')}] must add up to ${size} (the size of dim ${d} of ${fmt(x.shape)}), got ${total}`);
    let off = 0;
    return secs.map((len) => {
      const t = narrow(x, d, off, len);
      off += len;
      return t;
    });
  }
  const s = int(op, 'sizeOrSections', sizeOrSections);
  if (s < 0 || (s === 0 && size !== 0))
    throw new Error(`${op}: split size must be positive (0 only for an empty dim), got ${s} for dim ${d} of size ${size}`);
  if (size === 0) return [narrow(x, d, 0, 0)];
  return splitBy(x, d, s);
}

function splitBy(x: Tensor, d: number, piece: number): Tensor[] {
  const size = x.shape[d];
  const out: Tensor[] = [];
  for (let off = 0; off < size; off += piece) out.push(narrow(x, d, off, Math.min(piece, size - off)));
  return out;
}
