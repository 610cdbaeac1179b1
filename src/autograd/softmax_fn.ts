// softmax(x, dim) and logSoftmax(x, dim): one fused kernel each way (src/kernels/softmax.ts) over
// x viewed as [outer, R, inner] with R = x.shape[dim]. The backward reads the forward's output y.
import type { Tensor } from '../tensor/tensor.ts';
import { launch } from '../tensor/launch.ts';
import { requireFloat } from '../tensor/raw.ts';
import { fmt, normAxis, numel } from '../tensor/shape.ts';
import { BASELINE_CAPS } from '../kernels/kernel.ts';
import { softmaxKernel, type SoftmaxParams } from '../kernels/softmax.ts';
import { softmaxLayout } from '../policy/softmax_choice.ts';
import { deviceCaps } from '../backend/device.ts';
import { Function } from './function.ts';

/** Kernel params for `shape` reduced over `dim` (already normalised); the layout is the policy's
 * for the GPU (the CPU twin ignores it). */
export function softmaxParams(shape: readonly number[], dim: number, log: boolean, pass: 'fwd' | 'bwd', device: 'cpu' | 'gpu'): SoftmaxParams {
  const outer = numel(shape.slice(0, dim));
  const r = shape.length ? shape[dim] : 1;
  const inner = numel(shape.slice(dim + 1));
  const caps = device === 'gpu' ? deviceCaps() : BASELINE_CAPS;
  return { pass, log, outer, r, inner, layout: softmaxLayout(outer, r, inner, caps) };
}

/** y = softmax (or log-softmax) of x over `dim` (normalised); one dispatch, not recorded. */
export function softmaxForward(x: Tensor, dim: number, log: boolean): Tensor {
  return launch(softmaxKernel, softmaxParams(x.shape, dim, log, 'fwd', x.device), [x, { shape: x.shape }])[0];
}

/** dL/dx from the forward's output y and dL/dy; one dispatch, not recorded. */
export function softmaxBackward(y: Tensor, g: Tensor, dim: number, log: boolean): Tensor {
  return launch(softmaxKernel, softmaxParams(y.shape, dim, log, 'bwd', y.device), [y, g, { shape: y.shape }])[0];
}

class Softmax extends Function {
  private y: Tensor | null = null;
  constructor(
    readonly dim: number,
    readonly log: boolean,
  ) {
    super();
  }
  get name() {
    return this.log ? 'logSoftmax' : 'softmax';
  }
  forward(x: Tensor) {
    const y = softmaxForward(x, this.dim, this.log);
    this.y = y;
    this.save(y);
    return y;
  }
  backward(g: Tensor) {
    return [softmaxBackward(this.y!, g, this.dim, this.log)];
  }
  override release() {
    super.release();
    this.y = null;
  }
}

function check(op: string, x: Tensor, dim: number): number {
  requireFloat(op, x);
  if (typeof dim !== 'number') throw new Error(`${op}: dim is required (an integer axis), got ${String(dim)}`);
  if (!Number.isInteger(dim)) throw new Error(`${op}: dim must be an integer, got ${dim}`);
  if (dim < -Math.max(x.ndim, 1) || dim >= Math.max(x.ndim, 1))
    throw new Error(`${op}: dim ${dim} is out of range for a tensor of shape ${fmt(x.shape)} (rank ${x.ndim})`);
  return normAxis(op, dim, x.ndim);
}

/** exp(x) / sum(exp(x)) along `dim` (torch.softmax), stable for large logits. */
export function softmax(x: Tensor, dim: number): Tensor {
  return new Softmax(check('softmax', x, dim), false).apply(x);
}

/** x - log(sum(exp(x))) along `dim` (torch.log_softmax), stable for large logits. */
export function logSoftmax(x: Tensor, dim: number): Tensor {
  return new Softmax(check('logSoftmax', x, dim), true).apply(x);
}
