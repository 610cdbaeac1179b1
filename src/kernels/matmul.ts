// Batched C[b] = op(A[b]) @ op(B[b]) (+ bias[n]) (ReLU), op = optional transpose, f32.
// A: [batch, M, K] or [batch, K, M] (transA); B: [batch, K, N] or [batch, N, K] (transB);
// C: [batch, M, N]. A batch stride of 0 broadcasts that operand over the batch.
// Placeholder: one output per invocation (the GEMM issue replaces it with a tiled kernel).
import type { KernelDef, NumArray } from './kernel.ts';

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
}

const T = 8;

export const matmulKernel: KernelDef<MatmulParams> = {
  name: 'matmul',
  spec: (p) => `${p.transA ? 'T' : 'N'}${p.transB ? 'T' : 'N'}${p.bias ? '+b' : ''}${p.relu ? '+relu' : ''}`,
  bindings: (p) => (p.bias ? ['read', 'read', 'read', 'rw'] : ['read', 'read', 'rw']),
  uniforms: (p) => [p.m, p.n, p.k, p.aBatch, p.bBatch],
  dispatch: (p) => [Math.ceil(p.n / T), Math.ceil(p.m / T), p.batch],
  wgsl: (p) => {
    const aIdx = p.transA ? 'ab + kk * u.m + row' : 'ab + row * u.k + kk';
    const bIdx = p.transB ? 'bb + col * u.k + kk' : 'bb + kk * u.n + col';
    const nb = p.bias ? 1 : 0;
    return `
@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
${p.bias ? '@group(0) @binding(2) var<storage, read> bias: array<f32>;' : ''}
@group(0) @binding(${2 + nb}) var<storage, read_write> C: array<f32>;
struct U { m: u32, n: u32, k: u32, aBatch: u32, bBatch: u32 }
@group(0) @binding(${3 + nb}) var<uniform> u: U;
@compute @workgroup_size(${T}, ${T})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let row = g.y; let col = g.x; let b = g.z;
  if (row >= u.m || col >= u.n) { return; }
  let ab = b * u.aBatch; let bb = b * u.bBatch;
  var acc = 0.0;
  for (var kk = 0u; kk < u.k; kk++) { acc += A[${aIdx}] * B[${bIdx}]; }
  ${p.bias ? 'acc += bias[col];' : ''}
  ${p.relu ? 'acc = max(acc, 0.0);' : ''}
  C[(b * u.m + row) * u.n + col] = acc;
}`;
  },
  cpu: (p, bufs: NumArray[]) => {
    const [A, B] = bufs;
    const bias = p.bias ? bufs[2] : null;
    const C = bufs[p.bias ? 3 : 2];
    const { m, n, k } = p;
    for (let b = 0; b < p.batch; b++) {
      const ab = b * p.aBatch;
      const bb = b * p.bBatch;
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          let acc = 0;
          for (let kk = 0; kk < k; kk++)
            acc += A[p.transA ? ab + kk * m + i : ab + i * k + kk] * B[p.transB ? bb + j * k + kk : bb + kk * n + j];
          if (bias) acc += bias[j];
          if (p.relu && acc < 0) acc = 0;
          C[(b * m + i) * n + j] = acc;
        }
    }
  },
};
