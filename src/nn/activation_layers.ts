// Activation modules (torch.nn names and defaults), thin wrappers over the functional ops, and
// Identity. None has parameters or buffers. Options objects reject unknown keys.
import type { Tensor } from '../tensor/tensor.ts';
import { add, gelu, leakyRelu, mul, sigmoid, tanh } from '../autograd/pointwise.ts';
import { logSoftmax, softmax } from '../autograd/softmax_fn.ts';
import { Module } from './module.ts';
import { checkOptions } from '../backend/options.ts';

/** Check an options object: a plain object whose keys are all in `accepted`. */
function options<T extends object>(op: string, o: unknown, accepted: readonly (keyof T & string)[]): Partial<T> {
  return checkOptions(op, o, accepted) as Partial<T>;
}

/** y = 1 / (1 + exp(-x)) */
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return sigmoid(x);
  }
}

/** y = tanh(x) */
export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return tanh(x);
  }
}

/** Options of {@link GELU}. */
export interface GELUOptions {
  /** 'none' (default): x * Phi(x) with the exact erf; 'tanh': PyTorch's tanh approximation
   * 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))). */
  approximate?: 'none' | 'tanh';
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** Gaussian error linear unit, as torch.nn.GELU. */
export class GELU extends Module {
  readonly approximate: 'none' | 'tanh';
  constructor(o?: GELUOptions) {
    super();
    const { approximate = 'none' } = options<GELUOptions>('GELU', o, ['approximate']);
    if (approximate !== 'none' && approximate !== 'tanh')
      throw new Error(`GELU: approximate must be 'none' or 'tanh', got ${String(approximate)}`);
    this.approximate = approximate;
  }
  forward(x: Tensor): Tensor {
    if (this.approximate === 'none') return gelu(x);
    // 0.5 x (1 + tanh(c x (1 + 0.044715 x^2))), from recorded pointwise ops (differentiable)
    const inner = mul(mul(x, add(mul(mul(x, x), 0.044715), 1)), SQRT_2_OVER_PI);
    return mul(mul(x, 0.5), add(tanh(inner), 1));
  }
  protected override extraRepr(): string {
    return `approximate='${this.approximate}'`;
  }
}

/** Options of {@link LeakyReLU}. */
export interface LeakyReLUOptions {
  /** Slope for x < 0 (default 0.01). */
  negativeSlope?: number;
}

/** y = x for x > 0, negativeSlope * x otherwise, as torch.nn.LeakyReLU. */
export class LeakyReLU extends Module {
  readonly negativeSlope: number;
  constructor(o?: LeakyReLUOptions) {
    super();
    const { negativeSlope = 0.01 } = options<LeakyReLUOptions>('LeakyReLU', o, ['negativeSlope']);
    if (typeof negativeSlope !== 'number' || !Number.isFinite(negativeSlope))
      throw new Error(`LeakyReLU: negativeSlope must be a finite number, got ${String(negativeSlope)}`);
    this.negativeSlope = negativeSlope;
  }
  forward(x: Tensor): Tensor {
    return leakyRelu(x, this.negativeSlope);
  }
  protected override extraRepr(): string {
    return `negativeSlope=${this.negativeSlope}`;
  }
}

/** Options of {@link Softmax} and {@link LogSoftmax}: the dimension to normalise over. */
export interface SoftmaxOptions {
  /** The dim to normalise over (required; PyTorch's implicit choice is deprecated). */
  dim: number;
}

function dimOption(op: string, o: unknown): number {
  const { dim } = options<SoftmaxOptions>(op, o, ['dim']);
  if (typeof dim !== 'number' || !Number.isInteger(dim))
    throw new Error(`${op}: dim must be given as an integer ({ dim: 1 }), got ${String(dim)}`);
  return dim;
}

/** softmax along `dim`, as torch.nn.Softmax(dim). */
export class Softmax extends Module {
  readonly dim: number;
  constructor(o: SoftmaxOptions) {
    super();
    this.dim = dimOption('Softmax', o);
  }
  forward(x: Tensor): Tensor {
    return softmax(x, this.dim);
  }
  protected override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

/** log-softmax along `dim`, as torch.nn.LogSoftmax(dim). */
export class LogSoftmax extends Module {
  readonly dim: number;
  constructor(o: SoftmaxOptions) {
    super();
    this.dim = dimOption('LogSoftmax', o);
  }
  forward(x: Tensor): Tensor {
    return logSoftmax(x, this.dim);
  }
  protected override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

/** Returns its input unchanged (the same tensor), as torch.nn.Identity. */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}
