// Normalisation layers with torch's constructor arguments, defaults, parameter and buffer names:
// BatchNorm1d / BatchNorm2d (weight, bias, running_mean, running_var, num_batches_tracked),
// LayerNorm (weight, bias of normalizedShape), GroupNorm (weight, bias [C]). Weights start at one,
// biases at zero. num_batches_tracked is an int32 scalar here (torch's is int64; save with
// { int32As: 'I64' }, as checkpoints do, to write torch's dtype).
import { full } from '../tensor/raw.ts';
import { keep } from '../tensor/storage.ts';
import { defaultDevice, type Tensor } from '../tensor/tensor.ts';
import type { Device } from '../tensor/storage.ts';
import { noGrad } from '../autograd/function.ts';
import { batchNorm } from '../autograd/batch_norm_fn.ts';
import { groupNorm, layerNorm } from '../autograd/row_norm_fn.ts';
import { fmt } from '../tensor/shape.ts';
import { Module } from './module.ts';
import { checkOptions } from '../backend/options.ts';


function posInt(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new Error(`${op}: ${name} must be a positive integer, got ${String(v)}`);
  return v;
}
function bool(op: string, name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new Error(`${op}: ${name} must be a boolean, got ${String(v)}`);
  return v;
}
function eps(op: string, v: unknown): number {
  if (v === undefined) return 1e-5;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`${op}: eps must be a finite number >= 0, got ${String(v)}`);
  return v;
}
function deviceOf(op: string, d: unknown): Device {
  const dev = d ?? defaultDevice();
  if (dev !== 'cpu' && dev !== 'gpu') throw new Error(`${op}: device must be 'cpu' or 'gpu', got ${String(d)}`);
  return dev;
}

/** A float32 tensor filled with `value`, kept out of tidy() scopes; a parameter when `grad`. */
function filled(shape: readonly number[], value: number, dev: Device, name: string, grad: boolean): Tensor {
  const t = keep(full(shape, value, dev));
  if (grad) t.requiresGrad = true;
  t.name = name;
  return t;
}

/** Overwrite every element of `t` with `v` in place (call under noGrad for parameters). */
function fill(t: Tensor, v: number): void {
  const src = full(t.shape, v, t.device, t.dtype);
  t.copy_(src);
  src.dispose();
}

/** Options of {@link BatchNorm1d} and {@link BatchNorm2d}, as torch.nn.BatchNorm2d's. */
export interface BatchNormOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Weight of the new batch statistic in the running average (default 0.1); null: the
   * cumulative average over all batches seen (1 / num_batches_tracked). */
  momentum?: number | null;
  /** Learnable weight and bias (default true). */
  affine?: boolean;
  /** Keep running statistics for eval (default true); false: batch statistics in eval too, and
   * no buffers. */
  trackRunningStats?: boolean;
  /** Where parameters and buffers live (default: the GPU once init() has run). */
  device?: Device;
}

const BN_KEYS = ['eps', 'momentum', 'affine', 'trackRunningStats', 'device'] as const;

/** Batch normalisation (the shared part of BatchNorm1d / BatchNorm2d). */
abstract class BatchNormBase extends Module {
  weight: Tensor | null;
  bias: Tensor | null;
  declare running_mean: Tensor | null;
  declare running_var: Tensor | null;
  declare num_batches_tracked: Tensor | null;
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;

  constructor(op: string, numFeatures: number, o: BatchNormOptions = {}) {
    super();
    checkOptions(op, o, BN_KEYS);
    this.numFeatures = posInt(op, 'numFeatures', numFeatures);
    this.eps = eps(op, o.eps);
    const m = o.momentum === undefined ? 0.1 : o.momentum;
    if (m !== null && (typeof m !== 'number' || !Number.isFinite(m)))
      throw new Error(`${op}: momentum must be a finite number or null, got ${String(m)}`);
    this.momentum = m;
    this.affine = bool(op, 'affine', o.affine, true);
    this.trackRunningStats = bool(op, 'trackRunningStats', o.trackRunningStats, true);
    const dev = deviceOf(op, o.device);
    const c = [numFeatures];
    this.weight = this.affine ? filled(c, 1, dev, 'weight', true) : null;
    this.bias = this.affine ? filled(c, 0, dev, 'bias', true) : null;
    const track = this.trackRunningStats;
    this.registerBuffer('running_mean', track ? full(c, 0, dev) : null);
    this.registerBuffer('running_var', track ? full(c, 1, dev) : null);
    this.registerBuffer('num_batches_tracked', track ? full([], 0, dev, 'int32') : null);
  }

  /** Reject inputs of the wrong rank (BatchNorm1d: 2-D or 3-D; BatchNorm2d: 4-D). */
  protected abstract checkInput(x: Tensor): void;

  forward(x: Tensor): Tensor {
    this.checkInput(x);
    const tracking = this.training && this.trackRunningStats;
    // training, or no running statistics: batch statistics (torch's bn_training)
    const batchStats = this.training || (!this.running_mean && !this.running_var);
    const useRunning = !this.training || this.trackRunningStats;
    return batchNorm(
      x,
      useRunning ? this.running_mean : null,
      useRunning ? this.running_var : null,
      this.weight,
      this.bias,
      batchStats,
      this.momentum,
      this.eps,
      tracking ? this.num_batches_tracked : null,
    );
  }

