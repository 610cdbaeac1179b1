// mseLoss, l1Loss and binaryCrossEntropyWithLogits: PyTorch's functional losses over two
// same-shaped tensors, each one fused forward (per-element loss, or per-workgroup partial sums
// reduced by one more small dispatch) and one fused backward (src/kernels/elementwise_loss.ts).
// reduction 'mean' (default) | 'sum' | 'none'. BCE's weight and posWeight broadcast to the input's
// shape (e.g. posWeight [C] against [N, C]); they are constants here: no gradient flows to them.
import { checkFinite } from '../tensor/numerics_check.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { launch } from '../tensor/launch.ts';
import { broadcastTo, full, requireFloat } from '../tensor/raw.ts';
import { broadcastShapes, fmt, sameShape } from '../tensor/shape.ts';
import { deviceCaps } from '../backend/device.ts';
import { BASELINE_CAPS } from '../kernels/kernel.ts';
import {
  type ElementwiseLossOp, type ElementwiseLossParams, elementwiseLossBackwardKernel, elementwiseLossGroups, elementwiseLossKernel,
} from '../kernels/elementwise_loss.ts';
import { scalarSumKernel } from '../kernels/cross_entropy.ts';
import { Function } from './function.ts';
import { type Reduction, checkOptions, checkReduction, checkTensorOption } from './loss_options.ts';

export type { Reduction } from './loss_options.ts';

/** A weight bound as a flat buffer read at index i % size (the caller owns `own`). */
interface BoundWeight {
  t: Tensor;
  /** a broadcast copy made here (disposed with the Function) */
  own: boolean;
}

class ElementwiseLoss extends Function {
  readonly name: string;
  constructor(
    name: string,
    private readonly op: ElementwiseLossOp,
    private readonly reduction: Reduction,
    private readonly w: BoundWeight | null,
    private readonly pw: BoundWeight | null,
  ) {
    super();
    this.name = name;
  }
  private params(n: number): Omit<ElementwiseLossParams, 'out'> {
    return { op: this.op, n, wn: this.w?.t.size ?? 0, pn: this.pw?.t.size ?? 0 };
  }
  private weights(): Tensor[] {
    return [...(this.w ? [this.w.t] : []), ...(this.pw ? [this.pw.t] : [])];
  }
  forward(a: Tensor, b: Tensor) {
    this.save(a, b, ...this.weights());
    const n = a.size;
    if (n === 0) {
      if (this.reduction === 'none') return full(a.shape, 0, a.device, a.dtype);
      return full([], this.reduction === 'mean' ? NaN : 0, a.device, a.dtype); // PyTorch: mean of nothing is NaN
    }
    if (this.reduction === 'none')
      return launch(elementwiseLossKernel, { ...this.params(n), out: 'none' }, [a, b, ...this.weights(), { shape: a.shape }])[0];
    const p: ElementwiseLossParams = { ...this.params(n), out: 'partial' };
    const groups = elementwiseLossGroups(p, a.device === 'gpu' ? deviceCaps() : BASELINE_CAPS);
    const part = launch(elementwiseLossKernel, p, [a, b, ...this.weights(), { shape: [groups] }])[0];
    const scale = this.reduction === 'mean' ? 1 / n : 1;
    const out = launch(scalarSumKernel, { n: groups, scale, accumulate: false }, [part, { shape: [] }])[0];
    part.dispose();
    return out;
  }
  backward(g: Tensor) {
    const [a, b] = this.inputs;
    const [ga, gb] = this.needsGrad;
    if (a.size === 0) return [ga ? full(a.shape, 0, a.device, a.dtype) : null, gb ? full(b.shape, 0, b.device, b.dtype) : null];
    const p = {
      ...this.params(a.size), scale: this.reduction === 'mean' ? 1 / a.size : 1, perElement: this.reduction === 'none', ga, gb,
    };
    const outs = launch(elementwiseLossBackwardKernel, p, [
      a, b, ...this.weights(), g, ...(ga ? [{ shape: a.shape }] : []), ...(gb ? [{ shape: b.shape }] : []),
    ]);
    return [ga ? outs[0] : null, gb ? outs[ga ? 1 : 0] : null];
  }
  override release() {
    super.release();
    for (const w of [this.w, this.pw]) if (w?.own) w.t.dispose();
  }
}

/** Two float tensors of one shape, dtype and device. */
function checkPair(op: string, a: Tensor, b: Tensor): void {
  requireFloat(op, a, b);
  if (!sameShape(a.shape, b.shape)) throw new Error(`${op}: shapes ${fmt(a.shape)} and ${fmt(b.shape)} differ`);
  if (a.device !== b.device)
    throw new Error(`${op}: tensors are on different devices (${a.device} and ${b.device}); move them with .to('${a.device}')`);
}

