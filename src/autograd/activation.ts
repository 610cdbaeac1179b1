// ReLU on its own vec4 kernels: forward y = max(x, 0), backward g * (y > 0) in one dispatch each
// (ops.ts's relu is maxS forward and step + mul backward: three dispatches).
import type { Tensor } from '../tensor/tensor.ts';
import { launch } from '../tensor/launch.ts';
import { requireFloat } from '../tensor/raw.ts';
import { reluKernel } from '../kernels/relu.ts';
import { Function } from './function.ts';

class ReluFast extends Function {
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

/** ReLU with dedicated forward/backward kernels (same values as `relu`; NaN propagates). */
export function reluFast(x: Tensor): Tensor {
  requireFloat('reluFast', x);
  return new ReluFast().apply(x);
}
