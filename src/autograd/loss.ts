// Classification losses over class indices: crossEntropy (fused log-softmax + weighted NLL with
// label smoothing) and nllLoss (of log-probabilities), PyTorch's semantics (1.13): reduction
// 'mean' | 'sum' | 'none', class weights, ignoreIndex; plus GPU-side training statistics:
// accuracyCount / crossEntropySum / accumulateSum write into a one-element tensor so a training
// loop can accumulate on the device and read back once per epoch.
// Shapes: input [C] with a 0-d label, [N, C] with labels [N], or [N, C, d1, ...] with labels
// [N, d1, ...] (per-pixel classification); 'none' returns the labels' shape.
//
// Bad labels: CPU labels are range-checked before any work. GPU labels cannot be checked without a
// readback, so the kernel marks each out-of-range row: its loss and gradient become NaN (the mean
// loss is NaN) and the kernel writes a fault record that the runtime raises at the next readback
// or sync, naming the op, the label and the class count (src/backend/faults.ts);
// `await crossEntropyLabelErrors()` counts them without raising. Rows labelled ignoreIndex are not
// errors: loss 0, gradient 0, and they leave the mean's denominator.
import type { Tensor } from '../tensor/tensor.ts';
import { launch, type FaultArg } from '../tensor/launch.ts';
import { checkFinite } from '../tensor/numerics_check.ts';
import { full, reduce, requireFloat } from '../tensor/raw.ts';
import { fmt, numel } from '../tensor/shape.ts';
import {
  IGNORE_INDEX, ceForwardKernel, ceBackwardKernel, ceMeanKernel, scalarSumKernel, accuracyKernel, type CeParams,
} from '../kernels/cross_entropy.ts';
import { deviceCaps, isInitialised } from '../backend/device.ts';
import { runtime } from '../backend/webgpu.ts';
import type { FaultSite } from '../backend/faults.ts';
import { crossEntropyLayout } from '../policy/cross_entropy_choice.ts';
import { Function } from './function.ts';
import {
  type Reduction, checkIgnoreIndex, checkLabelSmoothing, checkOptions, checkReduction, checkTensorOption,
} from './loss_options.ts';

export type { Reduction } from './loss_options.ts';

/** The fault record of GPU label checks by `op` (crossEntropy, nllLoss, ...): a label outside
 * [0, C) other than ignoreIndex is raised at the next readback or sync, naming the op. */
const labelSites = new Map<string, FaultSite>();
function labelFault(op: string): FaultArg {
  let site = labelSites.get(op);
  if (!site) {
    site = {
      key: `${op}:label`,
      kind: 'label',
      describe: (r) =>
        `${op}: label ${r.value} for ${r.extra} classes at row ${r.index} ` +
        `(${r.count} row${r.count === 1 ? '' : 's'} with a label outside [0, ${r.extra}); their loss and gradient are NaN)`,
    };
    labelSites.set(op, site);
  }
  return { fault: site };
}

/** How many out-of-range GPU labels crossEntropy / nllLoss / the metrics met since the last call,
 * including those already raised at a readback (reads the fault records back when needed). Label
 * faults read here are counted, not raised. */
export async function crossEntropyLabelErrors(): Promise<number> {
  if (!isInitialised()) return 0;
  return runtime('labelErrors').labelErrors();
}

/** Labels: int32, live, on the input's device; CPU values in [0, c) or equal to ignoreIndex. */
function checkLabelValues(op: string, what: string, x: Tensor, labels: Tensor, c: number, ignoreIndex: number | null): void {
  if (labels.dtype !== 'int32')
    throw new Error(`${op}: expected int32 labels (class indices), got ${labels.dtype} ${fmt(labels.shape)}`);
  if (labels.device !== x.device)
    throw new Error(`${op}: ${what} are on ${x.device} but labels are on ${labels.device}; move them with .to('${x.device}')`);
  if (labels.device === 'cpu') {
    const d = labels.data;
    for (let i = 0; i < d.length; i++)
      if (!(d[i] >= 0 && d[i] < c) && d[i] !== ignoreIndex)
        throw new Error(`${op}: label ${d[i]} at index ${i} is out of range [0, ${c})${ignoreIndex === null ? '' : ` and is not ignoreIndex ${ignoreIndex}`}`);
  }
}

