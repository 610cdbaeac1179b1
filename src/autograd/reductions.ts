// Reduction Functions: sum / mean over axes, max / min (ties share the gradient evenly).
import type { Tensor } from '../tensor/tensor.ts';
import { axesOf, broadcastTo, reduce } from '../tensor/raw.ts';
import { binary } from './pointwise.ts';
import { Function } from './function.ts';

/** g (reduced, maybe without keepdim) reshaped so it broadcasts against the input. */
function keepdimView(g: Tensor, inShape: readonly number[], axes: number[]): Tensor {
  return g._view(inShape.map((d, i) => (axes.includes(i) ? 1 : d)));
}

export class Sum extends Function {
  name = 'sum';
  private axes: number[] = [];
  constructor(readonly axis: number | readonly number[] | undefined, readonly keepdim: boolean, readonly mean = false) {
    super();
  }
  forward(x: Tensor) {
    this.axes = axesOf(this.mean ? 'mean' : 'sum', x, this.axis);
    return reduce(this.mean ? 'mean' : 'sum', x, this.axis, this.keepdim);
  }
  backward(g: Tensor) {
    const [x] = this.inputs;
    const v = keepdimView(g, x.shape, this.axes);
    const e = broadcastTo(v, x.shape);
    v.dispose();
    if (!this.mean) return [e];
    const count = this.axes.reduce((n, a) => n * x.shape[a], 1);
    const r = binary('mul', e, 1 / count);
    e.dispose();
    return [r];
  }
}

/** max or min over an axis (all when undefined). */
export class Max extends Function {
  private axes: number[] = [];
  private out!: Tensor;
  constructor(readonly axis: number | undefined, readonly keepdim: boolean, readonly op: 'max' | 'min' = 'max') {
    super();
  }
  get name() {
    return this.op;
  }
  forward(x: Tensor) {
    this.axes = axesOf(this.op, x, this.axis);
    this.out = reduce(this.op, x, this.axis, this.keepdim);
    this.save(x, this.out);
    return this.out;
  }
  backward(g: Tensor) {
    // the gradient is shared evenly among tied extrema (like torch.amax / torch.amin)
    const [x] = this.inputs;
    const m = keepdimView(this.out, x.shape, this.axes);
    const mask = binary('eq', x, m);
    const cnt = reduce('sum', mask, this.axes, true);
    const gv = keepdimView(g, x.shape, this.axes);
    const share = binary('div', gv, cnt);
    const r = binary('mul', mask, share);
    [m, mask, cnt, gv, share].forEach((t) => t.dispose());
    return [r];
  }
}
