// Batched C[b] = op(A[b]) @ op(B[b]) (+ bias[n]) (ReLU), op = optional transpose, f32.
// A: [batch, M, K] or [batch, K, M] (transA); B: [batch, K, N] or [batch, N, K] (transB);
// C: [batch, M, N]. A batch stride of 0 broadcasts that operand over the batch.
// Runs on the GEMM cores of gemm.ts ('lanes' on software adapters, 'tiled' on GPUs); the transposed
// variants only change the loaders' index math, so backward passes need no transpose copies.
import type { KernelDef, NumArray } from './kernel.ts';
import {
  type GemmDesc, type GemmVariant, type KIdx, type Operand,
  elem, gemmGroups, gemmSpec, gemmWgsl, iWidths, outWidth, pickVariant, rowMajorStore, vecType,
} from './gemm.ts';

export interface MatmulParams {
  batch: number;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  /** Elements between consecutive batches of A / B (0 = broadcast). */
  aBatch: number;
  bBatch: number;
  /** A bias binding (length n) follows B. */
  bias: boolean;
  relu: boolean;
  /** GEMM design; default: chosen per adapter (see gemm.ts). */
  variant?: GemmVariant;
}

/** Load widths per operand: vecK = 4 consecutive k (the contiguous dimension is K), else the
 * width across rows / columns; 1 = scalar. Vectors need the contiguous extent and the batch stride
 * divisible by the width (16-byte / 8-byte aligned rows). */
function widths(p: MatmulParams, variant: GemmVariant): { a: number; aK: boolean; b: number; bK: boolean } {
  const iw = iWidths(variant, p.m);
  const fits = (extent: number, stride: number, w: number) => (w > 1 && extent % w === 0 && stride % w === 0 ? w : 1);
  const a = p.transA ? fits(p.m, p.aBatch, iw.a) : fits(p.k, p.aBatch, 4);
  const b = p.transB ? fits(p.k, p.bBatch, 4) : fits(p.n, p.bBatch, iw.b);
  return { a, aK: !p.transA && a === 4, b, bK: p.transB && b === 4 };
}

function desc(p: MatmulParams, variant: GemmVariant): GemmDesc {
  const w = widths(p, variant);
  const kid = (k: KIdx) => k.k;
  // A(row i, k): [M, K] row-major or [K, M] (transA)
  const A: Operand = p.transA
    ? { setup: (i, s) => `let a_${s} = aOff + ${i};`, load: (s, k) => elem('A', `a_${s} + ${kid(k)} * u.m`, w.a), fast: 'i' }
    : { setup: (i, s) => `let a_${s} = aOff + ${i} * u.k;`, load: (s, k) => elem('A', `a_${s} + ${kid(k)}`, w.a), fast: 'k' };
  if (w.aK) A.vecK = (s, k) => `A[(a_${s} + ${kid(k)}) / 4u]`;
  else if (w.a > 1) A.vecI = { w: w.a, load: (s, k) => `A[(a_${s} + ${kid(k)} * u.m) / ${w.a}u]` };
  // B(k, col i): [K, N] row-major or [N, K] (transB)
  const B: Operand = p.transB
    ? { setup: (i, s) => `let b_${s} = bOff + ${i} * u.k;`, load: (s, k) => elem('B', `b_${s} + ${kid(k)}`, w.b), fast: 'k' }
    : { setup: (i, s) => `let b_${s} = bOff + ${i};`, load: (s, k) => elem('B', `b_${s} + ${kid(k)} * u.n`, w.b), fast: 'i' };
  if (w.bK) B.vecK = (s, k) => `B[(b_${s} + ${kid(k)}) / 4u]`;
  else if (w.b > 1) B.vecI = { w: w.b, load: (s, k) => `B[(b_${s} + ${kid(k)} * u.n) / ${w.b}u]` };
  const nb = p.bias ? 1 : 0;
  const ow = outWidth(variant, p.m, p.n);
  return {
    decls: `
@group(0) @binding(0) var<storage, read> A: array<${vecType(w.a)}>;
@group(0) @binding(1) var<storage, read> B: array<${vecType(w.b)}>;
${p.bias ? '@group(0) @binding(2) var<storage, read> bias: array<f32>;' : ''}
@group(0) @binding(${2 + nb}) var<storage, read_write> C: array<${vecType(ow)}>;
struct U { m: u32, n: u32, k: u32, aBatch: u32, bBatch: u32 }
@group(0) @binding(${3 + nb}) var<uniform> u: U;`,
    prelude: 'let aOff = z * u.aBatch; let bOff = z * u.bBatch;',
    m: 'u.m',
    n: 'u.n',
    kDims: ['1u', '1u', 'u.k'],
    kSplit: false,
    A,
    B,
    ...rowMajorStore('C', 'z * M * N', ow),
    bias: p.bias ? 'col' : null,
    relu: p.relu,
  };
}

export const matmulKernel: KernelDef<MatmulParams> = {
  name: 'matmul',
  spec: (p) => {
    const v = pickVariant('matmul', p.variant);
    const w = widths(p, v);
    return `${gemmSpec(v, p.m)}:${p.transA ? 'T' : 'N'}${p.transB ? 'T' : 'N'}:v${w.a}${w.b}${outWidth(v, p.m, p.n)}${p.bias ? '+b' : ''}${p.relu ? '+relu' : ''}`;
  },
  bindings: (p) => (p.bias ? ['read', 'read', 'read', 'rw'] : ['read', 'read', 'rw']),
  uniforms: (p) => [p.m, p.n, p.k, p.aBatch, p.bBatch],
  dispatch: (p) => [...gemmGroups(pickVariant('matmul', p.variant), p.m, p.n), p.batch],
  wgsl: (p) => {
    const v = pickVariant('matmul', p.variant);
    return gemmWgsl(v, desc(p, v), p.m);
  },
  cpu: (p, bufs: NumArray[]) => {
    const [A, B] = bufs;
    const bias = p.bias ? bufs[2] : null;
    const C = bufs[p.bias ? 3 : 2];
    const { m, n, k } = p;
    // strides of A(i, kk) and B(kk, j) for either orientation
    const [ai, ak] = p.transA ? [1, m] : [k, 1];
    const [bk, bj] = p.transB ? [1, k] : [n, 1];
    for (let b = 0; b < p.batch; b++) {
      const ab = b * p.aBatch;
      const bb = b * p.bBatch;
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          let acc = 0;
          let ia = ab + i * ai;
          let ib = bb + j * bj;
          for (let kk = 0; kk < k; kk++, ia += ak, ib += bk) acc += A[ia] * B[ib];
          if (bias) acc += bias[j];
          if (p.relu && acc < 0) acc = 0;
          C[(b * m + i) * n + j] = acc;
        }
    }
  },
};
