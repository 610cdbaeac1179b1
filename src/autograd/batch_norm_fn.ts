// batchNorm (torch.nn.functional.batch_norm): x [N, C, *], statistics per channel. Kernels and
// formulas in src/kernels/channel_stats.ts (per-channel reductions) and src/kernels/batch_norm.ts
// (the streaming pass); how the reductions split their work in src/policy/norm_choice.ts. The forward keeps the batch mean and invstd [C] for the backward (only
// when a backward can follow); running statistics and the step counter are updated in place on
// the device, never read back.
import type { Tensor } from '../tensor/tensor.ts';
import { launch, sameDevice } from '../tensor/launch.ts';
import { requireFloat } from '../tensor/raw.ts';
import { fmt } from '../tensor/shape.ts';
import { deviceCaps } from '../backend/device.ts';
import {
  type ChannelGeom, type ChannelWalk, type RunningUpdate, batchNormStatsKernel, batchNormStatsMergeKernel, channelGradSumsKernel,
  channelSumsMergeKernel,
} from '../kernels/channel_stats.ts';
import { batchNormKernel } from '../kernels/batch_norm.ts';
import { channelReducePlan } from '../policy/norm_choice.ts';
import { Function, isGradEnabled } from './function.ts';

/** Walk and chunks per channel of the reductions: the policy's on the GPU, one chunk on the CPU. */
function planFor(g: ChannelGeom, device: string): { walk: ChannelWalk; chunks: number } {
  return device === 'gpu' ? channelReducePlan(g, deviceCaps()) : { walk: 'rows', chunks: 1 };
}

/** Batch statistics: mean, invstd [C]; running statistics updated in place when given. */
function batchStats(
  x: Tensor,
  g: ChannelGeom,
  eps: number,
  running: { mean: Tensor; var: Tensor; update: RunningUpdate; momentum: number; nbt: Tensor | null } | null,
): [Tensor, Tensor] {
  const { walk, chunks } = planFor(g, x.device);
  const update: RunningUpdate = running?.update ?? 'none';
  const fin = { eps, update, momentum: running?.momentum ?? 0 };
  const runArgs = running ? [running.mean, running.var, ...(update === 'cumulative' ? [running.nbt!] : [])] : [];
  const stat = { shape: [g.c] };
  if (chunks === 1) {
    const [mean, invstd] = launch(batchNormStatsKernel, { ...g, ...fin, walk, chunks }, [x, stat, stat, ...runArgs]);
    return [mean, invstd];
  }
  const part = launch(batchNormStatsKernel, { ...g, ...fin, update: 'none', walk, chunks }, [x, { shape: [g.c, chunks, 3] }])[0];
  const [mean, invstd] = launch(batchNormStatsMergeKernel, { c: g.c, chunks, ...fin }, [part, stat, stat, ...runArgs]);
  part.dispose();
  return [mean, invstd];
}

/** Per channel [sum(g), sum(g * xhat)] for xhat from (mean, stat) as `mode` says. */
export function channelGradSums(
  gy: Tensor,
  x: Tensor,
  mean: Tensor,
  stat: Tensor,
  g: ChannelGeom,
  eps: number,
  mode: 'invstd' | 'var' | 'group',
  groups = 1,
): [Tensor, Tensor] {
  const { walk, chunks } = planFor(g, x.device);
  const p = { ...g, walk, chunks, eps, stat: mode, groups };
  const out = { shape: [g.c] };
  if (chunks === 1) {
    const [sg, sgx] = launch(channelGradSumsKernel, p, [gy, x, mean, stat, out, out]);
    return [sg, sgx];
  }
  const part = launch(channelGradSumsKernel, p, [gy, x, mean, stat, { shape: [g.c, chunks, 2] }])[0];
  const [sg, sgx] = launch(channelSumsMergeKernel, { c: g.c, chunks }, [part, out, out]);
  part.dispose();
  return [sg, sgx];
}

interface BnConfig {
  geom: ChannelGeom;
  training: boolean;
  eps: number;
  momentum: number | null;
  runningMean: Tensor | null;
  runningVar: Tensor | null;
  nbt: Tensor | null;
  hasWeight: boolean;
  hasBias: boolean;
  record: boolean;
}

