// Cross entropy (fused log-softmax + NLL, mean over the batch) and GPU-side training statistics:
// accuracyCount / crossEntropySum / accumulateSum write into a one-element tensor so a training loop
// can accumulate on the device and read back once per epoch.
//
// Bad labels: CPU labels are range-checked before any work. GPU labels cannot be checked without a
// readback, so the kernel marks each out-of-range row: its loss and gradient become NaN (the mean
// loss is NaN) and a device-side counter is incremented; `await crossEntropyLabelErrors()` reads
// and resets that counter.
import type { Tensor } from '../tensor/tensor.ts';
import { fromArray, launch } from '../tensor/launch.ts';
import { requireFloat } from '../tensor/raw.ts';
import { fmt } from '../tensor/shape.ts';
import { keep } from '../tensor/storage.ts';
import { ceForwardKernel, ceBackwardKernel, scalarSumKernel, accuracyKernel } from '../kernels/cross_entropy.ts';
import { Function } from './function.ts';

/** Device-side count of out-of-range GPU labels seen by crossEntropy (int32 [1]); lazily made. */
let gpuFlag: Tensor | null = null;

function flagFor(device: 'cpu' | 'gpu'): Tensor | { shape: number[]; dtype: 'int32' } {
  if (device === 'cpu') return { shape: [1], dtype: 'int32' };
  if (!gpuFlag || gpuFlag.isDisposed) gpuFlag = keep(fromArray(new Int32Array(1), [1], 'int32', 'gpu'));
  return gpuFlag;
}

/** How many out-of-range labels GPU crossEntropy calls have met since the last call (a readback). */
export async function crossEntropyLabelErrors(): Promise<number> {
  if (!gpuFlag || gpuFlag.isDisposed) return 0;
  const f = gpuFlag;
  gpuFlag = null;
  const n = (await f.toArray())[0];
  f.dispose();
  return n;
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
  if (labels.device !== logits.device)
    throw new Error(`${op}: logits are on ${logits.device} but labels are on ${labels.device}; move them with .to('${logits.device}')`);
  if (labels.device === 'cpu') {
    const d = labels.data;
    for (let i = 0; i < d.length; i++)
      if (!(d[i] >= 0 && d[i] < c)) throw new Error(`${op}: label ${d[i]} at index ${i} is out of range [0, ${c})`);
  }
  return [b, c];
}

/** Per-row log-sum-exp and loss, [B] each. */
function rows(logits: Tensor, labels: Tensor, b: number, c: number): [Tensor, Tensor] {
  const outs = launch(ceForwardKernel, { b, c }, [logits, labels, { shape: [b] }, { shape: [b] }, flagFor(logits.device)]);
  if (outs[2]) outs[2].dispose(); // the CPU run's scratch flag
  return [outs[0], outs[1]];
}

class CrossEntropy extends Function {
  name = 'crossEntropy';
  private lse: Tensor | null = null;
  forward(logits: Tensor, labels: Tensor) {
    const [b, c] = logits.shape;
    const [lse, loss] = rows(logits, labels, b, c);
    const out = launch(scalarSumKernel, { n: b, scale: 1 / b, accumulate: false }, [loss, { shape: [] }])[0];
    loss.dispose();
    this.lse = lse;
    this.save(logits, labels, lse);
    return out;
  }
  backward(g: Tensor) {
    const [logits, labels] = this.inputs;
    const [b, c] = logits.shape;
    const gx = launch(ceBackwardKernel, { b, c, scale: 1 / b }, [logits, labels, this.lse!, g, { shape: logits.shape }])[0];
    return [gx, null];
  }
  override release() {
    super.release();
    this.lse?.dispose();
    this.lse = null;
  }
}

/** Mean cross entropy of logits [B, C] against int32 class labels [B] (0-d result). */
export function crossEntropy(logits: Tensor, labels: Tensor): Tensor {
  const [b] = checkLogitsLabels('crossEntropy', logits, labels);
  if (b === 0) throw new Error(`crossEntropy: expected a non-empty batch, got logits ${fmt(logits.shape)}`);
  return new CrossEntropy().apply(logits, labels);
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
    launch(accuracyKernel, { b, c, accumulate: true }, [logits, labels, into]);
    return into;
  }
  return launch(accuracyKernel, { b, c, accumulate: false }, [logits, labels, { shape: [] }])[0];
}

/** Sum (not mean) of the per-example cross entropies, no gradient; with `into`, added in place. */
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
