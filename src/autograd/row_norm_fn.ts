// layerNorm and groupNorm (torch.nn.functional.layer_norm / group_norm): rows normalised
// independently, kernels in src/kernels/row_norm.ts. The forward keeps each row's mean and rstd
// for the backward (only when a backward can follow). Weight / bias gradients: layer norm's from
// layerNormParamGradKernel (row chunks picked by src/policy/norm_choice.ts, partial sums added by
// a reduction), group norm's from the per-channel sums of batch_norm_fn.ts.
import type { Tensor } from '../tensor/tensor.ts';
import { launch, sameDevice } from '../tensor/launch.ts';
import { reduce, requireFloat } from '../tensor/raw.ts';
import { fmt, numel, type Shape } from '../tensor/shape.ts';
import { deviceCaps } from '../backend/device.ts';
import { type RowNormGeom, type RowNormLayout, layerNormColumnGroups, layerNormParamGradKernel, rowNormKernel } from '../kernels/row_norm.ts';
import { layerNormParamChunks, rowNormLayout } from '../policy/norm_choice.ts';
import { channelGradSums } from './batch_norm_fn.ts';
import { Function, isGradEnabled } from './function.ts';

interface RowNormConfig {
  geom: RowNormGeom;
  /** group norm: x [N, C, S] (weight / bias gradients are per-channel sums) */
  channels: { n: number; c: number; s: number } | null;
  /** the weight / bias shape (layer norm: normalizedShape) */
  paramShape: Shape;
  record: boolean;
}

class RowNorm extends Function {
  private mean: Tensor | null = null;
  private rstd: Tensor | null = null;
  constructor(
    readonly name: string,
    readonly cfg: RowNormConfig,
  ) {
    super();
  }

  /** The row layout: the policy's on the GPU (the CPU twin has none). */
  private layout(device: string): RowNormLayout {
    return device === 'gpu' ? rowNormLayout(this.cfg.geom.r, deviceCaps()) : 'group';
  }

  forward(x: Tensor, ...affine: Tensor[]): Tensor {
    const g = { ...this.cfg.geom, layout: this.layout(x.device) };
    const [y, mean, rstd] = launch(rowNormKernel, { ...g, mode: 'fwd' }, [x, ...affine, { shape: x.shape }, { shape: [g.r] }, { shape: [g.r] }]);
    if (this.cfg.record) {
      this.mean = mean;
      this.rstd = rstd;
      this.save(x, ...affine, mean, rstd);
    } else {
      mean.dispose();
      rstd.dispose();
    }
    return y;
  }

  backward(gy: Tensor): (Tensor | null)[] {
    const { channels } = this.cfg;
    const x = this.inputs[0];
    const g = { ...this.cfg.geom, layout: this.layout(x.device) };
    const w = g.weight ? this.inputs[1] : null;
    const needX = this.needsGrad[0];
    const needW = g.weight && this.needsGrad[1];
    const needB = g.bias && this.needsGrad[g.weight ? 2 : 1];
    const mean = this.mean!;
    const rstd = this.rstd!;
    const gx = needX ? launch(rowNormKernel, { ...g, mode: 'bwd' }, [gy, x, mean, rstd, ...(w ? [w] : []), { shape: x.shape }])[0] : null;
    let gw: Tensor | null = null;
    let gb: Tensor | null = null;
    if ((needW || needB) && channels) {
      const [sg, sgx] = channelGradSums(gy, x, mean, rstd, channels, g.eps, 'group', g.groups);
      if (needW) gw = sgx;
      else sgx.dispose();
      if (needB) gb = sg;
      else sg.dispose();
    } else if (needW || needB) [gw, gb] = this.layerParamGrads(gy, x, needW, needB);
    const out: (Tensor | null)[] = [gx];
    if (g.weight) out.push(gw);
    if (g.bias) out.push(gb);
    return out;
  }

  /** Layer norm's dw, db (shaped like the weight) from row chunks of partial sums. */
  private layerParamGrads(gy: Tensor, x: Tensor, needW: boolean, needB: boolean): [Tensor | null, Tensor | null] {
    const { r, d } = this.cfg.geom;
    const chunks = x.device === 'gpu' ? layerNormParamChunks(r, layerNormColumnGroups({ d }, deviceCaps()), deviceCaps()) : 1;
    const part = { shape: [chunks, d] };
    const outs = launch(layerNormParamGradKernel, { r, d, chunks, weight: needW, bias: needB }, [
      gy, x, this.mean!, this.rstd!, ...(needW ? [part] : []), ...(needB ? [part] : []),
    ]);
    const shaped = (t: Tensor) => {
      const total = chunks === 1 ? t : reduce('sum', t, 0);
      const v = total._view(this.cfg.paramShape);
      total.dispose();
      if (total !== t) t.dispose();
      return v;
    };
    const gw = needW ? shaped(outs[0]) : null;
    const gb = needB ? shaped(outs[needW ? 1 : 0]) : null;
    return [gw, gb];
  }

