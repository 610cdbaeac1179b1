// The differentiable functional API that Tensor methods and `wt.*` call. Each op validates its
// arguments (clear errors before any GPU work) and applies one Function.
import type { Tensor } from '../tensor/tensor.ts';
import { argmax as rawArgmax, requireFloat, binary } from '../tensor/raw.ts';
import { broadcastShapes, fmt, normAxis } from '../tensor/shape.ts';
import { full } from '../tensor/raw.ts';
import { sameDevice } from '../tensor/launch.ts';
import { Add, Div, Maximum, Mul, Pow, Scalar, Sub, Unary } from './elementwise.ts';
import { Expand, Max, Permute, Reshape, Sum } from './reduce.ts';
import { matmul as matmulOp } from './matmul.ts';
import { reluFast } from './activation.ts';

type Operand = Tensor | number;

function checkScalar(op: string, b: number): void {
  if (typeof b !== 'number') throw new Error(`${op}: expected a Tensor or a number, got ${typeof b}`);
}

function binaryOp(op: string, a: Tensor, b: Tensor): void {
  requireFloat(op, a, b);
  sameDevice(op, [a, b]);
  broadcastShapes(op, a.shape, b.shape);
}

export function add(a: Tensor, b: Operand): Tensor {
  if (typeof b !== 'object') {
    checkScalar('add', b);
    requireFloat('add', a);
    return new Scalar('addS', b).apply(a);
  }
  binaryOp('add', a, b);
  return new Add().apply(a, b);
}
export function sub(a: Tensor, b: Operand): Tensor {
  if (typeof b !== 'object') {
    checkScalar('sub', b);
    requireFloat('sub', a);
    return new Scalar('addS', -b).apply(a);
  }
  binaryOp('sub', a, b);
  return new Sub().apply(a, b);
}
export function mul(a: Tensor, b: Operand): Tensor {
  if (typeof b !== 'object') {
    checkScalar('mul', b);
    requireFloat('mul', a);
    return new Scalar('mulS', b).apply(a);
  }
  binaryOp('mul', a, b);
  return new Mul().apply(a, b);
}
export function div(a: Tensor, b: Operand): Tensor {
  if (typeof b !== 'object') {
    checkScalar('div', b);
    requireFloat('div', a);
    return new Scalar('mulS', 1 / b).apply(a);
  }
  binaryOp('div', a, b);
  return new Div().apply(a, b);
}
export function pow(a: Tensor, b: Operand): Tensor {
  if (typeof b !== 'object') {
    checkScalar('pow', b);
    requireFloat('pow', a);
    return new Scalar('powS', b).apply(a);
  }
  binaryOp('pow', a, b);
  return new Pow().apply(a, b);
}
export function maximum(a: Tensor, b: Tensor): Tensor {
  binaryOp('maximum', a, b);
  return new Maximum().apply(a, b);
}

function un(op: 'neg' | 'exp' | 'log' | 'sqrt' | 'abs' | 'relu', x: Tensor): Tensor {
  requireFloat(op, x);
  return new Unary(op).apply(x);
}
export const neg = (x: Tensor) => un('neg', x);
export const exp = (x: Tensor) => un('exp', x);
export const log = (x: Tensor) => un('log', x);
export const sqrt = (x: Tensor) => un('sqrt', x);
export const abs = (x: Tensor) => un('abs', x);
/** The dedicated vec4 ReLU kernels (forward y = max(x, 0), backward g * (y > 0)). */
export const relu = (x: Tensor) => reluFast(x);

export function sum(x: Tensor, axis?: number | number[], keepdim = false): Tensor {
  requireFloat('sum', x);
  return new Sum(axis, keepdim).apply(x);
}
export function mean(x: Tensor, axis?: number | number[], keepdim = false): Tensor {
  requireFloat('mean', x);
  return new Sum(axis, keepdim, true).apply(x);
}
export function max(x: Tensor, axis?: number, keepdim = false): Tensor {
  requireFloat('max', x);
  return new Max(axis, keepdim).apply(x);
}
/** Not differentiable; int32 indices of the first maximum. */
export function argmax(x: Tensor, axis?: number, keepdim = false): Tensor {
  return rawArgmax(x, axis, keepdim);
}

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  x.check('reshape');
  if (!Array.isArray(shape)) throw new Error(`reshape: shape must be an array, got ${String(shape)}`);
  return new Reshape(shape).apply(x);
}
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  x.check('flatten');
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normAxis('flatten', startDim, x.ndim);
  const e = normAxis('flatten', endDim, x.ndim);
  if (s > e) throw new Error(`flatten: startDim ${startDim} comes after endDim ${endDim}`);
  const mid = x.shape.slice(s, e + 1).reduce((a, b) => a * b, 1);
  return reshape(x, [...x.shape.slice(0, s), mid, ...x.shape.slice(e + 1)]);
}
export function squeeze(x: Tensor, axis?: number): Tensor {
  x.check('squeeze');
  if (axis === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const a = normAxis('squeeze', axis, x.ndim);
  if (x.shape[a] !== 1) return reshape(x, x.shape);
  return reshape(x, x.shape.filter((_, i) => i !== a));
}
export function unsqueeze(x: Tensor, axis: number): Tensor {
  x.check('unsqueeze');
  const a = normAxis('unsqueeze', axis, x.ndim + 1);
  const s = [...x.shape];
  s.splice(a, 0, 1);
  return reshape(x, s);
}
/** Copies (tensors are always contiguous). */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  x.check('permute');
  return new Permute(dims).apply(x);
}
/** Copies. Swaps two axes (the last two by default). */
export function transpose(x: Tensor, d0 = -2, d1 = -1): Tensor {
  x.check('transpose');
  if (x.ndim < 2 && d0 === -2 && d1 === -1) return reshape(x, x.shape);
  const a = normAxis('transpose', d0, x.ndim);
  const b = normAxis('transpose', d1, x.ndim);
  const dims = x.shape.map((_, i) => i);
  dims[a] = b;
  dims[b] = a;
  return permute(x, dims);
}
/** Copies. Broadcasts to `shape` (-1 keeps a dimension). */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  x.check('expand');
  return new Expand(shape).apply(x);
}
export function clone(x: Tensor): Tensor {
  requireFloat('clone', x);
  return new Scalar('mulS', 1).apply(x);
}

export function matmul(a: Tensor, b: Tensor): Tensor {
  return matmulOp(a, b);
}

/** sum((a - b)^2) / n: a convenience used by tests and examples. */
export function mseLoss(a: Tensor, b: Tensor): Tensor {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i]))
    throw new Error(`mseLoss: shapes ${fmt(a.shape)} and ${fmt(b.shape)} differ`);
  const d = sub(a, b);
  return mean(mul(d, d));
}

export { binary, full };
