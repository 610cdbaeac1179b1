// avg_pool2d: x [B, C, H, W] (or unbatched [C, H, W]) -> [B, C, OH, OW]. Forward and backward are
// one kernel each (avgpool.ts); the backward needs only the geometry, so nothing is saved.
import type { Tensor } from '../tensor/tensor.ts';
import { launch } from '../tensor/launch.ts';
import { type AvgPoolParams, avgPoolBackwardKernel, avgPoolKernel } from '../kernels/avgpool.ts';
import { avgPoolBackwardChoice, avgPoolForwardChoice } from '../policy/pool_choice.ts';
import { deviceCaps } from '../backend/device.ts';
import { Function } from './function.ts';
import { type PoolWindowOptions, type Size2, boolOpt, poolOptions, windowGeom } from './pool_args.ts';

/** avgPool2d's options (PyTorch's avg_pool2d keywords). */
export interface AvgPoolOptions extends PoolWindowOptions {
  /** Count the zero padding in the divisor (default true). */
  countIncludePad?: boolean;
  /** Divide every window's sum by this non-zero integer instead (default: none). */
  divisorOverride?: number | null;
}

/** The option keys beyond stride and padding. */
const EXTRA = ['ceilMode', 'countIncludePad', 'divisorOverride'] as const;

class AvgPool2d extends Function {
  name = 'avgPool2d';
  constructor(
    readonly p: AvgPoolParams,
    readonly outShape: number[],
  ) {
    super();
  }
  forward(x: Tensor) {
    // CPU tensors run the twin (one loop); GPU tensors the adapter's variant
    const v = x.device === 'cpu' ? {} : avgPoolForwardChoice(this.p, deviceCaps());
    return launch(avgPoolKernel, { ...this.p, ...v }, [x, { shape: this.outShape }])[0];
  }
  backward(g: Tensor) {
    const v = g.device === 'cpu' ? {} : avgPoolBackwardChoice(this.p, deviceCaps());
    return [launch(avgPoolBackwardKernel, { ...this.p, ...v }, [g, { shape: this.inputs[0].shape }])[0]];
  }
}

/**
 * 2-D average pooling like torch.nn.functional.avg_pool2d: x [B, C, H, W] or [C, H, W].
 * avgPool2d(x, kernelSize, { stride, padding, ceilMode, countIncludePad, divisorOverride }), or
 * PyTorch's positional order avgPool2d(x, kernelSize, stride?, padding?, { ceilMode, ... }).
 * Defaults: stride = kernelSize, padding 0 (at most half the kernel; zeros), ceilMode false (the
 * last window must start inside the input or its left padding), countIncludePad true.
 */
export function avgPool2d(
  x: Tensor,
  kernelSize: Size2,
  stride?: Size2 | null | AvgPoolOptions,
  padding?: Size2,
  options?: Omit<AvgPoolOptions, 'stride' | 'padding'>,
): Tensor {
  const op = 'avgPool2d';
  const o = poolOptions(op, EXTRA, stride, padding, options) as AvgPoolOptions;
  const countIncludePad = boolOpt(op, 'countIncludePad', o.countIncludePad, true);
  const d = o.divisorOverride;
  if (d !== undefined && d !== null && !(typeof d === 'number' && Number.isInteger(d) && d !== 0))
    throw new Error(`${op}: expected divisorOverride to be a non-zero integer or null, got ${JSON.stringify(d)}`);
  const { geom, outShape } = windowGeom(op, x, kernelSize, o);
  return new AvgPool2d({ ...geom, countIncludePad, divisorOverride: d ?? 0 }, outShape).apply(x);
}