/** Validate logits [B, C] float and labels int32 [B] on one device; returns [B, C]. */
function checkLogitsLabels(op: string, logits: Tensor, labels: Tensor): [number, number] {
  requireFloat(op, logits);
  labels.check(op);
  if (logits.ndim !== 2) throw new Error(`${op}: expected logits of shape [B, C], got ${fmt(logits.shape)}`);
  const [b, c] = logits.shape;
  if (c < 1) throw new Error(`${op}: expected at least one class, got logits ${fmt(logits.shape)}`);
  if (labels.dtype !== 'int32')
    throw new Error(`${op}: expected int32 labels (class indices), got ${labels.dtype} ${fmt(labels.shape)}`);
  if (labels.ndim !== 1 || labels.shape[0] !== b)
    throw new Error(`${op}: expected labels of shape [${b}] for logits ${fmt(logits.shape)}, got ${fmt(labels.shape)}`);
  checkLabelValues(op, 'logits', logits, labels, c, IGNORE_INDEX);
  return [b, c];
}

/** N, C, S of input [C] / [N, C] / [N, C, d1, ...] against labels [] / [N] / [N, d1, ...]. */
interface ClassGeom {
  n: number;
  c: number;
  s: number;
}

function checkClassInputs(op: string, what: string, x: Tensor, labels: Tensor, ignoreIndex: number): ClassGeom {
  requireFloat(op, x);
  labels.check(op);
  const shapes = () => `got ${what} ${fmt(x.shape)} and labels ${fmt(labels.shape)}`;
  if (x.ndim === 0 || (x.ndim === 1 && labels.ndim !== 0))
    throw new Error(`${op}: expected ${what} of shape [B, C] with labels [B] (or [C] with a 0-d label, or [B, C, d1, ...] with labels [B, d1, ...]), ${shapes()}`);
  const c = x.ndim === 1 ? x.shape[0] : x.shape[1];
  if (c < 1) throw new Error(`${op}: expected at least one class, got ${what} ${fmt(x.shape)}`);
  if (labels.dtype !== 'int32')
    throw new Error(`${op}: expected int32 labels (class indices), got ${labels.dtype} ${fmt(labels.shape)}`);
  if (x.ndim >= 2) {
    const want = [x.shape[0], ...x.shape.slice(2)];
    if (labels.ndim !== want.length || labels.shape.some((d, i) => d !== want[i]))
      throw new Error(`${op}: expected labels of shape ${fmt(want)} for ${what} ${fmt(x.shape)}, got ${fmt(labels.shape)}`);
  }
  checkLabelValues(op, what, x, labels, c, ignoreIndex);
  return x.ndim === 1 ? { n: 1, c, s: 1 } : { n: x.shape[0], c, s: numel(x.shape.slice(2)) };
}

interface ClassLossConfig {
  params: CeParams;
  reduction: Reduction;
  /** the loss's shape for 'none' (the labels' shape) */
  rowShape: number[];
}

/** crossEntropy / nllLoss as one Function: inputs (x, labels[, weight]); weight gets no gradient. */
class ClassLoss extends Function {
  readonly name: string;
  private lse: Tensor | null = null;
  private den: Tensor | null = null;
  private wsum: Tensor | null = null;
  constructor(private readonly cfg: ClassLossConfig) {
    super();
    this.name = cfg.params.nll ? 'nllLoss' : 'crossEntropy';
  }
  forward(x: Tensor, labels: Tensor, weight?: Tensor) {
    const { params: p, reduction, rowShape } = this.cfg;
    this.save(...(p.nll ? [] : [x]), labels, ...(weight ? [weight] : []));
    if (p.b * (p.s ?? 1) === 0) {
      // no rows: PyTorch gives NaN for the mean (0 / 0), 0 for the sum, an empty tensor for 'none'
      if (reduction === 'none') return full(rowShape, 0, x.device, x.dtype);
      return full([], reduction === 'mean' ? NaN : 0, x.device, x.dtype);
    }
    if (weight && p.smoothing) this.wsum = reduce('sum', weight);
    const extra = [...(weight ? [weight] : []), ...(this.wsum ? [this.wsum] : [])];
    const outs = launch(ceForwardKernel, p, [
      x, labels, ...extra, ...(p.nll ? [] : [{ shape: rowShape }]), { shape: rowShape }, labelFault(this.name),
    ]);
    const loss = outs.pop()!;
    this.lse = p.nll ? null : outs[0];
    if (reduction === 'none') return this.saveScratch(loss);
    let out: Tensor;
    if (reduction === 'sum') out = launch(scalarSumKernel, { n: loss.size, scale: 1, accumulate: false }, [loss, { shape: [] }])[0];
    else {
      const rows = p.b * (p.s ?? 1);
      const m = launch(ceMeanKernel, { rows, c: p.c, weighted: !!weight, ignoreIndex: p.ignoreIndex }, [
        loss, labels, ...(weight ? [weight] : []), { shape: [] }, { shape: [1] },
      ]);
      out = m[0];
      this.den = m[1];
    }
    loss.dispose();
    return this.saveScratch(out);
  }
  /** The backward's own tensors are saved too, so disposing one (e.g. by a tidy() scope around the
   * forward alone) gives backward's clear error. */
  private saveScratch(out: Tensor): Tensor {
    for (const t of [this.lse, this.den, this.wsum]) if (t) this.save(t);
    return out;
  }
  backward(g: Tensor) {
    const [x, labels, weight] = this.inputs;
    const { params: p, reduction } = this.cfg;
    const none = [null, ...(weight ? [null] : [])];
    if (p.b * (p.s ?? 1) === 0) return [full(x.shape, 0, x.device, x.dtype), ...none];
    const gx = launch(ceBackwardKernel, { ...p, scale: 1, divide: reduction === 'mean', perRow: reduction === 'none' }, [
      ...(p.nll ? [] : [x]), labels, ...(weight ? [weight] : []), ...(this.wsum ? [this.wsum] : []),
      ...(this.lse ? [this.lse] : []), g, ...(this.den ? [this.den] : []), { shape: x.shape, dtype: x.dtype },
    ])[0];
    return [gx, ...none];
  }
  /** Drop the scratch tensors (after backward, or at once when no graph was recorded). */
  override release() {
    super.release();
    for (const t of [this.lse, this.den, this.wsum]) t?.dispose();
    this.lse = this.den = this.wsum = null;
  }
}

