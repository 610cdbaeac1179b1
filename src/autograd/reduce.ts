// Reductions and shape Functions.
import type { Tensor } from '../tensor/tensor.ts';
import { axesOf, binary, broadcastTo, permute, reduce, unary } from '../tensor/raw.ts';
import { fmt, inferReshape } from '../tensor/shape.ts';
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
    const r = unary('mulS', e, 1 / count);
    e.dispose();
    return [r];
  }
}

export class Max extends Function {
  name = 'max';
  private axes: number[] = [];
  private out!: Tensor;
  constructor(readonly axis: number | undefined, readonly keepdim: boolean) {
    super();
  }
  forward(x: Tensor) {
    this.axes = axesOf('max', x, this.axis);
    this.out = reduce('max', x, this.axis, this.keepdim);
    this.save(x, this.out);
    return this.out;
  }
  backward(g: Tensor) {
    // the gradient is shared evenly among tied maxima (like torch.amax)
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

export class Reshape extends Function {
  name = 'reshape';
  constructor(readonly shape: readonly number[]) {
    super();
  }
  forward(x: Tensor) {
    x.check('reshape');
    return x._view(inferReshape('reshape', x.shape, this.shape));
  }
  backward(g: Tensor) {
    return [g._view(this.inputs[0].shape)];
  }
}

export class Permute extends Function {
  name = 'permute';
  constructor(readonly dims: readonly number[]) {
    super();
  }
  forward(x: Tensor) {
    return permute(x, this.dims);
  }
  backward(g: Tensor) {
    const r = this.dims.length;
    const norm = this.dims.map((d) => (d < 0 ? d + r : d));
    const inv = new Array<number>(r);
    norm.forEach((d, i) => (inv[d] = i));
    return [permute(g, inv)];
  }
}

export class Expand extends Function {
  name = 'expand';
  constructor(readonly shape: readonly number[]) {
    super();
  }
  forward(x: Tensor) {
    const target = this.shape.map((d, i) => (d === -1 ? (x.shape[i - (this.shape.length - x.ndim)] ?? -1) : d));
    if (target.some((d) => d < 0)) throw new Error(`expand: cannot expand ${fmt(x.shape)} to ${fmt(this.shape)}`);
    return broadcastTo(x, target);
  }
  backward(g: Tensor) {
    const x = this.inputs[0];
    const lead = g.ndim - x.ndim;
    const axes: number[] = [];
    for (let i = 0; i < g.ndim; i++) if (i < lead || (x.shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
    if (!axes.length) return [g];
    const s = reduce('sum', g, axes, true);
    const v = s._view(x.shape);
    s.dispose();
    return [v];
  }
}

