// Pooling layers beyond MaxPool2d (layers.ts): thin Modules over the pooling functions with
// torch's constructor arguments and defaults. No parameters or buffers (empty state dict, as torch).
import type { Tensor } from '../tensor/tensor.ts';
import { type AvgPoolOptions, avgPool2d } from '../autograd/avg_pool.ts';
import { adaptiveAvgPool2d, adaptiveMaxPool2d } from '../autograd/adaptive_pool2d.ts';
import { type OutputSize2, type Size2, adaptiveOut, boolOpt, pair, poolOptions } from '../autograd/pool_args.ts';
import { Module } from './module.ts';

type Pair = [number, number];
const fmtPair = (p: readonly (number | null)[]) => (p[0] === p[1] ? `${p[0]}` : `(${p[0]}, ${p[1]})`);

/**
 * Average pooling, torch.nn.AvgPool2d: new AvgPool2d(kernelSize, stride?, padding?, { ceilMode,
 * countIncludePad, divisorOverride }) or new AvgPool2d(kernelSize, { stride, padding, ceilMode,
 * countIncludePad, divisorOverride }). Defaults: stride = kernelSize, padding 0, ceilMode false,
 * countIncludePad true, no divisorOverride.
 */
export class AvgPool2d extends Module {
  readonly kernelSize: Pair;
  readonly stride: Pair;
  readonly padding: Pair;
  readonly ceilMode: boolean;
  readonly countIncludePad: boolean;
  readonly divisorOverride: number | null;
  constructor(
    kernelSize: Size2,
    stride?: Size2 | null | AvgPoolOptions,
    padding?: Size2,
    options?: Omit<AvgPoolOptions, 'stride' | 'padding'>,
  ) {
    super();
    const op = 'AvgPool2d';
    const o = poolOptions(op, ['ceilMode', 'countIncludePad', 'divisorOverride'], stride, padding, options) as AvgPoolOptions;
    this.kernelSize = pair(op, 'kernelSize', kernelSize, 1);
    this.stride = o.stride === undefined || o.stride === null ? this.kernelSize : pair(op, 'stride', o.stride, 1);
    this.padding = pair(op, 'padding', o.padding ?? 0, 0);
    if (this.padding.some((p, i) => p * 2 > this.kernelSize[i]))
      throw new Error(`${op}: padding ${fmtPair(this.padding)} must be at most half the kernel size ${fmtPair(this.kernelSize)}`);
    this.ceilMode = boolOpt(op, 'ceilMode', o.ceilMode, false);
    this.countIncludePad = boolOpt(op, 'countIncludePad', o.countIncludePad, true);
    const d = o.divisorOverride ?? null;
    if (d !== null && !(typeof d === 'number' && Number.isInteger(d) && d !== 0))
      throw new Error(`${op}: expected divisorOverride to be a non-zero integer or null, got ${JSON.stringify(d)}`);
    this.divisorOverride = d;
  }
  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.kernelSize, {
      stride: this.stride,
      padding: this.padding,
      ceilMode: this.ceilMode,
      countIncludePad: this.countIncludePad,
      divisorOverride: this.divisorOverride,
    });
  }
  protected override extraRepr(): string {
    return (
      `kernelSize=${fmtPair(this.kernelSize)}, stride=${fmtPair(this.stride)}, padding=${fmtPair(this.padding)}` +
      `${this.ceilMode ? ', ceilMode=true' : ''}${this.countIncludePad ? '' : ', countIncludePad=false'}` +
      `${this.divisorOverride === null ? '' : `, divisorOverride=${this.divisorOverride}`}`
    );
  }
}

/** The checked output size of an adaptive layer (null entries kept: they follow the input). */
function outputSizeOf(op: string, v: OutputSize2): [number | null, number | null] {
  // check the entries with a stand-in input size, keep the caller's nulls
  adaptiveOut(op, v, 1, 1);
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

/** Adaptive average pooling to a fixed output size, torch.nn.AdaptiveAvgPool2d: a number or
 * [oh, ow] (null keeps that input size). AdaptiveAvgPool2d(1) is global average pooling. */
export class AdaptiveAvgPool2d extends Module {
  readonly outputSize: [number | null, number | null];
  constructor(outputSize: OutputSize2) {
    super();
    this.outputSize = outputSizeOf('AdaptiveAvgPool2d', outputSize);
  }
  forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, this.outputSize);
  }
  protected override extraRepr(): string {
    return `outputSize=${fmtPair(this.outputSize)}`;
  }
}

/** Adaptive max pooling to a fixed output size, torch.nn.AdaptiveMaxPool2d (no returnIndices). */
export class AdaptiveMaxPool2d extends Module {
  readonly outputSize: [number | null, number | null];
  constructor(outputSize: OutputSize2) {
    super();
    this.outputSize = outputSizeOf('AdaptiveMaxPool2d', outputSize);
  }
  forward(x: Tensor): Tensor {
    return adaptiveMaxPool2d(x, this.outputSize);
  }
  protected override extraRepr(): string {
    return `outputSize=${fmtPair(this.outputSize)}`;
  }
}
