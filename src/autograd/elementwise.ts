// Elementwise Functions. Broadcast inputs get their gradient summed back to their own shape.
import type { Tensor } from '../tensor/tensor.ts';
import { binary, unary, sumTo } from '../tensor/raw.ts';
import { Function } from './function.ts';

/** g summed to x's shape when x needs a gradient, else null. */
function reduceFor(need: boolean, g: Tensor, x: Tensor): Tensor | null {
  return need ? sumTo(g, x.shape) : null;
}

export class Add extends Function {
  name = 'add';
  forward(a: Tensor, b: Tensor) {
    this.save(a, b);
    return binary('add', a, b);
  }
  backward(g: Tensor) {
    const [a, b] = this.inputs;
    return [reduceFor(this.needsGrad[0], g, a), reduceFor(this.needsGrad[1], g, b)];
  }
}

export class Sub extends Function {
  name = 'sub';
  forward(a: Tensor, b: Tensor) {
    return binary('sub', a, b);
  }
  backward(g: Tensor) {
    const [a, b] = this.inputs;
    let gb: Tensor | null = null;
    if (this.needsGrad[1]) {
      const n = unary('neg', g);
      gb = sumTo(n, b.shape);
      if (gb !== n) n.dispose();
    }
    return [reduceFor(this.needsGrad[0], g, a), gb];
  }
}

/** d(a*b) = g*b, g*a, each summed to its input's shape. */
function productGrad(g: Tensor, other: Tensor, self: Tensor): Tensor {
  const p = binary('mul', g, other);
  const r = sumTo(p, self.shape);
  if (r !== p) p.dispose();
  return r;
}

export class Mul extends Function {
  name = 'mul';
  forward(a: Tensor, b: Tensor) {
    this.save(a, b);
    return binary('mul', a, b);
  }
  backward(g: Tensor) {
    const [a, b] = this.inputs;
    return [this.needsGrad[0] ? productGrad(g, b, a) : null, this.needsGrad[1] ? productGrad(g, a, b) : null];
  }
}

export class Div extends Function {
  name = 'div';
  private out!: Tensor;
  forward(a: Tensor, b: Tensor) {
    this.save(a, b);
    return binary('div', a, b);
  }
  backward(g: Tensor) {
    const [a, b] = this.inputs;
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    const gOverB = binary('div', g, b);
    if (this.needsGrad[1]) {
      // d/db (a/b) = -a/b^2 = -(g/b) * (a/b)
      const q = binary('div', a, b);
      const t = binary('mul', gOverB, q);
      const n = unary('neg', t);
      gb = sumTo(n, b.shape);
      if (gb !== n) n.dispose();
      q.dispose();
      t.dispose();
    }
    if (this.needsGrad[0]) {
      ga = sumTo(gOverB, a.shape);
      if (ga !== gOverB) gOverB.dispose();
    } else gOverB.dispose();
    return [ga, gb];
  }
}

export class Pow extends Function {
  name = 'pow';
  private out: Tensor | null = null;
  forward(a: Tensor, b: Tensor) {
    this.save(a, b);
    const out = binary('pow', a, b);
    return out;
  }
  backward(g: Tensor) {
    const [a, b] = this.inputs;
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (this.needsGrad[0]) {
      // b * a^(b-1)
      const bm1 = unary('addS', b, -1);
      const p = binary('pow', a, bm1);
      const d = binary('mul', p, b);
      ga = productGrad(g, d, a);
      [bm1, p, d].forEach((t) => t.dispose());
    }
    if (this.needsGrad[1]) {
      // a^b * log(a)
      const p = binary('pow', a, b);
      const l = unary('log', a);
      const d = binary('mul', p, l);
      gb = productGrad(g, d, b);
      [p, l, d].forEach((t) => t.dispose());
    }
    return [ga, gb];
  }
}

export class Maximum extends Function {
  name = 'maximum';
  forward(a: Tensor, b: Tensor) {
    this.save(a, b);
    return binary('maximum', a, b);
  }
  backward(g: Tensor) {
    // ties split the gradient evenly, like torch.maximum
    const [a, b] = this.inputs;
    const gt = binary('gt', a, b);
    const eq = binary('eq', a, b);
    const half = unary('mulS', eq, 0.5);
    const wa = binary('add', gt, half);
    const wb = unary('rsubS', wa, 1);
    const ga = this.needsGrad[0] ? productGrad(g, wa, a) : null;
    const gb = this.needsGrad[1] ? productGrad(g, wb, b) : null;
    [gt, eq, half, wa, wb].forEach((t) => t.dispose());
    return [ga, gb];
  }
}

/** Unary ops with a scalar: y = f(x, s). */
export class Scalar extends Function {
  constructor(readonly op: 'addS' | 'mulS' | 'rsubS' | 'powS' | 'rpowS', readonly s: number) {
    super();
  }
  get name() {
    return this.op;
  }
  forward(x: Tensor) {
    this.save(x);
    return unary(this.op, x, this.s);
  }
  backward(g: Tensor) {
    const [x] = this.inputs;
    const s = this.s;
    switch (this.op) {
      case 'addS':
        return [g];
      case 'mulS':
        return [unary('mulS', g, s)];
      case 'rsubS':
        return [unary('neg', g)];
      case 'powS': {
        const p = unary('powS', x, s - 1);
        const d = unary('mulS', p, s);
        const r = binary('mul', g, d);
        p.dispose();
        d.dispose();
        return [r];
      }
      case 'rpowS': {
        const p = unary('rpowS', x, s);
        const d = unary('mulS', p, Math.log(s));
        const r = binary('mul', g, d);
        p.dispose();
        d.dispose();
        return [r];
      }
    }
  }
}

export class Unary extends Function {
  private out: Tensor | null = null;
  constructor(readonly op: 'neg' | 'exp' | 'log' | 'sqrt' | 'abs' | 'relu') {
    super();
  }
  get name() {
    return this.op;
  }
  forward(x: Tensor) {
    this.save(x);
    if (this.op === 'relu') return unary('maxS', x, 0);
    const y = unary(this.op, x);
    if (this.op === 'exp' || this.op === 'sqrt') {
      this.out = y;
      this.save(y);
    }
    return y;
  }
  backward(g: Tensor) {
    const [x] = this.inputs;
    const mulWith = (d: Tensor) => {
      const r = binary('mul', g, d);
      d.dispose();
      return r;
    };
    switch (this.op) {
      case 'neg':
        return [unary('neg', g)];
      case 'exp':
        return [binary('mul', g, this.out!)];
      case 'log':
        return [binary('div', g, x)];
      case 'sqrt': {
        const d = unary('mulS', this.out!, 2);
        const r = binary('div', g, d);
        d.dispose();
        return [r];
      }
      case 'abs':
        return [mulWith(unary('sign', x))];
      case 'relu':
        return [mulWith(unary('step', x))];
    }
  }
}