  /** Running statistics back to mean 0, variance 1, zero batches. */
  resetRunningStats(): void {
    noGrad(() => {
      for (const [t, v] of [[this.running_mean, 0], [this.running_var, 1], [this.num_batches_tracked, 0]] as const) if (t) fill(t, v);
    });
  }

  /** Running statistics reset; weight to one and bias to zero. */
  resetParameters(): void {
    this.resetRunningStats();
    noGrad(() => {
      if (this.weight) fill(this.weight, 1);
      if (this.bias) fill(this.bias, 0);
    });
  }

  protected override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}, affine=${this.affine}, trackRunningStats=${this.trackRunningStats}`;
  }
}

/** Batch normalisation over [N, C] or [N, C, L] inputs, statistics per channel C = numFeatures. */
export class BatchNorm1d extends BatchNormBase {
  constructor(numFeatures: number, o: BatchNormOptions = {}) {
    super('BatchNorm1d', numFeatures, o);
  }
  protected checkInput(x: Tensor): void {
    if (x.ndim !== 2 && x.ndim !== 3) throw new Error(`BatchNorm1d: expected 2D or 3D input (got ${x.ndim}D input ${fmt(x.shape)})`);
  }
}

/** Batch normalisation over [N, C, H, W] inputs, statistics per channel C = numFeatures. */
export class BatchNorm2d extends BatchNormBase {
  constructor(numFeatures: number, o: BatchNormOptions = {}) {
    super('BatchNorm2d', numFeatures, o);
  }
  protected checkInput(x: Tensor): void {
    if (x.ndim !== 4) throw new Error(`BatchNorm2d: expected 4D input (got ${x.ndim}D input ${fmt(x.shape)})`);
  }
}

/** Options of {@link LayerNorm}, as torch.nn.LayerNorm's. */
export interface LayerNormOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Learnable weight and bias of normalizedShape (default true). */
  elementwiseAffine?: boolean;
  /** Where the parameters live (default: the GPU once init() has run). */
  device?: Device;
}

/** Layer normalisation over the trailing dims `normalizedShape` (a size or a list of sizes). */
export class LayerNorm extends Module {
  weight: Tensor | null;
  bias: Tensor | null;
  readonly normalizedShape: number[];
  readonly eps: number;
  readonly elementwiseAffine: boolean;

  constructor(normalizedShape: number | readonly number[], o: LayerNormOptions = {}) {
    super();
    const op = 'LayerNorm';
    checkOptions(op, o, ['eps', 'elementwiseAffine', 'device']);
    const ns = typeof normalizedShape === 'number' ? [normalizedShape] : Array.isArray(normalizedShape) ? [...normalizedShape] : [];
    if (!ns.length) throw new Error(`${op}: normalizedShape must be a positive integer or a non-empty list of them, got ${JSON.stringify(normalizedShape)}`);
    ns.forEach((d) => posInt(op, 'normalizedShape', d));
    this.normalizedShape = ns;
    this.eps = eps(op, o.eps);
    this.elementwiseAffine = bool(op, 'elementwiseAffine', o.elementwiseAffine, true);
    const dev = deviceOf(op, o.device);
    this.weight = this.elementwiseAffine ? filled(ns, 1, dev, 'weight', true) : null;
    this.bias = this.elementwiseAffine ? filled(ns, 0, dev, 'bias', true) : null;
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }
  protected override extraRepr(): string {
    return `[${this.normalizedShape.join(', ')}], eps=${this.eps}, elementwiseAffine=${this.elementwiseAffine}`;
  }
}

/** Options of {@link GroupNorm}, as torch.nn.GroupNorm's. */
export interface GroupNormOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Learnable per-channel weight and bias (default true). */
  affine?: boolean;
  /** Where the parameters live (default: the GPU once init() has run). */
  device?: Device;
}

/** Group normalisation of [N, C, *] inputs: numChannels split into numGroups groups. */
export class GroupNorm extends Module {
  weight: Tensor | null;
  bias: Tensor | null;
  readonly numGroups: number;
  readonly numChannels: number;
  readonly eps: number;
  readonly affine: boolean;

  constructor(numGroups: number, numChannels: number, o: GroupNormOptions = {}) {
    super();
    const op = 'GroupNorm';
    checkOptions(op, o, ['eps', 'affine', 'device']);
    this.numGroups = posInt(op, 'numGroups', numGroups);
    this.numChannels = posInt(op, 'numChannels', numChannels);
    if (numChannels % numGroups !== 0)
      throw new Error(`${op}: numChannels must be divisible by numGroups, got numChannels ${numChannels} and numGroups ${numGroups}`);
    this.eps = eps(op, o.eps);
    this.affine = bool(op, 'affine', o.affine, true);
    const dev = deviceOf(op, o.device);
    this.weight = this.affine ? filled([numChannels], 1, dev, 'weight', true) : null;
    this.bias = this.affine ? filled([numChannels], 0, dev, 'bias', true) : null;
  }

  forward(x: Tensor): Tensor {
    if (x.ndim >= 2 && x.shape[1] !== this.numChannels)
      throw new Error(`GroupNorm: expected ${this.numChannels} channels, got input of shape ${fmt(x.shape)}`);
    return groupNorm(x, this.numGroups, this.weight, this.bias, this.eps);
  }
  protected override extraRepr(): string {
    return `${this.numGroups}, ${this.numChannels}, eps=${this.eps}, affine=${this.affine}`;
  }
}
