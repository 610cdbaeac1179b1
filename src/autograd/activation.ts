// ReLU on its own vec4 kernels (src/kernels/relu.ts): forward y = max(x, 0), backward
// g * (y > 0), one dispatch each; `relu` in ops.ts is this op.
import type { Tensor } from '../tensor/tensor.ts';
import { launch } from '../tensor/launch.ts';
import { requireFloat } from '../tensor/raw.ts';
import { reluKernel } from '../kernels/relu.ts';
import { Function } from './function.ts';

class Relu extends Function {
  name = 'relu';
  private y: Tensor | null = null;
  forward(x: Tensor) {
    const y = launch(reluKernel, { mode: 'fwd', n: x.size }, [x, { shape: x.shape }])[0];
    this.y = y;
    this.save(y);
    return y;
  }
  backward(g: Tensor) {
    return [launch(reluKernel, { mode: 'bwd', n: g.size }, [g, this.y!, { shape: g.shape }])[0]];
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