  override release() {
    super.release();
    this.mean?.dispose();
    this.rstd?.dispose();
    this.mean = this.rstd = null;
  }
}

function checkParam(op: string, name: string, t: Tensor | null | undefined, shape: Shape): void {
  if (t === null || t === undefined) return;
  if (typeof t !== 'object' || typeof (t as Tensor).check !== 'function') throw new Error(`${op}: ${name} must be a Tensor or null, got ${typeof t}`);
  if (t.ndim !== shape.length || t.shape.some((d, i) => d !== shape[i]))
    throw new Error(`${op}: expected ${name} of shape ${fmt(shape)}, got ${fmt(t.shape)}`);
}

function checkEps(op: string, eps: unknown): number {
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps < 0) throw new Error(`${op}: expected eps to be a finite number >= 0, got ${String(eps)}`);
  return eps;
}

function run(op: string, x: Tensor, weight: Tensor | null, bias: Tensor | null, cfg: Omit<RowNormConfig, 'record'>): Tensor {
  const affine = [weight, bias].filter((t): t is Tensor => !!t);
  requireFloat(op, x, ...affine);
  sameDevice(op, [x, ...affine]);
  const record = isGradEnabled() && (x.requiresGrad || affine.some((t) => t.requiresGrad));
  return new RowNorm(op, { ...cfg, record }).apply(x, ...affine);
}

/**
 * Layer normalisation like torch.nn.functional.layer_norm: normalise over the trailing dims given
 * by `normalizedShape` (a size or a list of sizes) with the biased variance, then
 * y * weight + bias (both of shape normalizedShape, optional).
 */
export function layerNorm(
  x: Tensor,
  normalizedShape: number | readonly number[],
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  eps = 1e-5,
): Tensor {
  const op = 'layerNorm';
  requireFloat(op, x);
  const ns = typeof normalizedShape === 'number' ? [normalizedShape] : Array.isArray(normalizedShape) ? [...normalizedShape] : null;
  if (!ns || ns.length === 0 || !ns.every((d) => typeof d === 'number' && Number.isInteger(d) && d > 0))
    throw new Error(`${op}: normalizedShape must be a positive integer or a non-empty list of them, got ${JSON.stringify(normalizedShape)}`);
  const lead = x.ndim - ns.length;
  if (lead < 0 || ns.some((d, i) => x.shape[lead + i] !== d))
    throw new Error(`${op}: given normalizedShape ${fmt(ns)}, expected input with shape [*, ${ns.join(', ')}], got ${fmt(x.shape)}`);
  checkParam(op, 'weight', weight, ns);
  checkParam(op, 'bias', bias, ns);
  checkEps(op, eps);
  const d = numel(ns);
  const geom: RowNormGeom = { r: numel(x.shape.slice(0, lead)), d, affine: 'elem', weight: !!weight, bias: !!bias, eps };
  return run(op, x, weight, bias, { geom, channels: null, paramShape: ns });
}

/**
 * Group normalisation like torch.nn.functional.group_norm: x [N, C, *] with C divisible by
 * numGroups; each sample's C / numGroups consecutive channels (with all their positions) are
 * normalised together with the biased variance, then y * weight[c] + bias[c] (both [C], optional).
 */
export function groupNorm(x: Tensor, numGroups: number, weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  const op = 'groupNorm';
  requireFloat(op, x);
  if (x.ndim < 2) throw new Error(`${op}: expected x of shape [N, C, *] (2 or more dims), got ${fmt(x.shape)}`);
  if (typeof numGroups !== 'number' || !Number.isInteger(numGroups) || numGroups <= 0)
    throw new Error(`${op}: numGroups must be a positive integer, got ${String(numGroups)}`);
  const [n, c] = x.shape;
  if (c % numGroups !== 0)
    throw new Error(`${op}: expected the number of channels (${c}) to be divisible by numGroups (${numGroups}), got input of shape ${fmt(x.shape)}`);
  checkParam(op, 'weight', weight, [c]);
  checkParam(op, 'bias', bias, [c]);
  checkEps(op, eps);
  const s = numel(x.shape.slice(2));
  const affine = !!weight || !!bias;
  const geom: RowNormGeom = {
    r: n * numGroups, d: (c / numGroups) * s, affine: affine ? 'chan' : 'elem', weight: !!weight, bias: !!bias, groups: numGroups, s, eps,
  };
  return run(op, x, weight, bias, { geom, channels: { n, c, s }, paramShape: [c] });
}
