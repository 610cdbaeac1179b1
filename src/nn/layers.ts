// The layers: thin Modules over the kernel-backed functions, with torch's constructor arguments,
// defaults, parameter names and shapes (weights [out, in, kh, kw] / [out, in], bias [out]).
import { empty } from '../tensor/launch.ts';
import { keep } from '../tensor/storage.ts';
import { defaultDevice, type Tensor } from '../tensor/tensor.ts';
import type { Device } from '../tensor/storage.ts';
import { conv2d, dropout, linear, localResponseNorm, maxPool2d, relu } from './functional.ts';
import { defaultLayerInit_ } from './init.ts';
import { Module } from './module.ts';
import { checkOptions } from '../backend/options.ts';

function posInt(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
    throw new Error(`${op}: ${name} must be a positive integer, got ${String(v)}`);
  return v;
}
function nonNegInt(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    throw new Error(`${op}: ${name} must be a non-negative integer, got ${String(v)}`);
  return v;
}
function device(op: string, d: unknown): Device {
  const dev = d ?? defaultDevice();
  if (dev !== 'cpu' && dev !== 'gpu') throw new Error(`${op}: device must be 'cpu' or 'gpu', got ${String(d)}`);
  return dev;
}

/** A float32 leaf that requires grad, kept out of any tidy() scope (it belongs to the module). */
function param(shape: number[], dev: Device, name: string): Tensor {
  const t = keep(empty(shape, 'float32', dev, name));
  t.requiresGrad = true;
  t.name = name;
  return t;
}

/** Options shared by the layers with parameters. */
export interface LayerOptions {
  /** Add a learnable bias (default true). */
  bias?: boolean;
  /** Where the parameters live (default: the GPU once init() has run). */
  device?: Device;
}

type Pair = [number, number];
/** A size given as one number (both axes) or [height, width]. */
export type Size2 = number | readonly [number, number];

function pair(op: string, name: string, v: Size2, check: (op: string, name: string, v: unknown) => number): Pair {
  if (typeof v === 'number' || !Array.isArray(v)) return [check(op, name, v), check(op, name, v)];
  if (v.length !== 2) throw new Error(`${op}: ${name} must be a number or a [height, width] pair, got [${v}]`);
  return [check(op, name, v[0]), check(op, name, v[1])];
}
const fmtPair = (p: Pair) => (p[0] === p[1] ? `${p[0]}` : `(${p[0]}, ${p[1]})`);

/** Options of {@link Conv2d}, as torch.nn.Conv2d's keyword arguments (plus `bias` and `device`). */
export interface Conv2dLayerOptions extends LayerOptions {
  /** Step of the window per axis (default 1). */
  stride?: Size2;
  /** Zero padding per axis (default 0). */
  padding?: Size2;
  /** Spacing between kernel taps (default 1). */
  dilation?: Size2;
  /** Channel groups: inChannels and outChannels are multiples of it (default 1; = inChannels: depthwise). */
  groups?: number;
}
const CONV2D_OPTIONS = ['stride', 'padding', 'dilation', 'groups', 'bias', 'device'] as const;

/** 2-D convolution: x [B, in, H, W] -> [B, out, H', W']; sizes are a number or [h, w]. weight
 * [out, in / groups, kh, kw], bias [out] (torch.nn.Conv2d). */
export class Conv2d extends Module {
  weight: Tensor;
  bias: Tensor | null;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: Pair;
  readonly stride: Pair;
  readonly padding: Pair;
  readonly dilation: Pair;
  readonly groups: number;

  constructor(inChannels: number, outChannels: number, kernelSize: Size2, o: Conv2dLayerOptions = {}) {
    super();
    if (o === null || typeof o !== 'object' || Array.isArray(o))
      throw new Error(`Conv2d: expected an options object { ${CONV2D_OPTIONS.join(', ')} }, got ${Array.isArray(o) ? 'an array' : String(o)}`);
    for (const k of Object.keys(o))
      if (!(CONV2D_OPTIONS as readonly string[]).includes(k))
        throw new Error(`Conv2d: unknown option '${k}' (accepted: ${CONV2D_OPTIONS.join(', ')})`);
    this.inChannels = posInt('Conv2d', 'inChannels', inChannels);
    this.outChannels = posInt('Conv2d', 'outChannels', outChannels);
    this.kernelSize = pair('Conv2d', 'kernelSize', kernelSize, posInt);
    this.stride = pair('Conv2d', 'stride', o.stride ?? 1, posInt);
    this.padding = pair('Conv2d', 'padding', o.padding ?? 0, nonNegInt);
    this.dilation = pair('Conv2d', 'dilation', o.dilation ?? 1, posInt);
    this.groups = posInt('Conv2d', 'groups', o.groups ?? 1);
    if (inChannels % this.groups !== 0)
      throw new Error(`Conv2d: inChannels must be divisible by groups, got inChannels ${inChannels} and groups ${this.groups}`);
    if (outChannels % this.groups !== 0)
      throw new Error(`Conv2d: outChannels must be divisible by groups, got outChannels ${outChannels} and groups ${this.groups}`);
    const dev = device('Conv2d', o.device);
    this.weight = param([outChannels, inChannels / this.groups, ...this.kernelSize], dev, 'weight');
    this.bias = (o.bias ?? true) ? param([outChannels], dev, 'bias') : null;
    defaultLayerInit_(this.weight, this.bias);
  }