/** The forward layout for GPU inputs, from the policy (CPU runs ignore it). */
function withLayout(x: Tensor, p: CeParams): CeParams {
  return x.device === 'gpu' ? { ...p, layout: crossEntropyLayout(p, deviceCaps()) } : p;
}

function runClassLoss(x: Tensor, labels: Tensor, cfg: ClassLossConfig, weight: Tensor | null): Tensor {
  const fn = new ClassLoss(cfg);
  const out = weight ? fn.apply(x, labels, weight) : fn.apply(x, labels);
  if (out._node !== fn) fn.release(); // nothing recorded: the scratch is not needed
  checkFinite(out, `loss:${fn.name}`, () => `${fn.name}'s output (the loss)`);
  return out;
}

function checkClassWeight(op: string, v: unknown, x: Tensor, c: number): Tensor | null {
  const w = checkTensorOption(op, 'weight', v, x);
  if (w && (w.ndim !== 1 || w.shape[0] !== c))
    throw new Error(`${op}: expected weight of shape [${c}] (one per class), got ${fmt(w.shape)}`);
  return w;
}

/** Options of {@link crossEntropy}, as torch.nn.functional.cross_entropy's. */
export interface CrossEntropyOptions {
  /** 'mean' (default: sum of losses / sum of the weights of the rows not ignored), 'sum' or 'none' */
  reduction?: Reduction;
  /** mixes the one-hot target with the uniform distribution: (1 - s) * onehot + s / C; default 0 */
  labelSmoothing?: number;
  /** class weights [C] (no gradient flows to them) */
  weight?: Tensor | null;
  /** rows with this label contribute nothing (default -100) */
  ignoreIndex?: number;
}

export const CE_KEYS = ['reduction', 'labelSmoothing', 'weight', 'ignoreIndex'] as const;

/** Cross entropy of logits [N, C] (or [C], or [N, C, d1, ...]) against int32 class labels [N]
 * (or [], or [N, d1, ...]), as torch.nn.functional.cross_entropy with class-index targets.
 * Default: the mean over the batch (a 0-d result). */
export function crossEntropy(logits: Tensor, labels: Tensor, options?: CrossEntropyOptions): Tensor {
  const op = 'crossEntropy';
  const o = checkOptions(op, options, CE_KEYS);
  const reduction = checkReduction(op, o.reduction);
  const ls = checkLabelSmoothing(op, o.labelSmoothing);
  const ignoreIndex = checkIgnoreIndex(op, o.ignoreIndex);
  const g = checkClassInputs(op, 'logits', logits, labels, ignoreIndex);
  const weight = checkClassWeight(op, o.weight, logits, g.c);
  const params = withLayout(logits, { b: g.n, c: g.c, s: g.s, weighted: !!weight, smoothing: ls, ignoreIndex });
  return runClassLoss(logits, labels, { params, reduction, rowShape: [...labels.shape] }, weight);
}

