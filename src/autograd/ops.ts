// The differentiable functional API beyond the pointwise table (pointwise.ts): reductions, shape
// ops, matmul, relu. Each op validates its arguments (clear errors before any GPU work) and applies
// one Function.
import type { Tensor } from '../tensor/tensor.ts';
import { argmax as rawArgmax, requireFloat } from '../tensor/raw.ts';
import { normAxis } from '../tensor/shape.ts';
import { Max, Sum } from './reductions.ts';
import { Expand, Permute, Reshape } from './shape_ops.ts';
import { matmul as matmulOp } from './matmul_op.ts';

import { BinaryFn } from './pointwise.ts';
import { mseLoss as fusedMseLoss, type ElementwiseLossOptions } from './elementwise_loss_fn.ts';

export { relu } from './activation.ts';

/**
 * Sum over `axis` (one axis or several; all axes when omitted), as torch.sum. Reduced axes are
 * dropped unless `keepdim` (default false) keeps them as size 1; a full reduction gives a 0-d tensor.
 *
 * @example
 * ```ts
 * const x = wt.tensor([[1, 2], [3, 4]]); // [2, 2]
 * wt.sum(x);        // 10, shape []
 * wt.sum(x, 1);     // [3, 7], shape [2]
 * wt.sum(x, 0, true); // [[4, 6]], shape [1, 2]
 * ```
 */
export function sum(x: Tensor, axis?: number | number[], keepdim = false): Tensor {
  requireFloat('sum', x);
  return new Sum(axis, keepdim).apply(x);
}
/**
 * Mean over `axis` (one axis or several; all axes when omitted), as torch.mean; `keepdim` as in {@link sum}.
 *
 * @example
 * ```ts
 * wt.mean(wt.tensor([[1, 2], [3, 4]]), 0); // [2, 3]
 * ```
 */
export function mean(x: Tensor, axis?: number | number[], keepdim = false): Tensor {
  requireFloat('mean', x);
  return new Sum(axis, keepdim, true).apply(x);
}
/**
 * Largest value over one `axis` (all elements when omitted), as torch.amax: values only, no
 * indices (see {@link argmax}). Tied maxima share the gradient evenly. `keepdim` as in {@link sum}.
 *
 * @example
 * ```ts
 * wt.max(wt.tensor([[1, 5], [7, 2]]), 1); // [5, 7]
 * ```
 */
export function max(x: Tensor, axis?: number, keepdim = false): Tensor {
  requireFloat('max', x);
  return new Max(axis, keepdim, 'max').apply(x);
}
/** Smallest value over one `axis` (all elements when omitted), as torch.amin; see {@link max}. */
export function min(x: Tensor, axis?: number, keepdim = false): Tensor {
  requireFloat('min', x);
  return new Max(axis, keepdim, 'min').apply(x);
}
/** Not differentiable; int32 indices of the first maximum. */
export function argmax(x: Tensor, axis?: number, keepdim = false): Tensor {
  return rawArgmax(x, axis, keepdim);
}

/**
 * The same elements in a new shape (same element count); one dimension may be -1 and is inferred,
 * as torch.reshape.
 *
 * @example
 * ```ts
 * wt.reshape(wt.zeros([2, 3, 4]), [6, -1]); // shape [6, 4]
 * ```
 */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  x.check('reshape');
  if (!Array.isArray(shape)) throw new Error(`reshape: shape must be an array, got ${String(shape)}`);
  return new Reshape(shape).apply(x);
}
/**
 * Merges dimensions `startDim`..`endDim` (inclusive, default 0 and -1: all) into one, as
 * torch.flatten; a 0-d tensor becomes [1].
 *
 * @example
 * ```ts
 * wt.flatten(wt.zeros([8, 3, 4, 4]), 1); // [8, 48]
 * ```
 */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  x.check('flatten');
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normAxis('flatten', startDim, x.ndim);
  const e = normAxis('flatten', endDim, x.ndim);
  if (s > e) throw new Error(`flatten: startDim ${startDim} comes after endDim ${endDim}`);
  const mid = x.shape.slice(s, e + 1).reduce((a, b) => a * b, 1);
  return reshape(x, [...x.shape.slice(0, s), mid, ...x.shape.slice(e + 1)]);
}
/** Removes size-1 dimensions: every one when `axis` is omitted, else only `axis` (a no-op when
 * that dimension is not 1), as torch.squeeze. */
export function squeeze(x: Tensor, axis?: number): Tensor {
  x.check('squeeze');
  if (axis === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const a = normAxis('squeeze', axis, x.ndim);
  if (x.shape[a] !== 1) return reshape(x, x.shape);
  return reshape(x, x.shape.filter((_, i) => i !== a));
}
/** Inserts a size-1 dimension at `axis` (in [-ndim-1, ndim]), as torch.unsqueeze: [3, 4] at 1
 * gives [3, 1, 4]. */
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
/** A copy with its own storage (differentiable). */
export function clone(x: Tensor): Tensor {
  requireFloat('clone', x);
  return new BinaryFn('mul', { side: 'b', value: 1 }).apply(x);
}

/**
 * Matrix product with torch.matmul's shape rules: [M, K] @ [K, N] = [M, N]; a 1-d operand is a
 * vector (its added dimension removed again); [..., M, K] @ [K, N] folds the leading dimensions;
 * batched operands [..., M, K] @ [..., K, N] broadcast their batch dimensions.
 *
 * @example
 * ```ts
 * const a = wt.randn([32, 64]), b = wt.randn([64, 10]);
 * wt.matmul(a, b); // [32, 10]
 * ```
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  return matmulOp(a, b);
}

/** Squared error (a - b)^2 of same-shaped tensors, reduced by `options.reduction` ('mean' by
 * default, as torch.nn.functional.mse_loss); one fused forward and backward. */
export function mseLoss(a: Tensor, b: Tensor, options?: ElementwiseLossOptions): Tensor {
  return fusedMseLoss(a, b, options);
}
