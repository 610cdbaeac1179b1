// matmul: (..., M, K) @ (K, N) folds the leading dims into M; (B, M, K) @ (B, K, N) is batched;
// a 2-D left operand against a batched right one is expanded first. Backward uses the
// transposed-operand kernel variants, so no transpose copies are made.
import type { Tensor } from '../tensor/tensor.ts';
import { launch } from '../tensor/launch.ts';
import { full, requireFloat, reduce } from '../tensor/raw.ts';
import { binary, unary } from './pointwise.ts';
import { fmt, numel, type Shape } from '../tensor/shape.ts';
import { deviceCaps } from '../backend/device.ts';
import { MAX_WG_PER_DIM } from '../kernels/kernel.ts';
import { matmulKernel, type MatmulParams } from '../kernels/matmul.ts';
import { type GemmChoice, gemmGroups, splitOf } from '../kernels/gemm.ts';
import { splitKReduceKernel } from '../kernels/split_k_reduce.ts';
import { chooseGemm } from '../policy/gemm_choice.ts';
import { tunedGemm } from './tuning_families.ts';
import { Function } from './function.ts';
import { expand, reshape } from './ops.ts';

/** Throws (before any GPU work) when a GPU tensor of `shape` could not be bound to a kernel. */
export function checkBindingSize(op: string, what: string, shape: Shape, device: string, hint = ''): void {
  if (device !== 'gpu') return;
  const bytes = numel(shape) * 4;
  const max = deviceCaps().maxStorageBufferBindingSize;
  if (bytes > max)
    throw new Error(
      `${op}: ${what} ${fmt(shape)} needs ${(bytes / 2 ** 20).toFixed(1)} MiB, more than this adapter's ` +
        `maxStorageBufferBindingSize (${(max / 2 ** 20).toFixed(1)} MiB)${hint ? `; ${hint}` : ''}`,
    );
}

/** The GEMM design for a launch of `op` on `device`: the policy's choice for this adapter on the
 * GPU; on the CPU any design (the CPU twins ignore it). */
export function gemmFor(op: string, device: string): GemmChoice {
  return device === 'gpu' ? chooseGemm(op, deviceCaps()) : { variant: 'tiled' };
}

/** Raw (non-differentiable) 2-D or batched matmul with optional transposes, bias [n] and ReLU.
 * a: [M, K] / [K, M] (transA), or [batch, ...] when 3-D; b likewise; a 2-D operand is broadcast over
 * the batch. Returns [M, N], or [batch, M, N] when batch > 1 or a is 3-D. `choice` overrides the
 * policy's GEMM design on the GPU (an autotuner's pick); with split-K the partial sums
 * [S, batch, M, N] go through `splitKReduceKernel`, which adds the bias and applies ReLU. */
export function mm(
  a: Tensor, b: Tensor, transA = false, transB = false, batch = 1, bias?: Tensor | null, relu = false, choice?: GemmChoice,
): Tensor {
  const [m, k] = transA ? [a.shape[a.ndim - 1], a.shape[a.ndim - 2]] : [a.shape[a.ndim - 2], a.shape[a.ndim - 1]];
  const n = transB ? b.shape[b.ndim - 2] : b.shape[b.ndim - 1];
  const outShape = batch > 1 || a.ndim === 3 ? [batch, m, n] : [m, n];
  if (batch > MAX_WG_PER_DIM) throw new Error(`matmul: batch ${batch} exceeds ${MAX_WG_PER_DIM} (one workgroup row per batch)`);
  for (const [what, s] of [['left operand', a.shape], ['right operand', b.shape], ['output', outShape]] as const)
    checkBindingSize('matmul', what, s, a.device);
  // on the GPU the given choice, else the autotuner's pick for this shape class (the policy's
  // choice until tuned)
  let gemm =
    choice && a.device === 'gpu'
      ? choice
      : a.device === 'gpu' && k > 0
        ? tunedGemm({ m, n, k, batch, transA, transB })
        : gemmFor('matmul', a.device);
  // split-K partials past the binding limit: run unsplit (the same result, one pass)
  if (splitOf(gemm) > 1 && a.device === 'gpu' && splitOf(gemm) * numel(outShape) * 4 > deviceCaps().maxStorageBufferBindingSize)
    gemm = { ...gemm, splitK: 1 };
  if (a.device === 'gpu') {
    const [gx, gy] = gemmGroups(gemm, m, n);
    if (gx > MAX_WG_PER_DIM || gy > MAX_WG_PER_DIM)
      throw new Error(`matmul: a ${m}x${n} output needs a ${gx}x${gy} workgroup grid, more than ${MAX_WG_PER_DIM} per dimension`);
  }
  if (k === 0) {
    // empty sum: zeros (+ bias) (ReLU)
    const z = full(outShape, 0, a.device, a.dtype);
    if (!bias) return z;
    const zb = binary('add', z, bias);
    z.dispose();
    if (!relu) return zb;
    const r = unary('maxS', zb, 0);
    zb.dispose();
    return r;
  }
  const p: MatmulParams = {
    batch, m, n, k, transA, transB,
    aBatch: a.ndim === 3 ? m * k : 0,
    bBatch: b.ndim === 3 ? k * n : 0,
    bias: !!bias, relu,
    ...gemm,
  };
  const s = splitOf(gemm);
  if (s > 1) {
    const part = launch(matmulKernel, { ...p, bias: false, relu: false }, [a, b, { shape: [s, ...outShape] }])[0];
    const rp = { splits: s, count: numel(outShape), m, n, bias: bias ? ('col' as const) : null, relu };
    const out = launch(splitKReduceKernel, rp, bias ? [part, bias, { shape: outShape }] : [part, { shape: outShape }])[0];
    part.dispose();
    return out;
  }
  const args = bias ? [a, b, bias, { shape: outShape }] : [a, b, { shape: outShape }];
  return launch(matmulKernel, p, args)[0];
}

