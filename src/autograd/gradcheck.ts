// Finite-difference gradient check on the CPU backend in float64 (PyTorch's defaults).
// Checks the vector-Jacobian product for a fixed random projection v of the output:
// analytic d(sum(v * f(x)))/dx from backward() against central differences of the same scalar.
import { checkOptions } from '../backend/options.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { fmt } from '../tensor/shape.ts';
import { tensor } from '../tensor/creation.ts';
import { Generator } from '../tensor/random.ts';
import { noGrad } from './function.ts';

export interface GradcheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Seed of the output projection. */
  seed?: number;
}

/** Throws with the worst element when analytic and numeric gradients disagree; returns true. */
export function gradcheck(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradcheckOptions = {}): boolean {
  checkOptions('gradcheck', opts, ['eps', 'atol', 'rtol', 'seed']);
  const eps = opts.eps ?? 1e-6;
  const atol = opts.atol ?? 1e-5;
  const rtol = opts.rtol ?? 1e-3;
  for (const x of inputs) {
    if (x.device !== 'cpu' || x.dtype !== 'float64')
      throw new Error(`gradcheck: inputs must be float64 CPU tensors, got ${x.describe()}`);
  }
  const diff = inputs.filter((x) => x.requiresGrad);
  if (!diff.length) throw new Error('gradcheck: no input requires grad');
  for (const x of diff) x.zeroGrad();

  const out = fn(...inputs);
  const gen = new Generator(opts.seed ?? 1234);
  const v = new Float64Array(out.size).map(() => gen.random() * 2 - 1);
  const vt = tensor(v, out.shape, { device: 'cpu', dtype: 'float64' });
  const proj = (y: Tensor) => {
    let s = 0;
    const d = y.data;
    for (let i = 0; i < d.length; i++) s += d[i] * v[i];
    return s;
  };
  out.backward(vt);

  noGrad(() => {
    for (const [xi, x] of inputs.entries()) {
      if (!x.requiresGrad) continue;
      const g = x.grad;
      const data = x.data;
      for (let i = 0; i < data.length; i++) {
        const orig = data[i];
        data[i] = orig + eps;
        const lp = proj(fn(...inputs));
        data[i] = orig - eps;
        const lm = proj(fn(...inputs));
        data[i] = orig;
        const num = (lp - lm) / (2 * eps);
        const ana = g ? g.data[i] : 0;
        if (!(Math.abs(ana - num) <= atol + rtol * Math.abs(num)))
          throw new Error(
            `gradcheck: input ${xi} ${fmt(x.shape)} element ${i}: analytic ${ana} vs numeric ${num} ` +
              `(|diff| ${Math.abs(ana - num).toExponential(3)} > atol ${atol} + rtol ${rtol} * |numeric|)`,
          );
      }
    }
  });
  return true;
}