  private options(relu: boolean) {
    return { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups, relu };
  }
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.options(false));
  }
  /** conv followed by ReLU in one kernel (Sequential uses this for Conv2d, ReLU pairs). */
  forwardRelu(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.options(true));
  }
  protected override extraRepr(): string {
    const dil = this.dilation[0] === 1 && this.dilation[1] === 1 ? '' : `, dilation=${fmtPair(this.dilation)}`;
    return `${this.inChannels}, ${this.outChannels}, kernelSize=${fmtPair(this.kernelSize)}, stride=${fmtPair(this.stride)}, ` +
      `padding=${fmtPair(this.padding)}${dil}${this.groups === 1 ? '' : `, groups=${this.groups}`}${this.bias ? '' : ', bias=false'}`;
  }
}

/** y = x @ weight^T + bias; x [B, in] -> [B, out]. */
export class Linear extends Module {
  weight: Tensor;
  bias: Tensor | null;
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(inFeatures: number, outFeatures: number, options?: LayerOptions) {
    super();
    const o = checkOptions('Linear', options, ['bias', 'device']) as LayerOptions;
    this.inFeatures = posInt('Linear', 'inFeatures', inFeatures);
    this.outFeatures = posInt('Linear', 'outFeatures', outFeatures);
    const dev = device('Linear', o.device);
    this.weight = param([outFeatures, inFeatures], dev, 'weight');
    this.bias = (o.bias ?? true) ? param([outFeatures], dev, 'bias') : null;
    defaultLayerInit_(this.weight, this.bias);
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
  protected override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}${this.bias ? '' : ', bias=false'}`;
  }
}

/** Max pooling over kernelSize windows; stride defaults to kernelSize (as torch); sizes are a
 * number or [h, w]; padding (at most half the kernel) pads with -infinity; `ceilMode` sizes the
 * output by ceil (torch's ceil_mode). */
export class MaxPool2d extends Module {
  readonly kernelSize: Pair;
  readonly stride: Pair;
  readonly padding: Pair;
  readonly ceilMode: boolean;
  constructor(kernelSize: Size2, stride?: Size2 | null, padding: Size2 = 0, options?: { ceilMode?: boolean }) {
    super();
    this.kernelSize = pair('MaxPool2d', 'kernelSize', kernelSize, posInt);
    this.stride = stride === undefined || stride === null ? this.kernelSize : pair('MaxPool2d', 'stride', stride, posInt);
    this.padding = pair('MaxPool2d', 'padding', padding, nonNegInt);
    if (this.padding.some((p, i) => p * 2 > this.kernelSize[i]))
      throw new Error(`MaxPool2d: padding must be at most half of kernelSize, got padding ${fmtPair(this.padding)} for kernelSize ${fmtPair(this.kernelSize)}`);
    const o = checkOptions('MaxPool2d', options, ['ceilMode']) as { ceilMode?: boolean };
    if (o.ceilMode !== undefined && typeof o.ceilMode !== 'boolean') throw new Error(`MaxPool2d: ceilMode must be a boolean, got ${String(o.ceilMode)}`);
    this.ceilMode = o.ceilMode ?? false;
  }
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernelSize, this.stride, this.padding, { ceilMode: this.ceilMode });
  }
  protected override extraRepr(): string {
    return `kernelSize=${fmtPair(this.kernelSize)}, stride=${fmtPair(this.stride)}, padding=${fmtPair(this.padding)}${this.ceilMode ? ', ceilMode=true' : ''}`;
  }
}

/** max(x, 0), elementwise. */
export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

/** Zeroes each element with probability p while training and scales the rest by 1/(1-p);
 * `new Dropout(0.2)` or `new Dropout({ p: 0.2 })`. */
export class Dropout extends Module {
  readonly p: number;
  constructor(p: number | { p?: number } = 0.5) {
    super();
    if (typeof p === 'object') p = (checkOptions('Dropout', p, ['p']) as { p?: number }).p ?? 0.5;
    if (typeof p !== 'number' || !(p >= 0 && p < 1)) throw new Error(`Dropout: p must be in [0, 1), got ${String(p)}`);
    this.p = p;
  }
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training);
  }
  protected override extraRepr(): string {
    return `p=${this.p}`;
  }
}

/** Flattens dims startDim..endDim (default 1..-1: keeps the batch dimension). */
export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
    for (const [n, v] of [['startDim', startDim], ['endDim', endDim]] as const)
      if (!Number.isInteger(v)) throw new Error(`Flatten: ${n} must be an integer, got ${String(v)}`);
  }
  forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
  }
}

/** Across-channel LRN: x / (k + alpha/size * sum of squares over `size` neighbouring channels)^beta. */
export class LocalResponseNorm extends Module {
  readonly size: number;
  readonly alpha: number;
  readonly beta: number;
  readonly k: number;
  constructor(size: number, alpha = 1e-4, beta = 0.75, k = 1) {
    super();
    this.size = posInt('LocalResponseNorm', 'size', size);
    for (const [n, v] of [['alpha', alpha], ['beta', beta], ['k', k]] as const)
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`LocalResponseNorm: ${n} must be a finite number, got ${String(v)}`);
    this.alpha = alpha;
    this.beta = beta;
    this.k = k;
  }
  forward(x: Tensor): Tensor {
    return localResponseNorm(x, this.size, this.alpha, this.beta, this.k);
  }
  protected override extraRepr(): string {
    return `${this.size}, alpha=${this.alpha}, beta=${this.beta}, k=${this.k}`;
  }
}