class MatMul extends Function {
  name = 'matmul';
  forward(a: Tensor, b: Tensor) {
    this.save(a, b);
    return mm(a, b, false, false, a.ndim === 3 ? a.shape[0] : 1);
  }
  backward(g: Tensor) {
    const [a, b] = this.inputs;
    const batch = a.ndim === 3 ? a.shape[0] : 1;
    // dA = g @ B^T ; dB = A^T @ g
    const ga = this.needsGrad[0] ? mm(g, b, false, true, batch) : null;
    let gb: Tensor | null = null;
    if (this.needsGrad[1]) gb = mm(a, g, true, false, batch);
    return [ga, gb];
  }
}

export function matmul(a: Tensor, b: Tensor): Tensor {
  requireFloat('matmul', a, b);
  if (a.ndim === 0 || b.ndim === 0) throw new Error(`matmul: both operands need at least 1 dimension, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  if (a.ndim === 1) return reshape(matmul(reshape(a, [1, a.shape[0]]), b), b.ndim === 1 ? [] : [...b.shape.slice(0, -2), b.shape[b.ndim - 1]]);
  if (b.ndim === 1) return reshape(matmul(a, reshape(b, [b.shape[0], 1])), a.shape.slice(0, -1));
  const ka = a.shape[a.ndim - 1];
  const kb = b.shape[b.ndim - 2];
  if (ka !== kb) throw new Error(`matmul: inner dimensions differ: ${fmt(a.shape)} @ ${fmt(b.shape)} (${ka} != ${kb})`);
  if (b.ndim === 2) {
    if (a.ndim === 2) return new MatMul().apply(a, b);
    const lead = a.shape.slice(0, -1);
    const flat = reshape(a, [-1, ka]);
    return reshape(new MatMul().apply(flat, b), [...lead, b.shape[1]]);
  }
  // batched: fold leading batch dims; broadcast them first
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const n = Math.max(batchA.length, batchB.length);
  const bs: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = batchA[batchA.length - n + i] ?? 1;
    const y = batchB[batchB.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`matmul: batch dimensions of ${fmt(a.shape)} and ${fmt(b.shape)} cannot broadcast`);
    bs.push(Math.max(x, y));
  }
  const B = bs.reduce((p, q) => p * q, 1);
  const ea = reshape(expandTo(a, [...bs, a.shape[a.ndim - 2], ka]), [B, a.shape[a.ndim - 2], ka]);
  const eb = reshape(expandTo(b, [...bs, kb, b.shape[b.ndim - 1]]), [B, kb, b.shape[b.ndim - 1]]);
  return reshape(new MatMul().apply(ea, eb), [...bs, a.shape[a.ndim - 2], b.shape[b.ndim - 1]]);
}

function expandTo(x: Tensor, shape: number[]): Tensor {
  const same = x.ndim === shape.length && x.shape.every((d, i) => d === shape[i]);
  return same ? x : expand(x, shape);
}

export { reduce };
