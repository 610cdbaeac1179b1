// max_pool2d: x [B, C, H, W] (or unbatched [C, H, W]) -> [B, C, OH, OW]. The forward records the
// argmax of each window (int32 flat index into the input plane) only when a backward can follow.
import type { Tensor } from '../tensor/tensor.ts';
import { launch } from '../tensor/launch.ts';
import { maxPoolKernel, maxPoolBackwardKernel, maxPoolScatterKernel, scatterClasses, zeroKernel, type PoolGeom } from '../kernels/maxpool.ts';
import { maxPoolLanesBackwardKernel } from '../kernels/maxpool_lanes.ts';
import { maxPoolBackwardChoice, maxPoolForwardKernel } from '../policy/pool_choice.ts';
import { deviceCaps } from '../backend/device.ts';
import { Function, isGradEnabled } from './function.ts';
import { type PoolWindowOptions, type Size2, poolOptions, windowGeom } from './pool_args.ts';

/** maxPool2d's options (PyTorch's max_pool2d keywords, dilation 1). */
export type MaxPoolOptions = PoolWindowOptions;

/** dL/dx from dL/dy and the forward's argmax: CPU tensors use the gather twin; GPU tensors the
 * backward src/policy/pool_choice.ts picks for the adapter. */
export function maxPoolBackward(g: Tensor, idx: Tensor, geom: PoolGeom, xShape: readonly number[]): Tensor {
  const choice = g.device === 'cpu' ? 'gather' : maxPoolBackwardChoice(geom, deviceCaps());
  if (choice === 'lanes') return launch(maxPoolLanesBackwardKernel, geom, [g, idx, { shape: xShape }])[0];
  if (choice === 'gather') return launch(maxPoolBackwardKernel, geom, [g, idx, { shape: xShape }])[0];
  const gx = launch(zeroKernel, { n: geom.n * geom.h * geom.w }, [{ shape: xShape }], g.device, g.dtype)[0];
  const [my, mx] = scatterClasses(geom);
  for (let cy = 0; cy < my; cy++) for (let cx = 0; cx < mx; cx++) launch(maxPoolScatterKernel, { ...geom, cy, cx }, [g, idx, gx]);
  return gx;
}

class MaxPool2d extends Function {
  name = 'maxPool2d';
  private idx: Tensor | null = null;
  constructor(
    readonly geom: PoolGeom,
    readonly outShape: number[],
    readonly record: boolean,
  ) {
    super();
  }
  forward(x: Tensor) {
    const p = { ...this.geom, withIdx: this.record };
    // CPU tensors run the twin both kernels share
    const k = x.device === 'cpu' ? maxPoolKernel : maxPoolForwardKernel(this.geom, deviceCaps());
    const outs = launch(k, p, [x, { shape: this.outShape }, ...(this.record ? [{ shape: this.outShape, dtype: 'int32' as const }] : [])]);
    if (this.record) {
      this.idx = outs[1];
      this.save(this.idx);
    }
    return outs[0];
  }
  backward(g: Tensor) {
    return [maxPoolBackward(g, this.idx!, this.geom, this.inputs[0].shape)];
  }
  override release() {
    super.release();
    this.idx?.dispose();
    this.idx = null;
  }
}

/**
 * 2-D max pooling like torch.nn.functional.max_pool2d (dilation 1): x [B, C, H, W] or [C, H, W].
 * Either PyTorch's positional order, maxPool2d(x, kernelSize, stride?, padding?, { ceilMode }), or
 * maxPool2d(x, kernelSize, { stride, padding, ceilMode }). `stride` defaults to `kernelSize`;
 * `padding` (at most half the kernel) pads with -infinity; `ceilMode` sizes the output by ceil
 * (the last window must start inside the input or its left padding). Ties pick the first maximum;
 * the gradient goes to that element only.
 */
export function maxPool2d(
  x: Tensor,
  kernelSize: Size2,
  stride?: Size2 | null | MaxPoolOptions,
  padding?: Size2,
  options?: { ceilMode?: boolean },
): Tensor {
  const op = 'maxPool2d';
  const o = poolOptions(op, ['ceilMode'], stride, padding, options) as MaxPoolOptions;
  const { geom, outShape } = windowGeom(op, x, kernelSize, o);
  return new MaxPool2d(geom, outShape, isGradEnabled() && x.requiresGrad).apply(x);
}
