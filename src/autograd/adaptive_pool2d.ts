// adaptive_avg_pool2d / adaptive_max_pool2d: x [B, C, H, W] (or unbatched [C, H, W]) ->
// [B, C, OH, OW] for any output size. A 1 x 1 average (global average pooling) runs the
// one-reduction-per-plane kernels of global_avgpool.ts; sizes that divide evenly run as window pools
// (avg_pool.ts / max_pool.ts, see src/policy/pool_choice.ts), and so does a max pool whose bins
// are evenly spaced windows of one size (13 -> 6: 3 x 3, stride 2); average pools on software
// adapters run streamed over packed plane groups (adaptive_avg_stream.ts) where they can, else
// narrow ones by rows (adaptive_avg_rows.ts); everything else adaptive_pool.ts.
import type { Tensor } from '../tensor/tensor.ts';
import { launch } from '../tensor/launch.ts';
import { type AdaptivePoolParams, adaptiveAvgGradScaleKernel, adaptivePoolBackwardKernel, adaptivePoolKernel } from '../kernels/adaptive_pool.ts';
import { globalAvgPoolBackwardKernel, globalAvgPoolKernel } from '../kernels/global_avgpool.ts';
import { BASELINE_CAPS } from '../kernels/kernel.ts';
import { ADAPTIVE_ROWS_PER_LANE, adaptiveAsWindow, adaptiveAvgByRows, adaptiveAvgStream, adaptiveMaxWindow, globalAvgPoolBackwardGeom, globalAvgPoolGeom } from '../policy/pool_choice.ts';
import { adaptiveAvgRowsBackwardKernel, adaptiveAvgRowsKernel } from '../kernels/adaptive_avg_rows.ts';
import { adaptiveAvgStreamBackwardKernel, adaptiveAvgStreamKernel } from '../kernels/adaptive_avg_stream.ts';
import { deviceCaps } from '../backend/device.ts';
import { fmt } from '../tensor/shape.ts';
import { Function, isGradEnabled } from './function.ts';
import { type OutputSize2, adaptiveOut, planesOf } from './pool_args.ts';
import { avgPool2d } from './avg_pool.ts';
import { maxPool2d } from './max_pool.ts';

/** dL/dx of an adaptive pool from dL/dy (`idx`: the forward's argmax, max only): global average
 * pooling's broadcast; or g divided by the bin sizes, then the gather over the bins (avg); or the
 * gather of g where the argmax is each input (max). */
export function adaptivePoolBackward(g: Tensor, idx: Tensor | null, p: AdaptivePoolParams, xShape: readonly number[]): Tensor {
  if (p.op === 'max') {
    if (!idx) throw new Error('adaptiveMaxPool2d backward: the forward recorded no argmax');
    return launch(adaptivePoolBackwardKernel, p, [g, idx, { shape: xShape }])[0];
  }
  if (p.oh === 1 && p.ow === 1) {
    const geom = g.device !== 'cpu' ? globalAvgPoolBackwardGeom(p.n, p.h, p.w, deviceCaps()) : {};
    return launch(globalAvgPoolBackwardKernel, { n: p.n, h: p.h, w: p.w, ...geom }, [g, { shape: xShape }])[0];
  }
  const geom = { n: p.n, h: p.h, w: p.w, oh: p.oh, ow: p.ow };
  const stream = g.device !== 'cpu' ? adaptiveAvgStream(geom, deviceCaps()) : null;
  if (stream) return launch(adaptiveAvgStreamBackwardKernel, stream, [g, { shape: xShape }])[0];
  const r = { ...geom, perLane: ADAPTIVE_ROWS_PER_LANE };
  if (g.device !== 'cpu' && adaptiveAvgByRows(r, deviceCaps())) return launch(adaptiveAvgRowsBackwardKernel, r, [g, { shape: xShape }])[0];
  const gs = launch(adaptiveAvgGradScaleKernel, p, [g, { shape: g.shape }])[0];
  const gx = launch(adaptivePoolBackwardKernel, p, [gs, { shape: xShape }])[0];
  gs.dispose();
  return gx;
}