class BatchNorm extends Function {
  name = 'batchNorm';
  /** batch mean and invstd (training) kept for the backward */
  private mean: Tensor | null = null;
  private invstd: Tensor | null = null;
  constructor(readonly cfg: BnConfig) {
    super();
  }

  forward(x: Tensor, ...affine: Tensor[]): Tensor {
    const { geom, eps, training } = this.cfg;
    const w = this.cfg.hasWeight ? affine[0] : null;
    const b = this.cfg.hasBias ? affine[this.cfg.hasWeight ? 1 : 0] : null;
    const wb = [...(w ? [w] : []), ...(b ? [b] : [])];
    const base = { ...geom, eps, weight: !!w, bias: !!b };
    if (!training) {
      const rm = this.cfg.runningMean!;
      const rv = this.cfg.runningVar!;
      const y = launch(batchNormKernel, { ...base, mode: 'fwd', stat: 'var', count: false }, [x, rm, rv, ...wb, { shape: x.shape }])[0];
      if (this.cfg.record) this.save(x, rm, rv, ...wb);
      return y;
    }
    const { runningMean: rm, runningVar: rv, momentum, nbt } = this.cfg;
    const running = rm && rv ? { mean: rm, var: rv, update: (momentum === null ? 'cumulative' : 'momentum') as RunningUpdate, momentum: momentum ?? 0, nbt } : null;
    const [mean, invstd] = batchStats(x, geom, eps, running);
    const count = !!nbt;
    const y = launch(batchNormKernel, { ...base, mode: 'fwd', stat: 'invstd', count }, [x, mean, invstd, ...wb, { shape: x.shape }, ...(nbt ? [nbt] : [])])[0];
    if (this.cfg.record) {
      this.mean = mean;
      this.invstd = invstd;
      this.save(x, mean, invstd, ...wb);
    } else {
      mean.dispose();
      invstd.dispose();
    }
    return y;
  }

  backward(gy: Tensor): (Tensor | null)[] {
    const { geom, eps, training, hasWeight, hasBias } = this.cfg;
    const x = this.inputs[0];
    const w = hasWeight ? this.inputs[1] : null;
    const [needX, needW, needB] = [this.needsGrad[0], hasWeight && this.needsGrad[1], hasBias && this.needsGrad[hasWeight ? 2 : 1]];
    const base = { ...geom, eps, weight: !!w, bias: false, stat: 'invstd' as const, count: false };
    let gx: Tensor | null = null;
    let sg: Tensor | null = null;
    let sgx: Tensor | null = null;
    if (training) {
      [sg, sgx] = channelGradSums(gy, x, this.mean!, this.invstd!, geom, eps, 'invstd');
      if (needX) gx = launch(batchNormKernel, { ...base, mode: 'bwd' }, [gy, x, this.mean!, this.invstd!, ...(w ? [w] : []), sg, sgx, { shape: x.shape }])[0];
    } else {
      const rm = this.cfg.runningMean!;
      const rv = this.cfg.runningVar!;
      if (needW || needB) [sg, sgx] = channelGradSums(gy, x, rm, rv, geom, eps, 'var');
      if (needX) gx = launch(batchNormKernel, { ...base, mode: 'bwdEval' }, [gy, rv, ...(w ? [w] : []), { shape: x.shape }])[0];
    }
    const gw = needW ? sgx : null;
    const gb = needB ? sg : null;
    if (sgx && !needW) sgx.dispose();
    if (sg && !needB) sg.dispose();
    const out: (Tensor | null)[] = [gx];
    if (hasWeight) out.push(gw);
    if (hasBias) out.push(gb);
    return out;
  }

  override release() {
    super.release();
    this.mean?.dispose();
    this.invstd?.dispose();
    this.mean = this.invstd = null;
  }
}

function checkChannelVector(op: string, name: string, t: Tensor | null | undefined, c: number): void {
  if (t === null || t === undefined) return;
  if (typeof t !== 'object' || typeof (t as Tensor).check !== 'function') throw new Error(`${op}: ${name} must be a Tensor or null, got ${typeof t}`);
  if (t.ndim !== 1 || t.shape[0] !== c) throw new Error(`${op}: expected ${name} of shape [${c}] (one per channel), got ${fmt(t.shape)}`);
}

