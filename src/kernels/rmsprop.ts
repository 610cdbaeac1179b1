// In-place RMSprop step with torch.optim.RMSprop's single-tensor semantics (PyTorch 1.13), one
// dispatch per parameter:
//   g = maximize ? -grad : grad
//   g += weightDecay * param                            (when weightDecay != 0)
//   squareAvg = alpha * squareAvg + (1 - alpha) * g * g
//   centered:  gradAvg = alpha * gradAvg + (1 - alpha) * g
//              avg = sqrt(squareAvg - gradAvg * gradAvg) + eps
//   else:      avg = sqrt(squareAvg) + eps
//   momentum > 0:  buf = momentum * buf + g / avg;  param -= lr * buf
//   else:          param -= lr * g / avg
// param and the state buffers are bound read_write and updated in place; vec4 path when
// n % 4 == 0. Coefficients are uniforms; `centered` and the presence of a momentum buffer add
// bindings and so select the pipeline.
import type { Caps, NumArray } from './kernel.ts';
import { defineKernel, f32, read, rw, u32 } from './shader.ts';
import { type Stream, streamGeom, streamGroups, streamLoop } from './stream.ts';

/**
 * Params of {@link rmspropKernel}: torch.optim.RMSprop's hyperparameters for one parameter of `n` elements.
 */
export interface RmspropParams {
  n: number;
  lr: number;
  alpha: number;
  eps: number;
  weightDecay: number;
  momentum: number;
  centered: boolean;
  maximize: boolean;
  /** a momentum buffer is bound (momentum > 0) */
  withBuf: boolean;
  /** launch geometry (default: the adapter's, see stream.ts) */
  stream?: Stream;
}

const geo = (p: RmspropParams, caps: Caps) => p.stream ?? streamGeom(caps);
const isVec4 = (p: RmspropParams) => p.n % 4 === 0;
const units = (p: RmspropParams) => (isVec4(p) ? p.n / 4 : p.n);
const elem = (p: RmspropParams) => (isVec4(p) ? 'vec4<f32>' : 'f32');

/**
 * One in-place RMSprop step (torch.optim.RMSprop semantics, centered and momentum included).
 * Bindings: `param [n]` (rw), `grad [n]`, `squareAvg [n]` (rw), `gradAvg [n]` (rw) when `centered`,
 * the momentum buffer `[n]` (rw) when `withBuf`.
 */
export const rmspropKernel = defineKernel<RmspropParams>({
  name: 'rmsprop',
  spec: (p, caps) =>
    `${p.centered ? 'centered' : 'plain'}${p.withBuf ? ':mom' : ''}${isVec4(p) ? ':v4' : ''}:${geo(p, caps).wg}x${geo(p, caps).per}`,
  // param [n] (rw), grad [n], squareAvg [n] (rw), gradAvg [n] (rw, centered only),
  // momentum buffer [n] (rw, withBuf only)
  storage: (p) => [
    rw('param', elem(p)),
    read('grad', elem(p)),
    rw('squareAvg', elem(p)),
    ...(p.centered ? [rw('gradAvg', elem(p))] : []),
    ...(p.withBuf ? [rw('buf', elem(p))] : []),
  ],
  uniforms: (p) => [
    u32('n', units(p)),
    f32('gradSign', p.maximize ? -1 : 1),
    f32('weightDecay', p.weightDecay),
    f32('alpha', p.alpha),
    f32('oneMinusAlpha', 1 - p.alpha),
    f32('eps', p.eps),
    f32('momentum', p.momentum),
    f32('lr', p.lr),
  ],
  dispatch: (p, caps) => streamGroups(units(p), geo(p, caps)),
  body: (p, caps) => {
    const s = geo(p, caps);
    const loop = streamLoop(s, 'u.n');
    const avg = p.centered
      ? `let ga = gradAvg[i] * u.alpha + u.oneMinusAlpha * g;
    gradAvg[i] = ga;
    let avg = sqrt(sq - ga * ga) + u.eps;`
      : 'let avg = sqrt(sq) + u.eps;';
    const upd = p.withBuf
      ? `let b = buf[i] * u.momentum + g / avg;
    buf[i] = b;
    param[i] = w - u.lr * b;`
      : 'param[i] = w - u.lr * g / avg;';
    return `
@compute @workgroup_size(${s.wg})
fn main(${loop.params}) {
  ${loop.open}
    let w = param[i];
    var g = grad[i] * u.gradSign;
    if (u.weightDecay != 0.0) { g = g + u.weightDecay * w; }
    let sq = squareAvg[i] * u.alpha + u.oneMinusAlpha * g * g;
    squareAvg[i] = sq;
    ${avg}
    ${upd}
  }
}`;
  },
  cpu: (p, bufs: NumArray[]) => {
    const [param, grad, squareAvg] = bufs;
    let k = 3;
    const gradAvg = p.centered ? bufs[k++] : null;
    const buf = p.withBuf ? bufs[k++] : null;
    // float32 storage: round each step to f32 like the GPU does
    const r = param instanceof Float32Array ? Math.fround : (v: number) => v;
    const [sign, wd, alpha, oma, eps, mom, lr] = [p.maximize ? -1 : 1, p.weightDecay, p.alpha, 1 - p.alpha, p.eps, p.momentum, p.lr].map(r);
    for (let i = 0; i < p.n; i++) {
      const w = param[i];
      let g = r(grad[i] * sign);
      if (wd !== 0) g = r(g + r(wd * w));
      const sq = r(r(squareAvg[i] * alpha) + r(r(oma * g) * g));
      squareAvg[i] = sq;
      let avg: number;
      if (gradAvg) {
        const ga = r(r(gradAvg[i] * alpha) + r(oma * g));
        gradAvg[i] = ga;
        avg = r(r(Math.sqrt(r(sq - r(ga * ga)))) + eps);
      } else avg = r(r(Math.sqrt(sq)) + eps);
      if (buf) {
        const b = r(r(buf[i] * mom) + r(g / avg));
        buf[i] = b;
        param[i] = r(w - r(lr * b));
      } else param[i] = r(w - r(r(lr * g) / avg));
    }
  },
});
