// Parameter initialisers (wt.nn.init), computed as torch.nn.init does. The `_` ones overwrite the
// given tensor in place with values drawn on the host from the seeded global generator (in
// row-major element order), then uploaded; they return the tensor.
//
// Fans, as torch's _calculate_fan_in_and_fan_out: for a weight [out, in, ...kernel],
// receptive = prod(kernel), fan_in = in * receptive, fan_out = out * receptive.
import { checkOptions } from '../backend/options.ts';
import { noGrad } from '../autograd/function.ts';
import { globalGenerator } from '../tensor/random.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { writeArray } from './assign.ts';

/** fan_in and fan_out of a weight [out, in, ...kernel] (torch's _calculate_fan_in_and_fan_out). */
export function calculateFans(t: Tensor): { fanIn: number; fanOut: number } {
  if (t.ndim < 2)
    throw new Error(`init: fan in and fan out need a tensor with at least 2 dimensions, got shape [${t.shape}]`);
  const receptive = t.shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: t.shape[1] * receptive, fanOut: t.shape[0] * receptive };
}

/** The nonlinearities {@link calculateGain} knows. */
export type Nonlinearity = 'linear' | 'conv2d' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu';

/** torch.nn.init.calculate_gain. `param` is leaky_relu's negative slope (default 0.01). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear':
    case 'conv2d':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu': {
      const slope = param ?? 0.01;
      if (typeof slope !== 'number' || !Number.isFinite(slope))
        throw new Error(`calculateGain: negative slope must be a finite number, got ${String(param)}`);
      return Math.sqrt(2 / (1 + slope * slope));
    }
    default:
      throw new Error(`calculateGain: unsupported nonlinearity '${String(nonlinearity)}'`);
  }
}

function checkFloat(op: string, t: Tensor): void {
  t.check(op);
  if (t.dtype === 'int32') throw new Error(`${op}: expected a float tensor, got int32 [${t.shape}]`);
}

function fill(op: string, t: Tensor, f: () => number): Tensor {
  checkFloat(op, t);
  const a = new Float64Array(t.size);
  for (let i = 0; i < a.length; i++) a[i] = f();
  noGrad(() => writeArray(op, t, a));
  return t;
}

/** U(low, high). */
export function uniform_(t: Tensor, low = 0, high = 1): Tensor {
  if (!(Number.isFinite(low) && Number.isFinite(high) && low <= high))
    throw new Error(`uniform_: expected finite low <= high, got ${low}, ${high}`);
  return fill('uniform_', t, () => low + (high - low) * globalGenerator.random());
}

/** N(mean, std^2). */
export function normal_(t: Tensor, mean = 0, std = 1): Tensor {
  if (!(Number.isFinite(mean) && Number.isFinite(std) && std >= 0))
    throw new Error(`normal_: expected finite mean and std >= 0, got ${mean}, ${std}`);
  return fill('normal_', t, () => mean + std * globalGenerator.normal());
}

/** Fill `t` with `value` in place; returns `t`. */
export function constant_(t: Tensor, value: number): Tensor {
  if (typeof value !== 'number') throw new Error(`constant_: value must be a number, got ${typeof value}`);
  return fill('constant_', t, () => value);
}
/** torch.nn.init.eye_: the identity matrix into a 2-D `t` (1 on the diagonal, 0 elsewhere, any
 * rectangular shape); returns `t`. */
export function eye_(t: Tensor): Tensor {
  checkFloat('eye_', t);
  if (t.ndim !== 2) throw new Error(`eye_: expected a 2-D tensor, got shape [${t.shape}]`);
  const [r, c] = t.shape;
  const a = new Float64Array(t.size);
  for (let i = 0; i < Math.min(r, c); i++) a[i * c + i] = 1;
  noGrad(() => writeArray('eye_', t, a));
  return t;
}

/** torch.nn.init.dirac_: a convolution weight [out, in, ...kernel] (3, 4 or 5 dims) that passes its
 * input through: per group g of out/groups output channels, output channel g*out/groups + d takes
 * input channel d at the kernel's centre (index k // 2 in each dim), for d < min(out/groups, in);
 * everything else 0. Returns `t`. */