class AdaptiveAvgPool2d extends Function {
  name = 'adaptiveAvgPool2d';
  constructor(
    readonly p: AdaptivePoolParams,
    readonly outShape: number[],
  ) {
    super();
  }
  forward(x: Tensor) {
    const { n, h, w, oh, ow } = this.p;
    if (oh === 1 && ow === 1) {
      // the plane count decides nothing on the CPU (the twin is one loop), so any caps serve there
      const caps = x.device === 'cpu' ? BASELINE_CAPS : deviceCaps();
      return launch(globalAvgPoolKernel, { n, h, w, ...globalAvgPoolGeom(n, h, w, caps) }, [x, { shape: this.outShape }])[0];
    }
    const stream = x.device !== 'cpu' ? adaptiveAvgStream({ n, h, w, oh, ow }, deviceCaps()) : null;
    if (stream) return launch(adaptiveAvgStreamKernel, stream, [x, { shape: this.outShape }])[0];
    const r = { n, h, w, oh, ow, perLane: ADAPTIVE_ROWS_PER_LANE };
    if (x.device !== 'cpu' && adaptiveAvgByRows(r, deviceCaps())) return launch(adaptiveAvgRowsKernel, r, [x, { shape: this.outShape }])[0];
    return launch(adaptivePoolKernel, this.p, [x, { shape: this.outShape }])[0];
  }
  backward(g: Tensor) {
    return [adaptivePoolBackward(g, null, this.p, this.inputs[0].shape)];
  }
}

class AdaptiveMaxPool2d extends Function {
  name = 'adaptiveMaxPool2d';
  private idx: Tensor | null = null;
  constructor(
    readonly p: AdaptivePoolParams,
    readonly outShape: number[],
  ) {
    super();
  }
  forward(x: Tensor) {
    const record = !!this.p.withIdx;
    const outs = launch(adaptivePoolKernel, this.p, [x, { shape: this.outShape }, ...(record ? [{ shape: this.outShape, dtype: 'int32' as const }] : [])]);
    if (record) {
      this.idx = outs[1];
      this.save(this.idx);
    }
    return outs[0];
  }
  backward(g: Tensor) {
    return [adaptivePoolBackward(g, this.idx, this.p, this.inputs[0].shape)];
  }
  override release() {
    super.release();
    this.idx?.dispose();
    this.idx = null;
  }
}

function adaptiveGeom(op: string, x: Tensor, outputSize: unknown) {
  const { lead, n, h, w } = planesOf(op, x);
  if (h < 1 || w < 1) throw new Error(`${op}: expected a non-empty input plane, got x ${fmt(x.shape)}`);
  const [oh, ow] = adaptiveOut(op, outputSize, h, w);
  return { geom: { n, h, w, oh, ow }, outShape: [...lead, oh, ow] };
}

/**
 * Adaptive average pooling like torch.nn.functional.adaptive_avg_pool2d: x [B, C, H, W] or
 * [C, H, W] -> [..., OH, OW]; output row i averages input rows [floor(i H / OH), ceil((i+1) H / OH)),
 * columns likewise. Any output size, larger than the input too; `outputSize` is a number or
 * [oh, ow] (null keeps that input size). [1, 1] is global average pooling (its own fast kernel).
 */
export function adaptiveAvgPool2d(x: Tensor, outputSize: OutputSize2): Tensor {
  const { geom, outShape } = adaptiveGeom('adaptiveAvgPool2d', x, outputSize);
  const { h, w, oh, ow } = geom;
  if (!(oh === 1 && ow === 1) && adaptiveAsWindow(h, w, oh, ow)) return avgPool2d(x, [h / oh, w / ow]);
  return new AdaptiveAvgPool2d({ op: 'avg', ...geom }, outShape).apply(x);
}

/**
 * Adaptive max pooling like torch.nn.functional.adaptive_max_pool2d (without return_indices):
 * bins as adaptiveAvgPool2d. NaN propagates; ties pick the first maximum in row-major order, and
 * the gradient goes to that element only.
 */
export function adaptiveMaxPool2d(x: Tensor, outputSize: OutputSize2): Tensor {
  const { geom, outShape } = adaptiveGeom('adaptiveMaxPool2d', x, outputSize);
  const { h, w, oh, ow } = geom;
  const win = adaptiveMaxWindow(h, w, oh, ow);
  if (win) return maxPool2d(x, [win.kh, win.kw], [win.sh, win.sw]);
  return new AdaptiveMaxPool2d({ op: 'max', ...geom, withIdx: isGradEnabled() && x.requiresGrad }, outShape).apply(x);
}
