// In-place Adam / AdamW step with torch.optim's single-tensor semantics (PyTorch 1.13), one
// dispatch per parameter; `step` is the parameter's step count after this update (>= 1):
//   g = maximize ? -grad : grad
//   Adam (L2):      g += weightDecay * param            (when weightDecay != 0)
//   AdamW:          param *= 1 - lr * weightDecay       (decoupled decay, before the update)
//   expAvg   = beta1 * expAvg   + (1 - beta1) * g
//   expAvgSq = beta2 * expAvgSq + (1 - beta2) * g * g
//   amsgrad:        maxExpAvgSq = max(maxExpAvgSq, expAvgSq), used below instead of expAvgSq
//   denom = sqrt(expAvgSq) / sqrt(1 - beta2^step) + eps
//   param -= lr / (1 - beta1^step) * expAvg / denom
// param, expAvg, expAvgSq (and maxExpAvgSq) are bound read_write and updated in place; vec4 path
// when n % 4 == 0. The bias corrections are computed on the host in float64 from the step count
// (as torch does in Python) and passed as uniforms with every other coefficient, so a changing
// step or learning rate never recompiles and nothing is read back; only amsgrad (one more
// binding) changes the pipeline.
import type { Caps, NumArray } from './kernel.ts';
import { defineKernel, f32, read, rw, u32 } from './shader.ts';
import { type Stream, streamGeom, streamGroups, streamLoop } from './stream.ts';

/**
 * Params of {@link adamKernel}: torch.optim.Adam / AdamW's hyperparameters for one parameter of
 * `n` elements, with the step count that sets the bias corrections.
 */
export interface AdamParams {
  n: number;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** AdamW: decay the parameter by (1 - lr * weightDecay) instead of adding weightDecay * param to g */
  decoupled: boolean;
  /** a maxExpAvgSq buffer is bound and used for the denominator */
  amsgrad: boolean;
  maximize: boolean;
  /** the step count including this update (>= 1) */
  step: number;
  /** launch geometry (default: the adapter's, see stream.ts) */
  stream?: Stream;
}

/** The per-launch coefficients, in float64 (the CPU twin rounds them like the uniform upload). */
export function adamCoefficients(p: AdamParams) {
  const bc1 = 1 - p.beta1 ** p.step;
  const bc2 = 1 - p.beta2 ** p.step;
  return {
    stepSize: p.lr / bc1,
    bc2Sqrt: Math.sqrt(bc2),
    gradSign: p.maximize ? -1 : 1,
    l2: p.decoupled ? 0 : p.weightDecay,
    decay: p.decoupled ? 1 - p.lr * p.weightDecay : 1,
    oneMinusBeta1: 1 - p.beta1,
    oneMinusBeta2: 1 - p.beta2,
  };
}

const geo = (p: AdamParams, caps: Caps) => p.stream ?? streamGeom(caps);
const isVec4 = (p: AdamParams) => p.n % 4 === 0;
const units = (p: AdamParams) => (isVec4(p) ? p.n / 4 : p.n);
const elem = (p: AdamParams) => (isVec4(p) ? 'vec4<f32>' : 'f32');

/**
 * One in-place Adam / AdamW step (torch.optim single-tensor semantics, amsgrad and maximize included).
 * Bindings: `param [n]` (rw), `grad [n]`, `expAvg [n]` (rw), `expAvgSq [n]` (rw), and `maxExpAvgSq [n]`
 * (rw) when `amsgrad`.
 */
export const adamKernel = defineKernel<AdamParams>({
  name: 'adam',
  spec: (p, caps) => `${p.amsgrad ? 'amsgrad' : 'plain'}${isVec4(p) ? ':v4' : ''}:${geo(p, caps).wg}x${geo(p, caps).per}`,
  // param [n] (rw), grad [n], expAvg [n] (rw), expAvgSq [n] (rw), maxExpAvgSq [n] (rw, amsgrad only)
  storage: (p) => [
    rw('param', elem(p)),
    read('grad', elem(p)),
    rw('expAvg', elem(p)),
    rw('expAvgSq', elem(p)),
    ...(p.amsgrad ? [rw('maxExpAvgSq', elem(p))] : []),
  ],
  uniforms: (p) => {
    const c = adamCoefficients(p);
    return [
      u32('n', units(p)),
      f32('gradSign', c.gradSign),
      f32('l2', c.l2),
      f32('decay', c.decay),
      f32('beta1', p.beta1),
      f32('oneMinusBeta1', c.oneMinusBeta1),
      f32('beta2', p.beta2),
      f32('oneMinusBeta2', c.oneMinusBeta2),
      f32('bc2Sqrt', c.bc2Sqrt),
      f32('eps', p.eps),
      f32('stepSize', c.stepSize),
    ];
  },
  dispatch: (p, caps) => streamGroups(units(p), geo(p, caps)),
  body: (p, caps) => {
    const s = geo(p, caps);
    const loop = streamLoop(s, 'u.n');
    const second = p.amsgrad
      ? `let vmax = max(maxExpAvgSq[i], v);
    maxExpAvgSq[i] = vmax;
    let denom = sqrt(vmax) / u.bc2Sqrt + u.eps;`
      : 'let denom = sqrt(v) / u.bc2Sqrt + u.eps;';
    return `
@compute @workgroup_size(${s.wg})
fn main(${loop.params}) {
  ${loop.open}
    let w0 = param[i];
    var g = grad[i] * u.gradSign;
    if (u.l2 != 0.0) { g = g + u.l2 * w0; }
    let w = w0 * u.decay;
    let m = expAvg[i] * u.beta1 + u.oneMinusBeta1 * g;
    let v = expAvgSq[i] * u.beta2 + u.oneMinusBeta2 * g * g;
    expAvg[i] = m;
    expAvgSq[i] = v;
    ${second}
    param[i] = w - u.stepSize * m / denom;
  }
}`;
  },
  cpu: (p, bufs: NumArray[]) => {
    const [param, grad, expAvg, expAvgSq, maxSq] = bufs;
    // float32 storage: round each step to f32 like the GPU does
    const r = param instanceof Float32Array ? Math.fround : (v: number) => v;
    const c = adamCoefficients(p);
    const [sign, l2, decay, b1, omb1, b2, omb2, bc2s, eps, ss] = [
      c.gradSign, c.l2, c.decay, p.beta1, c.oneMinusBeta1, p.beta2, c.oneMinusBeta2, c.bc2Sqrt, p.eps, c.stepSize,
    ].map(r);
    for (let i = 0; i < p.n; i++) {
      const w0 = param[i];
      let g = r(grad[i] * sign);
      if (l2 !== 0) g = r(g + r(l2 * w0));
      const w = r(w0 * decay);
      const m = r(r(expAvg[i] * b1) + r(omb1 * g));
      const v = r(r(expAvgSq[i] * b2) + r(r(omb2 * g) * g));
      expAvg[i] = m;
      expAvgSq[i] = v;
      let vh = v;
      if (p.amsgrad) {
        vh = Math.max(maxSq[i], v);
        maxSq[i] = vh;
      }
      const denom = r(r(r(Math.sqrt(vh)) / bc2s) + eps);
      param[i] = r(w - r(r(ss * m) / denom));
    }
  },
});
