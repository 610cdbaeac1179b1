// Dropout with a Philox-4x32-10 mask generated on the device (src/kernels/dropout.ts). Each call
// draws a 64-bit key from the global generator, so `manualSeed` + the same call sequence reproduces
// the masks; the backward regenerates the same mask from the key (nothing is stored).
import type { Tensor } from '../tensor/tensor.ts';
import { launch } from '../tensor/launch.ts';
import { requireFloat } from '../tensor/raw.ts';
import { globalGenerator } from '../tensor/random.ts';
import { dropoutKernel, dropThreshold, type DropoutParams } from '../kernels/dropout.ts';
import { Function } from './function.ts';
import { checkOptions } from '../backend/options.ts';
import { Reshape } from './shape_ops.ts';

class Dropout extends Function {
  name = 'dropout';
  constructor(readonly p: Omit<DropoutParams, 'n'>) {
    super();
  }
  forward(x: Tensor) {
    return launch(dropoutKernel, { ...this.p, n: x.size }, [x, { shape: x.shape }])[0];
  }
  backward(g: Tensor) {
    return [launch(dropoutKernel, { ...this.p, n: g.size }, [g, { shape: g.shape }])[0]];
  }
}

/** Options of {@link dropout}'s object form (torch.nn.functional.dropout's defaults). */
export interface DropoutOptions {
  /** Probability of zeroing an element (default 0.5). */
  p?: number;
  /** Apply the mask (default true); false is the identity. */
  training?: boolean;
}

/**
 * Zero each element with probability p and scale the rest by 1/(1-p) when training; otherwise (or
 * when p == 0) the identity (a view sharing x's storage, gradients pass through).
 * `dropout(x, p, training)` or `dropout(x, { p, training })`.
 */
export function dropout(x: Tensor, p: number, training: boolean): Tensor;
export function dropout(x: Tensor, options?: DropoutOptions): Tensor;
export function dropout(x: Tensor, pOrOptions?: number | DropoutOptions, trainingArg?: boolean): Tensor {
  let p = pOrOptions;
  let training = trainingArg;
  if (typeof pOrOptions !== 'number') {
    const o = checkOptions('dropout', pOrOptions, ['p', 'training']) as DropoutOptions;
    p = o.p ?? 0.5;
    training = o.training ?? true;
    if (typeof training !== 'boolean') throw new Error(`dropout: training must be a boolean, got ${String(training)}`);
  }
  requireFloat('dropout', x);
  if (typeof p !== 'number' || !(p >= 0 && p < 1)) throw new Error(`dropout: expected p in [0, 1), got ${p}`);
  if (!training || p === 0) return new Reshape(x.shape).apply(x);
  const seedLo = globalGenerator.nextU32();
  const seedHi = globalGenerator.nextU32();
  return new Dropout({ seedLo, seedHi, threshold: dropThreshold(p), scale: 1 / (1 - p) }).apply(x);
}
