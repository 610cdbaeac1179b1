// Shape Functions: reshape (a view), permute and expand (copies), with their backward.
import type { Tensor } from '../tensor/tensor.ts';
import { broadcastTo, permute, reduce } from '../tensor/raw.ts';
import { fmt, inferReshape } from '../tensor/shape.ts';
import { Function } from './function.ts';

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