/** Options of {@link nllLoss}, as torch.nn.functional.nll_loss's. */
export interface NllLossOptions {
  /** 'mean' (default: sum of losses / sum of the weights of the rows not ignored), 'sum' or 'none' */
  reduction?: Reduction;
  /** class weights [C] (no gradient flows to them) */
  weight?: Tensor | null;
  /** rows with this label contribute nothing (default -100) */
  ignoreIndex?: number;
}

export const NLL_KEYS = ['reduction', 'weight', 'ignoreIndex'] as const;

/** Negative log-likelihood of log-probabilities [N, C] (or [C], or [N, C, d1, ...]) at int32 class
 * labels, as torch.nn.functional.nll_loss: loss = -weight[t] * logProbs[t]. */
export function nllLoss(logProbs: Tensor, labels: Tensor, options?: NllLossOptions): Tensor {
  const op = 'nllLoss';
  const o = checkOptions(op, options, NLL_KEYS);
  const reduction = checkReduction(op, o.reduction);
  const ignoreIndex = checkIgnoreIndex(op, o.ignoreIndex);
  const g = checkClassInputs(op, 'log-probabilities', logProbs, labels, ignoreIndex);
  const weight = checkClassWeight(op, o.weight, logProbs, g.c);
  const params = withLayout(logProbs, { b: g.n, c: g.c, s: g.s, nll: true, weighted: !!weight, ignoreIndex });
  return runClassLoss(logProbs, labels, { params, reduction, rowShape: [...labels.shape] }, weight);
}

/** Per-row log-sum-exp and loss, [B] each. */
function rows(logits: Tensor, labels: Tensor, b: number, c: number): [Tensor, Tensor] {
  const outs = launch(ceForwardKernel, withLayout(logits, { b, c }), [logits, labels, { shape: [b] }, { shape: [b] }, labelFault('crossEntropySum')]);
  return [outs[0], outs[1]];
}

/** A one-element float tensor to accumulate into, checked against `like`'s device. */
function checkInto(op: string, into: Tensor, like: Tensor): void {
  requireFloat(op, into);
  if (into.size !== 1) throw new Error(`${op}: expected a one-element accumulator, got ${fmt(into.shape)}`);
  if (into.device !== like.device) throw new Error(`${op}: accumulator is on ${into.device} but the data is on ${like.device}`);
}

/** Number of rows whose argmax (first maximum) equals the label, as a 0-d float tensor; with
 * `into`, added in place to that one-element tensor (which is returned). No gradient. */
export function accuracyCount(logits: Tensor, labels: Tensor, into?: Tensor): Tensor {
  const [b, c] = checkLogitsLabels('accuracyCount', logits, labels);
  if (into) {
    checkInto('accuracyCount', into, logits);
    launch(accuracyKernel, { b, c, accumulate: true }, [logits, labels, into, labelFault('accuracyCount')]);
    return into;
  }
  return launch(accuracyKernel, { b, c, accumulate: false }, [logits, labels, { shape: [] }, labelFault('accuracyCount')])[0];
}

/** Sum (not mean) of the per-example cross entropies, no gradient; with `into`, added in place.
 * Rows labelled -100 add 0. */
export function crossEntropySum(logits: Tensor, labels: Tensor, into?: Tensor): Tensor {
  const [b, c] = checkLogitsLabels('crossEntropySum', logits, labels);
  if (into) checkInto('crossEntropySum', into, logits);
  const [lse, loss] = rows(logits, labels, b, c);
  lse.dispose();
  const r = accumulateSum(into ?? null, loss);
  loss.dispose();
  return r;
}

/** into[0] += scale * sum(x), in place (a new 0-d tensor when `into` is null); no gradient.
 * E.g. `accumulateSum(total, loss.detach(), batch)` keeps a running loss sum on the GPU. */
export function accumulateSum(into: Tensor | null, x: Tensor, scale = 1): Tensor {
  requireFloat('accumulateSum', x);
  if (!Number.isFinite(scale)) throw new Error(`accumulateSum: expected a finite scale, got ${scale}`);
  if (!into) return launch(scalarSumKernel, { n: x.size, scale, accumulate: false }, [x, { shape: [] }])[0];
  checkInto('accumulateSum', into, x);
  if (into.dtype !== x.dtype) throw new Error(`accumulateSum: dtypes differ (${into.dtype} accumulator, ${x.dtype} data)`);
  launch(scalarSumKernel, { n: x.size, scale, accumulate: true }, [x, into]);
  return into;
}
