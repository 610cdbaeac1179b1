// Local response normalisation across channels (torch.nn.functional.local_response_norm).
// x [B, C, *]; the forward keeps the per-element scale S = k + alpha/size * window sum of x^2 for
// the backward (only when a backward can follow).
import type { Tensor } from '../tensor/tensor.ts';
import { launch } from '../tensor/launch.ts';
import { requireFloat } from '../tensor/raw.ts';
import { fmt } from '../tensor/shape.ts';
import { lrnKernel, type LrnParams } from '../kernels/lrn.ts';
import { Function, isGradEnabled } from './function.ts';

type Geom = Omit<LrnParams, 'mode'>;

class LocalResponseNorm extends Function {
  name = 'localResponseNorm';
  private scale: Tensor | null = null;
  constructor(
    readonly geom: Geom,
    readonly record: boolean,
  ) {
    super();
  }
  forward(x: Tensor) {
    if (!this.record) return launch(lrnKernel, { ...this.geom, mode: 'fwd' }, [x, { shape: x.shape }])[0];
    const [y, scale] = launch(lrnKernel, { ...this.geom, mode: 'fwdScale' }, [x, { shape: x.shape }, { shape: x.shape }]);
    this.scale = scale;
    this.save(x, scale);
    return y;
  }
  backward(g: Tensor) {
    const x = this.inputs[0];
    const s = this.scale!;
    return [launch(lrnKernel, { ...this.geom, mode: 'bwd' }, [g, x, s, { shape: x.shape }])[0]];
  }
  override release() {
    super.release();
    this.scale?.dispose();
    this.scale = null;
  }
}

/** b_c = a_c / (k + alpha/size * sum_{c' in window(c)} a_{c'}^2)^beta, window of `size` channels
 * centred on c (size/2 before, (size-1)/2 after), zero padded; x is [B, C, *]. */
export function localResponseNorm(x: Tensor, size: number, alpha = 1e-4, beta = 0.75, k = 1): Tensor {
  const op = 'localResponseNorm';
  requireFloat(op, x);
  if (x.ndim < 3) throw new Error(`${op}: expected x of shape [B, C, *] (3 or more dims), got ${fmt(x.shape)}`);
  if (!Number.isInteger(size) || size < 1) throw new Error(`${op}: expected size to be a positive integer, got ${size}`);
  for (const [name, v] of [['alpha', alpha], ['beta', beta], ['k', k]] as const)
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${op}: expected ${name} to be a finite number, got ${v}`);
  const [b, c] = x.shape;
  const s = x.shape.slice(2).reduce((a, d) => a * d, 1);
  return new LocalResponseNorm({ b, c, s, size, alpha, beta, k }, isGradEnabled() && x.requiresGrad).apply(x);
}
