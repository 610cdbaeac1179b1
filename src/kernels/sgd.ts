// In-place SGD step with torch.optim.SGD's semantics, one dispatch per parameter:
//   d = grad + weightDecay * param
//   momentum != 0:  buf = firstStep ? d : momentum * buf + (1 - dampening) * d
//                   d   = nesterov ? d + momentum * buf : buf
//   param -= lr * d
// param and buf are bound read_write and updated in place; vec4 path when n % 4 == 0.
// Every coefficient is a uniform (no recompiles when a scheduler changes lr); only the presence of
// the momentum buffer changes the bindings.
import type { Caps, NumArray } from './kernel.ts';
import { defineKernel, f32, read, rw, u32 } from './shader.ts';
import { type Stream, streamGeom, streamGroups, streamLoop } from './stream.ts';

/**
 * Params of {@link sgdKernel}: torch.optim.SGD's hyperparameters for one parameter of `n` elements;
 * `firstStep` initialises the momentum buffer to the gradient.
 */
export interface SgdParams {
  n: number;
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  firstStep: boolean;
  /** a momentum buffer is bound (momentum != 0) */
  withBuf: boolean;
  /** launch geometry (default: the adapter's, see stream.ts) */
  stream?: Stream;
}

const geo = (p: SgdParams, caps: Caps) => p.stream ?? streamGeom(caps);
const isVec4 = (p: SgdParams) => p.n % 4 === 0;
const units = (p: SgdParams) => (isVec4(p) ? p.n / 4 : p.n);
const elem = (p: SgdParams) => (isVec4(p) ? 'vec4<f32>' : 'f32');

/**
 * One in-place SGD step (torch.optim.SGD semantics: weight decay, momentum, dampening, Nesterov).
 * Bindings: `param [n]` (rw), `grad [n]`, and `buf [n]` (rw, the momentum buffer) when `withBuf`.
 */
export const sgdKernel = defineKernel<SgdParams>({
  name: 'sgd',
  spec: (p, caps) => `${p.withBuf ? 'mom' : 'plain'}${isVec4(p) ? ':v4' : ''}:${geo(p, caps).wg}x${geo(p, caps).per}`,
  // param [n] (rw), grad [n], momentum buffer [n] (rw, only when withBuf)
  storage: (p) => [rw('param', elem(p)), read('grad', elem(p)), ...(p.withBuf ? [rw('buf', elem(p))] : [])],
  uniforms: (p) => [
    u32('n', units(p)),
    f32('lr', p.lr),
    f32('momentum', p.momentum),
    f32('oneMinusDamp', 1 - p.dampening),
    f32('weightDecay', p.weightDecay),
    u32('nesterov', p.nesterov ? 1 : 0),
    u32('firstStep', p.firstStep ? 1 : 0),
  ],
  dispatch: (p, caps) => streamGroups(units(p), geo(p, caps)),
  body: (p, caps) => {
    const mom = p.withBuf
      ? `var b = d;
    if (u.firstStep == 0u) { b = buf[i] * u.momentum + u.oneMinusDamp * d; }
    buf[i] = b;
    if (u.nesterov != 0u) { d = d + u.momentum * b; } else { d = b; }`
      : '';
    const s = geo(p, caps);
    const loop = streamLoop(s, 'u.n');
    return `
@compute @workgroup_size(${s.wg})
fn main(${loop.params}) {
  ${loop.open}
    let w = param[i];
    var d = grad[i];
    if (u.weightDecay != 0.0) { d = d + u.weightDecay * w; }
    ${mom}
    param[i] = w - u.lr * d;
  }
}`;
  },
  cpu: (p, bufs: NumArray[]) => {
    const [param, grad, buf] = bufs;
    // float32 storage: round each step to f32 like the GPU does
    const r = param instanceof Float32Array ? Math.fround : (v: number) => v;
    const lr = r(p.lr);
    const mom = r(p.momentum);
    const omd = r(1 - p.dampening);
    const wd = r(p.weightDecay);
    for (let i = 0; i < p.n; i++) {
      const w = param[i];
      let d = grad[i];
      if (wd !== 0) d = r(d + r(wd * w));
      if (p.withBuf) {
        const b = p.firstStep ? d : r(r(buf[i] * mom) + r(omd * d));
        buf[i] = b;
        d = p.nesterov ? r(d + r(mom * b)) : b;
      }
      param[i] = r(w - r(lr * d));
    }
  },
});