export function dirac_(t: Tensor, groups = 1): Tensor {
  checkFloat('dirac_', t);
  if (t.ndim < 3 || t.ndim > 5) throw new Error(`dirac_: expected a 3-, 4- or 5-D tensor, got shape [${t.shape}]`);
  if (!Number.isInteger(groups) || groups < 1) throw new Error(`dirac_: groups must be a positive integer, got ${groups}`);
  if (t.shape[0] % groups !== 0) throw new Error(`dirac_: dim 0 (${t.shape[0]}) must be divisible by groups (${groups})`);
  const perGroup = t.shape[0] / groups;
  const kernel = t.shape.slice(2);
  const receptive = kernel.reduce((x, y) => x * y, 1);
  // row-major offset of the kernel's centre
  let centre = 0;
  for (const k of kernel) centre = centre * k + Math.floor(k / 2);
  const a = new Float64Array(t.size);
  for (let g = 0; g < groups; g++)
    for (let d = 0; d < Math.min(perGroup, t.shape[1]); d++) a[((g * perGroup + d) * t.shape[1] + d) * receptive + centre] = 1;
  noGrad(() => writeArray('dirac_', t, a));
  return t;
}

/** Fill `t` with 0 in place; returns `t`. */
export const zeros_ = (t: Tensor): Tensor => constant_(t, 0);
/** Fill `t` with 1 in place; returns `t`. */
export const ones_ = (t: Tensor): Tensor => constant_(t, 1);

/** Glorot uniform: bound = gain * sqrt(6 / (fan_in + fan_out)). */
export function xavierUniform_(t: Tensor, gain = 1): Tensor {
  const { fanIn, fanOut } = calculateFans(t);
  const bound = gain * Math.sqrt(6 / (fanIn + fanOut));
  return uniform_(t, -bound, bound);
}

/** Glorot normal: std = gain * sqrt(2 / (fan_in + fan_out)). */
export function xavierNormal_(t: Tensor, gain = 1): Tensor {
  const { fanIn, fanOut } = calculateFans(t);
  return normal_(t, 0, gain * Math.sqrt(2 / (fanIn + fanOut)));
}

/** Options of the Kaiming (He) initialisers. */
export interface KaimingOptions {
  /** Negative slope of the following leaky ReLU (torch's `a`), default 0. */
  a?: number;
  mode?: 'fan_in' | 'fan_out';
  nonlinearity?: Nonlinearity;
}

function kaimingStd(op: string, t: Tensor, o: KaimingOptions): number {
  checkOptions(op, o, ['a', 'mode', 'nonlinearity']);
  const mode = o.mode ?? 'fan_in';
  if (mode !== 'fan_in' && mode !== 'fan_out') throw new Error(`${op}: mode must be 'fan_in' or 'fan_out', got ${String(mode)}`);
  const { fanIn, fanOut } = calculateFans(t);
  const fan = mode === 'fan_in' ? fanIn : fanOut;
  if (fan === 0) throw new Error(`${op}: cannot initialise a tensor with zero elements, got shape [${t.shape}]`);
  const gain = calculateGain(o.nonlinearity ?? 'leaky_relu', o.a ?? 0);
  return gain / Math.sqrt(fan);
}

/** He uniform: bound = sqrt(3) * gain / sqrt(fan). nn layers use a = sqrt(5) (bound 1/sqrt(fan_in)). */
export function kaimingUniform_(t: Tensor, o: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd('kaimingUniform_', t, o);
  return uniform_(t, -bound, bound);
}

/** He normal: std = gain / sqrt(fan). */
export function kaimingNormal_(t: Tensor, o: KaimingOptions = {}): Tensor {
  return normal_(t, 0, kaimingStd('kaimingNormal_', t, o));
}

/** The default init of torch's Linear and Conv2d (reset_parameters): weight kaiming-uniform with
 * a = sqrt(5), bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
export function defaultLayerInit_(weight: Tensor, bias: Tensor | null): void {
  kaimingUniform_(weight, { a: Math.sqrt(5) });
  if (bias) {
    const { fanIn } = calculateFans(weight);
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    uniform_(bias, -bound, bound);
  }
}
