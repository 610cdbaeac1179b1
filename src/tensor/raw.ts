// Non-differentiable ops on tensors that the tensor layer itself needs (reductions, strided copies,
// fills): validate, then launch a kernel. Pointwise raw ops live with their table in
// src/autograd/pointwise.ts.
import { reduceKernel, type ReduceOp } from '../kernels/reduce.ts';
import { gatherKernel, fillKernel, type FillParams } from '../kernels/gather.ts';
import { launchRows } from './chunked.ts';
import { broadcastShapes, broadcastStrides, contiguousStrides, fmt, normAxis, numel, sameShape, type Shape } from './shape.ts';
import { launch, sameDevice } from './launch.ts';
import type { Tensor } from './tensor.ts';
import type { DType, Device } from './storage.ts';

export function requireFloat(op: string, ...ts: Tensor[]): void {
  let dt: DType | null = null;
  for (const t of ts) {
    t.check(op);
    if (t.dtype === 'int32') throw new Error(`${op}: expected a float tensor, got int32 ${fmt(t.shape)}`);
    if (dt && t.dtype !== dt) throw new Error(`${op}: dtypes differ (${dt} and ${t.dtype})`);
    dt = t.dtype;
  }
}

/** Elements per invocation beyond which a reduction runs in two passes. */
const CHUNK = 1024;

/** Reduce one axis. */
function reduceAxis(op: ReduceOp, x: Tensor, axis: number, keepdim: boolean, scale = 1): Tensor {
  const r = x.shape[axis];
  const outer = numel(x.shape.slice(0, axis));
  const inner = numel(x.shape.slice(axis + 1));
  const outShape = keepdim ? x.shape.map((d, i) => (i === axis ? 1 : d)) : x.shape.filter((_, i) => i !== axis);
  const dtype: DType | undefined = op === 'argmax' ? 'int32' : undefined;
  if (op !== 'argmax' && r > CHUNK * 4 && outer * inner < 4096) {
    // two passes: [outer, R, inner] -> [outer, C, inner] -> [outer, 1, inner]
    const c = Math.ceil(r / CHUNK);
    const part = launch(reduceKernel, { op, outer, r, inner, chunk: CHUNK, scale: 1 }, [x, { shape: [outer, c, inner] }])[0];
    const out = launch(reduceKernel, { op, outer, r: c, inner, chunk: c, scale }, [part, { shape: outShape }])[0];
    part.dispose();
    return out;
  }
  return launch(reduceKernel, { op, outer, r, inner, chunk: Math.max(r, 1), scale }, [x, { shape: outShape, dtype }])[0];
}

/** Normalise an axis argument: undefined = all axes. Returns sorted unique axes. */
export function axesOf(op: string, x: Tensor, axis?: number | readonly number[]): number[] {
  if (axis === undefined) return x.shape.map((_, i) => i);
  const list = typeof axis === 'number' ? [axis] : [...axis];
  const out = [...new Set(list.map((a) => normAxis(op, a, x.ndim)))].sort((a, b) => a - b);
  if (out.length !== list.length) throw new Error(`${op}: repeated axis in [${list.join(',')}]`);
  return out;
}

/** sum / mean / max / min over the given axes (all when undefined). */
export function reduce(op: 'sum' | 'mean' | 'max' | 'min', x: Tensor, axis?: number | readonly number[], keepdim = false): Tensor {
  requireFloat(op, x);
  const axes = axesOf(op, x, axis);
  if ((op === 'max' || op === 'min') && axes.some((a) => x.shape[a] === 0))
    throw new Error(`${op}: cannot reduce over an empty axis of ${fmt(x.shape)}`);
  const count = axes.reduce((n, a) => n * x.shape[a], 1);
  const kop: ReduceOp = op === 'mean' ? 'sum' : op;
  if (x.size === 0) {
    // sum over nothing is 0, a mean over nothing is NaN (like PyTorch)
    const shape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d)).filter((_, i) => keepdim || !axes.includes(i));
    return full(shape, op === 'mean' ? NaN : 0, x.device, x.dtype);
  }
  if (x.ndim === 0) return launch(reduceKernel, { op: kop, outer: 1, r: 1, inner: 1, chunk: 1, scale: 1 }, [x, { shape: [] }])[0];
  // contiguous axes collapse into one reduction; otherwise reduce one at a time, last first
  let cur = x;
  let own = false;
  for (let i = axes.length - 1; i >= 0; i--) {
    const a = axes[i];
    const scale = op === 'mean' && i === 0 ? 1 / count : 1;
    const next = reduceAxis(kop, cur, a, true, scale);
    if (own) cur.dispose();
    cur = next;
    own = true;
  }
  if (!keepdim) {
    const shape = x.shape.filter((_, i) => !axes.includes(i));
    const v = cur._view(shape);
    cur.dispose();
    return v;
  }
  return cur;
}

/** Index of the first maximum along `axis` (flattened when undefined); int32. */
export function argmax(x: Tensor, axis?: number, keepdim = false): Tensor {
  requireFloat('argmax', x);
  if (x.size === 0) throw new Error(`argmax: cannot take argmax of an empty tensor ${fmt(x.shape)}`);
  if (axis === undefined) {
    const flat = x._view([x.size]);
    const r = reduceAxis('argmax', flat, 0, false);
    flat.dispose();
    return r;
  }
  return reduceAxis('argmax', x, normAxis('argmax', axis, x.ndim), keepdim);
}

/** Materialise x read with arbitrary strides (permute, expand). Works for every dtype. */
export function gather(x: Tensor, shape: Shape, strides: readonly number[], offset = 0): Tensor {
  x.check('gather');
  return launch(gatherKernel, { shape, strides, offset }, [x, { shape, dtype: x.dtype }])[0];
}

export function permute(x: Tensor, dims: readonly number[]): Tensor {
  x.check('permute');
  const r = x.ndim;
  const norm = dims.map((d) => normAxis('permute', d, r));
  if (norm.length !== r || new Set(norm).size !== r)
    throw new Error(`permute: dims [${dims.join(',')}] are not a permutation of ${r} axes (shape ${fmt(x.shape)})`);
  const st = contiguousStrides(x.shape);
  return gather(x, norm.map((d) => x.shape[d]), norm.map((d) => st[d]));
}

export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  const out = broadcastShapes('expand', x.shape, shape);
  if (!sameShape(out, shape)) throw new Error(`expand: shape ${fmt(x.shape)} cannot be expanded to ${fmt(shape)}`);
  return gather(x, shape, broadcastStrides(x.shape, shape));
}

/** Sum a broadcast gradient back to `shape` (the reverse of broadcasting). */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.ndim - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.ndim; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  const s = reduce('sum', g, axes, true);
  const v = s._view(shape);
  s.dispose();
  return v;
}

export function full(shape: Shape, value: number, device: Device, dtype: DType = 'float32'): Tensor {
  const n = numel(shape);
  const p: FillParams = { n, mode: 'fill', start: value, step: 0 };
  return launchRows(fillKernel, p, n, (q, _first, count) => ({ ...q, n: count }), [{ arg: { shape, dtype }, perRow: 1 }], device, dtype)[0];
}

export function arange(n: number, start: number, step: number, device: Device, dtype: DType = 'float32'): Tensor {
  return launch(fillKernel, { n, mode: 'arange', start, step }, [{ shape: [n], dtype }], device, dtype)[0];
}
