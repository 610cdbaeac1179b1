// The second pass of a split-K GEMM (gemm.ts): the S partial outputs of a launch, stored one after
// another, are summed in a fixed order (partial 0 first, then 1, ...; no atomics, so the result is
// the same on every run), then the GEMM epilogue the partials left out (bias, ReLU) is applied.
//   y[i] = epilogue( sum_{s < S} part[s * count + i] ),  i < count
// part: [S, count]; y: [count], viewed as [Z, M, N] for the bias: per column (bias[i % N]) or per
// row (bias[(i / N) % M]).
import type { NumArray } from './kernel.ts';
import { defineKernel, read, rw, u32 } from './shader.ts';
import { LINEAR_PARAMS, linearGid } from './wgsl_lib.ts';

/**
 * Params of {@link splitKReduceKernel}: `splits` partials of `count` elements, viewed as [.., M, N] for the bias.
 */
export interface SplitKReduceParams {
  /** Partial outputs S. */
  splits: number;
  /** Elements of one partial (and of the output). */
  count: number;
  /** Output rows and columns (for the bias index). */
  m: number;
  n: number;
  /** A bias binding follows the partials: length N ('col') or M ('row'). */
  bias: 'row' | 'col' | null;
  relu: boolean;
}

const WG = 256;

/**
 * Sums the partial outputs of a split-K GEMM in a fixed order (deterministic), then adds the bias
 * and applies ReLU. Bindings: `P [S, count]`, `bias` ([N] 'col' or [M] 'row', when set), `Y [count]` (rw).
 */
export const splitKReduceKernel = defineKernel<SplitKReduceParams>({
  name: 'split_k_reduce',
  spec: (p) => `${p.bias ?? 'nobias'}${p.relu ? '+relu' : ''}`,
  storage: (p) => [read('P'), ...(p.bias ? [read('bias')] : []), rw('Y')],
  uniforms: (p) => [u32('splits', p.splits), u32('count', p.count), u32('m', p.m), u32('n', p.n)],
  dispatch: (p) => Math.ceil(p.count / WG),
  body: (p) => {
    let v = 'acc';
    if (p.bias === 'col') v = `${v} + bias[i % u.n]`;
    if (p.bias === 'row') v = `${v} + bias[(i / u.n) % u.m]`;
    if (p.relu) v = `max(${v}, 0.0)`;
    return `
@compute @workgroup_size(${WG})
fn main(${LINEAR_PARAMS}) {
  ${linearGid(WG)}
  let i = gid;
  if (i >= u.count) { return; }
  var acc = 0.0;
  var idx = i;
  for (var s = 0u; s < u.splits; s++) {
    acc += P[idx];
    idx += u.count;
  }
  Y[i] = ${v};
}`;
  },
  cpu: (p, bufs: NumArray[]) => {
    const P = bufs[0];
    const bias = p.bias ? bufs[1] : null;
    const Y = bufs[p.bias ? 2 : 1];
    // the GPU's order; rounded to f32 at every step unless the tensors are float64
    const round = Y instanceof Float64Array ? (x: number) => x : Math.fround;
    for (let i = 0; i < p.count; i++) {
      let acc = 0;
      for (let s = 0; s < p.splits; s++) acc = round(acc + P[s * p.count + i]);
      let v = acc;
      if (bias) v += bias[p.bias === 'col' ? i % p.n : Math.floor(i / p.n) % p.m];
      if (p.relu && v < 0) v = 0;
      Y[i] = v;
    }
  },
});
