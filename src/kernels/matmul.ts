// Batched C[b] = op(A[b]) @ op(B[b]) (+ bias[n]) (ReLU), op = optional transpose, f32.
// A: [batch, M, K] or [batch, K, M] (transA); B: [batch, K, N] or [batch, N, K] (transB);
// C: [batch, M, N]. A batch stride of 0 broadcasts that operand over the batch.
// Runs on the GEMM cores of gemm.ts (the design is in the params); the transposed variants only
// change the loaders' index math, so backward passes need no transpose copies. With split-K
// (`splitK` = S > 1) C holds the partial sums [S, batch, M, N] (no bias / ReLU) that
// split_k_reduce.ts sums.
import type { NumArray } from './kernel.ts';
import { defineKernel, read, rw, u32 } from './shader.ts';
import {
  type GemmChoice, type GemmDesc, type KIdx, type Operand,
  elem, gemmBody, gemmEnables, gemmGroups, gemmSpec, iWidths, outWidth, rowMajorStore, splitKChunk, splitOf, vecType,
} from './gemm.ts';

/**
 * Params of {@link matmulKernel}: sizes `batch`, `m`, `n`, `k`, operand transposes, batch strides
 * (0 broadcasts an operand), an optional bias and ReLU, and the GEMM design ({@link GemmChoice}).
 */
export interface MatmulParams extends GemmChoice {
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
}

/** Load widths per operand: vecK = 4 consecutive k (the contiguous dimension is K), else the
 * width across rows / columns; 1 = scalar. Vectors need the contiguous extent and the batch stride
 * divisible by the width (16-byte / 8-byte aligned rows). */
function widths(p: MatmulParams): { a: number; aK: boolean; b: number; bK: boolean } {
  const iw = iWidths(p, p.m);
  const fits = (extent: number, stride: number, w: number) => (w > 1 && extent % w === 0 && stride % w === 0 ? w : 1);
  const a = p.transA ? fits(p.m, p.aBatch, iw.a) : fits(p.k, p.aBatch, 4);
  const b = p.transB ? fits(p.k, p.bBatch, 4) : fits(p.n, p.bBatch, iw.b);
  return { a, aK: !p.transA && a === 4, b, bK: p.transB && b === 4 };
}

function desc(p: MatmulParams): GemmDesc {
  const w = widths(p);
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
  const ow = outWidth(p, p.m, p.n);
  return {
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

/**
 * Batched C[b] = op(A[b]) @ op(B[b]) (+ bias) (ReLU) in f32, op an optional transpose. Bindings:
 * `A [batch, M, K]` (or [batch, K, M] with transA), `B [batch, K, N]` (or [batch, N, K] with transB),
 * `bias [N]` (when set), `C [batch, M, N]` (rw; with split-K the partials [S, batch, M, N] that
 * {@link splitKReduceKernel} sums).
 */
export const matmulKernel = defineKernel<MatmulParams>({
  name: 'matmul',
  spec: (p) => {
    const w = widths(p);
    return `${gemmSpec(p, p.m)}:${p.transA ? 'T' : 'N'}${p.transB ? 'T' : 'N'}:v${w.a}${w.b}${outWidth(p, p.m, p.n)}${p.bias ? '+b' : ''}${p.relu ? '+relu' : ''}`;
  },
  storage: (p) => {
    const w = widths(p);
    return [
      read('A', vecType(w.a)),
      read('B', vecType(w.b)),
      ...(p.bias ? [read('bias')] : []),
      rw('C', vecType(outWidth(p, p.m, p.n))),
    ];
  },
  uniforms: (p) => [u32('m', p.m), u32('n', p.n), u32('k', p.k), u32('aBatch', p.aBatch), u32('bBatch', p.bBatch)],
  enables: (p) => gemmEnables(p),
  body: (p, caps) => gemmBody('matmul', p, desc(p), p.m, caps),
  dispatch: (p) => [...gemmGroups(p, p.m, p.n), p.batch],
  cpu: (p, bufs: NumArray[]) => {
    const [A, B] = bufs;
    const bias = p.bias ? bufs[2] : null;
    const C = bufs[p.bias ? 3 : 2];
    const { m, n, k } = p;
    // strides of A(i, kk) and B(kk, j) for either orientation
    const [ai, ak] = p.transA ? [1, m] : [k, 1];
    const [bk, bj] = p.transB ? [1, k] : [n, 1];
    // split-K: partial s sums k in [s * chunk, (s + 1) * chunk) into C[s, b]
    const splits = splitOf(p);
    if (splits > 1 && (p.bias || p.relu)) throw new Error('matmul: split-K partial sums take no bias or ReLU');
    const chunk = splits > 1 ? splitKChunk(p, k) : k;
    for (let s = 0; s < splits; s++) {
      const k0 = Math.min(k, s * chunk);
      const k1 = Math.min(k, k0 + chunk);
      for (let b = 0; b < p.batch; b++) {
        const ab = b * p.aBatch;
        const bb = b * p.bBatch;
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) {
            let acc = 0;
            let ia = ab + i * ai + k0 * ak;
            let ib = bb + j * bj + k0 * bk;
            for (let kk = k0; kk < k1; kk++, ia += ak, ib += bk) acc += A[ia] * B[ib];
            if (bias) acc += bias[j];
            if (p.relu && acc < 0) acc = 0;
            C[((s * p.batch + b) * m + i) * n + j] = acc;
          }
      }
    }
  },
});
