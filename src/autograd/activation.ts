// ReLU on its own vec4 kernels (src/kernels/relu.ts): forward y = max(x, 0), backward
// g * (y > 0), one dispatch each (one per chunk past the binding limit); `relu` in ops.ts is this op.
import type { Tensor } from '../tensor/tensor.ts';
import { launchRows } from '../tensor/chunked.ts';
import { requireFloat } from '../tensor/raw.ts';
import { type ReluParams, reluKernel } from '../kernels/relu.ts';
import { Function } from './function.ts';

/** A chunk of the flat problem: `count` elements. */
const flat = (p: ReluParams, _first: number, count: number): ReluParams => ({ ...p, n: count });

class Relu extends Function {
  name = 'relu';
  private y: Tensor | null = null;
  forward(x: Tensor) {
    const y = launchRows(reluKernel, { mode: 'fwd', n: x.size }, x.size, flat, [{ arg: x, perRow: 1 }, { arg: { shape: x.shape }, perRow: 1 }])[0];
    this.y = y;
    this.save(y);
    return y;
  }
  backward(g: Tensor) {
    const args = [{ arg: g, perRow: 1 }, { arg: this.y!, perRow: 1 }, { arg: { shape: g.shape }, perRow: 1 }];
    return [launchRows(reluKernel, { mode: 'bwd', n: g.size }, g.size, flat, args)[0]];
  }
  override release() {
    super.release();
    this.y = null;
  }
}

/** ReLU with dedicated forward/backward kernels (NaN propagates through the forward). */
export function relu(x: Tensor): Tensor {
  requireFloat('relu', x);
  return new Relu().apply(x);
}