function finiteNumber(op: string, name: string, v: unknown, min = -Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min)
    throw new Error(`${op}: expected ${name} to be a finite number${min > -Infinity ? ` >= ${min}` : ''}, got ${String(v)}`);
  return v;
}

/**
 * Batch normalisation like torch.nn.functional.batch_norm, for x [N, C, *] ([N, C], [N, C, L],
 * [N, C, H, W], ...). training: normalise with the batch mean and biased variance per channel and,
 * when runningMean / runningVar [C] are given, update them in place:
 * running = (1 - momentum) * running + momentum * stat (the unbiased variance for runningVar).
 * Not training: normalise with runningMean / runningVar (required). weight / bias [C] are optional
 * (null: no affine). momentum null uses the cumulative average 1 / numBatchesTracked, for which
 * `numBatchesTracked` (an int32 scalar, BatchNorm's `num_batches_tracked`) must be given; when
 * given in training it is incremented on the device (BatchNorm modules pass theirs).
 */
export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  training = false,
  momentum: number | null = 0.1,
  eps = 1e-5,
  numBatchesTracked: Tensor | null = null,
): Tensor {
  const op = 'batchNorm';
  requireFloat(op, x);
  if (x.ndim < 2) throw new Error(`${op}: expected x of shape [N, C, *] (2 or more dims), got ${fmt(x.shape)}`);
  if (typeof training !== 'boolean') throw new Error(`${op}: expected training to be a boolean, got ${String(training)}`);
  const [n, c] = x.shape;
  const s = x.shape.slice(2).reduce((a, d) => a * d, 1);
  for (const [name, t] of [['runningMean', runningMean], ['runningVar', runningVar], ['weight', weight], ['bias', bias]] as const)
    checkChannelVector(op, name, t, c);
  const floats = [x, runningMean, runningVar, weight, bias].filter((t): t is Tensor => !!t);
  requireFloat(op, ...floats);
  if ((runningMean === null) !== (runningVar === null))
    throw new Error(`${op}: runningMean and runningVar must both be given or both be null`);
  for (const [name, t] of [['runningMean', runningMean], ['runningVar', runningVar]] as const)
    if (t?.requiresGrad) throw new Error(`${op}: ${name} must not require grad (it is a buffer updated in place)`);
  if (momentum !== null) finiteNumber(op, 'momentum', momentum);
  finiteNumber(op, 'eps', eps, 0);
  if (numBatchesTracked !== null) {
    numBatchesTracked.check(op);
    if (numBatchesTracked.dtype !== 'int32' || numBatchesTracked.size !== 1)
      throw new Error(`${op}: expected numBatchesTracked to be an int32 scalar, got ${numBatchesTracked.describe()}`);
  }
  sameDevice(op, [...floats, ...(numBatchesTracked ? [numBatchesTracked] : [])]);
  if (!training && !runningMean)
    throw new Error(`${op}: runningMean and runningVar are required when not training (training = false uses the running statistics)`);
  if (training) {
    if (n * s === 1) throw new Error(`${op}: expected more than 1 value per channel when training, got input of shape ${fmt(x.shape)}`);
    if (n * s === 0) throw new Error(`${op}: expected a non-empty batch when training, got input of shape ${fmt(x.shape)}`);
    if (momentum === null && runningMean && !numBatchesTracked)
      throw new Error(`${op}: momentum null (cumulative average) needs numBatchesTracked`);
  }
  const affine = [weight, bias].filter((t): t is Tensor => !!t);
  const record = isGradEnabled() && (x.requiresGrad || affine.some((t) => t.requiresGrad));
  const cfg: BnConfig = {
    geom: { n, c, s }, training, eps, momentum, runningMean, runningVar, nbt: training ? numBatchesTracked : null,
    hasWeight: !!weight, hasBias: !!bias, record,
  };
  return new BatchNorm(cfg).apply(x, ...affine);
}
