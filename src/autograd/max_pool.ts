// max_pool2d: x [B, C, H, W] (or unbatched [C, H, W]) -> [B, C, OH, OW]. The forward records the
// argmax of each window (int32 flat index into the input plane) only when a backward can follow.
import type { Tensor } from '../tensor/tensor.ts';
import { launchRows } from '../tensor/chunked.ts';
import { maxPoolKernel, maxPoolBackwardKernel, maxPoolScatterKernel, scatterClasses, zeroKernel, type PoolGeom } from '../kernels/maxpool.ts';
import { maxPoolLanesBackwardKernel } from '../kernels/maxpool_lanes.ts';
import { maxPoolBackwardChoice } from '../policy/pool_choice.ts';
import { tunedMaxPoolForward } from './tuning_families.ts';
import { deviceCaps } from '../backend/device.ts';
import { Function, isGradEnabled } from './function.ts';
import { type PoolWindowOptions, type Size2, poolOptions, windowGeom } from './pool_args.ts';

/** maxPool2d's options (PyTorch's max_pool2d keywords, dilation 1). */
export type MaxPoolOptions = PoolWindowOptions;

/** dL/dx from dL/dy and the forward's argmax: CPU tensors use the gather twin; GPU tensors the
 * backward src/policy/pool_choice.ts picks for the adapter. */
export function maxPoolBackward(g: Tensor, idx: Tensor, geom: PoolGeom, xShape: readonly number[]): Tensor {
  const choice = g.device === 'cpu' ? 'gather' : maxPoolBackwardChoice(geom, deviceCaps());
  const inPlane = geom.h * geom.w;
  const outPlane = geom.oh * geom.ow;
  // planes split into chunks past the binding limit (chunked.ts)
  const args = (gx: Tensor | { shape: readonly number[] }) => [{ arg: g, perRow: outPlane }, { arg: idx, perRow: outPlane }, { arg: gx, perRow: inPlane }];
  if (choice === 'lanes') return launchRows(maxPoolLanesBackwardKernel, geom, geom.n, planes, args({ shape: xShape }))[0];
  if (choice === 'gather') return launchRows(maxPoolBackwardKernel, geom, geom.n, planes, args({ shape: xShape }))[0];
  const zero = (_p: { n: number }, _first: number, count: number) => ({ n: count * inPlane });
  const gx = launchRows(zeroKernel, { n: geom.n * inPlane }, geom.n, zero, [{ arg: { shape: xShape }, perRow: inPlane }], g.device, g.dtype)[0];
  const [my, mx] = scatterClasses(geom);
  for (let cy = 0; cy < my; cy++) for (let cx = 0; cx < mx; cx++) launchRows(maxPoolScatterKernel, { ...geom, cy, cx }, geom.n, planes, args(gx));
  return gx;
}

/** The kernels' problem for planes [first, first + count). */
const planes = <P extends PoolGeom>(p: P, _first: number, count: number): P => ({ ...p, n: count });

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
    const k = x.device === 'cpu' ? maxPoolKernel : tunedMaxPoolForward(this.geom);
    const { h, w, oh, ow, n } = this.geom;
    const idx = this.record ? [{ arg: { shape: this.outShape, dtype: 'int32' as const }, perRow: oh * ow }] : [];
    const outs = launchRows(k, p, n, planes, [{ arg: x, perRow: h * w }, { arg: { shape: this.outShape }, perRow: oh * ow }, ...idx]);
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
