// In-place SGD step with torch.optim.SGD's semantics, one dispatch per parameter:
//   d = grad + weightDecay * param
//   momentum != 0:  buf = firstStep ? d : momentum * buf + (1 - dampening) * d
//                   d   = nesterov ? d + momentum * buf : buf
//   param -= lr * d
// param and buf are bound read_write and updated in place; vec4 path when n % 4 == 0.
// Every coefficient is a uniform (no recompiles when a scheduler changes lr); only the presence of
// the momentum buffer changes the bindings.
import type { KernelDef, NumArray } from './kernel.ts';
import { type Stream, streamGeom, streamGroups, streamLoop } from './stream.ts';

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

const geo = (p: SgdParams) => p.stream ?? streamGeom();
const isVec4 = (p: SgdParams) => p.n % 4 === 0;
const units = (p: SgdParams) => (isVec4(p) ? p.n / 4 : p.n);

export const sgdKernel: KernelDef<SgdParams> = {
  name: 'sgd',
  spec: (p) => `${p.withBuf ? 'mom' : 'plain'}${isVec4(p) ? ':v4' : ''}:${geo(p).wg}x${geo(p).per}`,
  // param [n] (rw), grad [n], momentum buffer [n] (rw, only when withBuf)
  bindings: (p) => (p.withBuf ? ['rw', 'read', 'rw'] : ['rw', 'read']),
  uniforms: (p) => [
    units(p),
    { f: p.lr },
    { f: p.momentum },
    { f: 1 - p.dampening },
    { f: p.weightDecay },
    p.nesterov ? 1 : 0,
    p.firstStep ? 1 : 0,
  ],
  dispatch: (p) => streamGroups(units(p), geo(p)),
  wgsl: (p) => {
    const T = isVec4(p) ? 'vec4<f32>' : 'f32';
    const mom = p.withBuf
      ? `var b = d;
    if (u.firstStep == 0u) { b = buf[i] * u.momentum + u.oneMinusDamp * d; }
    buf[i] = b;
    if (u.nesterov != 0u) { d = d + u.momentum * b; } else { d = b; }`
      : '';
    const s = geo(p);
    const loop = streamLoop(s, 'u.n');
    return `
@group(0) @binding(0) var<storage, read_write> param: array<${T}>;
@group(0) @binding(1) var<storage, read> grad: array<${T}>;
${p.withBuf ? `@group(0) @binding(2) var<storage, read_write> buf: array<${T}>;` : ''}
struct U { n: u32, lr: f32, momentum: f32, oneMinusDamp: f32, weightDecay: f32, nesterov: u32, firstStep: u32 }
@group(0) @binding(${p.withBuf ? 3 : 2}) var<uniform> u: U;
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
};