function run(name: string, op: ElementwiseLossOp, a: Tensor, b: Tensor, reduction: Reduction, w: BoundWeight | null, pw: BoundWeight | null): Tensor {
  const fn = new ElementwiseLoss(name, op, reduction, w, pw);
  const out = fn.apply(a, b);
  if (out._node !== fn) fn.release(); // nothing recorded: drop the broadcast weight copies
  checkFinite(out, `loss:${name}`, () => `${name}'s output (the loss)`);
  return out;
}

/** Options of {@link mseLoss} and {@link l1Loss}. */
export interface ElementwiseLossOptions {
  /** 'mean' (default), 'sum' or 'none' (the per-element losses) */
  reduction?: Reduction;
}

export const REDUCTION_ONLY = ['reduction'] as const;

/** Mean squared error (a - b)^2 over same-shaped tensors, as torch.nn.functional.mse_loss. */
export function mseLoss(a: Tensor, b: Tensor, options?: ElementwiseLossOptions): Tensor {
  const o = checkOptions('mseLoss', options, REDUCTION_ONLY);
  const reduction = checkReduction('mseLoss', o.reduction);
  checkPair('mseLoss', a, b);
  return run('mseLoss', 'mse', a, b, reduction, null, null);
}

/** Mean absolute error |a - b| over same-shaped tensors, as torch.nn.functional.l1_loss
 * (gradient sign(a - b), 0 where a == b). */
export function l1Loss(a: Tensor, b: Tensor, options?: ElementwiseLossOptions): Tensor {
  const o = checkOptions('l1Loss', options, REDUCTION_ONLY);
  const reduction = checkReduction('l1Loss', o.reduction);
  checkPair('l1Loss', a, b);
  return run('l1Loss', 'l1', a, b, reduction, null, null);
}

/** Options of {@link binaryCrossEntropyWithLogits}, as torch.nn.functional.binary_cross_entropy_with_logits. */
export interface BceWithLogitsOptions {
  /** 'mean' (default), 'sum' or 'none' */
  reduction?: Reduction;
  /** rescales each element's loss; broadcasts to the logits' shape (no gradient) */
  weight?: Tensor | null;
  /** weight of the positive term, usually [C] against [N, C]; broadcasts to the logits' shape (no gradient) */
  posWeight?: Tensor | null;
}

export const BCE_KEYS = ['reduction', 'weight', 'posWeight'] as const;

/** A weight option that broadcasts to the logits' shape (checked before any GPU work). */
function checkWeight(op: string, name: string, v: unknown, x: Tensor): Tensor | null {
  const w = checkTensorOption(op, name, v, x);
  if (!w) return null;
  let out: number[];
  try {
    out = broadcastShapes(op, w.shape, x.shape);
  } catch {
    out = [];
  }
  if (!sameShape(out, x.shape))
    throw new Error(`${op}: ${name} of shape ${fmt(w.shape)} does not broadcast to the logits' shape ${fmt(x.shape)}`);
  return w;
}

/** Bound as-is when the weight matches the trailing axes (read at i % size), else as a broadcast copy. */
function bindWeight(w: Tensor | null, x: Tensor): BoundWeight | null {
  if (!w) return null;
  const lead = w.shape.findIndex((d) => d !== 1);
  const core = lead < 0 ? [] : w.shape.slice(lead);
  if (sameShape(core, x.shape.slice(x.ndim - core.length))) return { t: w, own: false };
  return { t: broadcastTo(w, x.shape), own: true };
}

/** Binary cross entropy on logits, as torch.nn.functional.binary_cross_entropy_with_logits:
 * weight * [(1 - t) x + (1 + (posWeight - 1) t) log(1 + exp(-x))], computed stably as
 * max(x, 0) - x t + log1p(exp(-|x|)) without posWeight. Gradients flow to logits and targets. */
export function binaryCrossEntropyWithLogits(logits: Tensor, targets: Tensor, options?: BceWithLogitsOptions): Tensor {
  const op = 'binaryCrossEntropyWithLogits';
  const o = checkOptions(op, options, BCE_KEYS);
  const reduction = checkReduction(op, o.reduction);
  requireFloat(op, logits, targets);
  if (!sameShape(logits.shape, targets.shape))
    throw new Error(`${op}: targets of shape ${fmt(targets.shape)} must have the logits' shape ${fmt(logits.shape)}`);
  checkPair(op, logits, targets);
  const w = checkWeight(op, 'weight', o.weight, logits);
  const pw = checkWeight(op, 'posWeight', o.posWeight, logits);
  return run(op, 'bce', logits, targets, reduction, bindWeight(w, logits), bindWeight(pw, logits));
}
