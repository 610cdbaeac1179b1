// wt.nn.utils.clipGradNorm_: torch.nn.utils.clip_grad_norm_ (PyTorch 1.13) without a readback.
// The total norm of all gradients (as if concatenated) is reduced on the device: one partial-sum
// dispatch per gradient into a shared partials buffer, one single-workgroup dispatch that writes
// the norm and coef = min(1, maxNorm / (norm + 1e-6)), then one in-place scale dispatch per
// gradient that reads coef from the buffer (gradients are always multiplied, as torch does, so no
// branch needs the value on the host).
import { deviceCaps } from '../backend/device.ts';
import { BASELINE_CAPS } from '../kernels/kernel.ts';
import {
  gradNormFinishKernel, gradNormPartialKernel, gradNormSlots, gradScaleKernel, normOrd,
} from '../kernels/grad_norm.ts';
import { streamGeom } from '../kernels/stream.ts';
import { full } from '../tensor/creation.ts';
import { launch } from '../tensor/launch.ts';
import { defaultDevice, Tensor } from '../tensor/tensor.ts';

/**
 * Scale the gradients of `params` in place so that their total `normType`-norm is at most
 * `maxNorm`; returns the total norm before clipping as a 0-d tensor (on the gradients' device).
 * `normType`: any p > 0, or Infinity / 'inf' for the max-norm. Parameters without a gradient are
 * skipped; with none at all the result is 0.
 */
export function clipGradNorm_(params: Tensor | Iterable<Tensor>, maxNorm: number, normType: number | 'inf' = 2): Tensor {
  const op = 'clipGradNorm_';
  if (!(params instanceof Tensor) && (params == null || typeof (params as Iterable<unknown>)[Symbol.iterator] !== 'function'))
    throw new Error(`${op}: params must be a Tensor or an iterable of Tensors, got ${String(params)}`);
  if (typeof maxNorm !== 'number' || Number.isNaN(maxNorm) || maxNorm < 0)
    throw new Error(`${op}: maxNorm must be a number >= 0, got ${String(maxNorm)}`);
  const p = normType === 'inf' ? Infinity : normType;
  if (typeof p !== 'number' || !(p > 0)) throw new Error(`${op}: normType must be a number > 0 or Infinity ('inf'), got ${String(normType)}`);
  const list = params instanceof Tensor ? [params] : [...params];
  const grads: Tensor[] = [];
  list.forEach((t, i) => {
    if (!(t instanceof Tensor)) throw new Error(`${op}: parameter ${i} is not a Tensor, got ${typeof t}`);
    t.check(op);
    const g = t.requiresGrad ? t.grad : null;
    if (g) grads.push(g.check(op));
  });
  const device = grads[0]?.device ?? list[0]?.device ?? defaultDevice();
  const dtype = grads[0]?.dtype ?? 'float32';
  grads.forEach((g) => {
    if (g.device !== device) throw new Error(`${op}: gradients are on different devices (${device} and ${g.device})`);
    if (g.dtype !== dtype) throw new Error(`${op}: gradients have different dtypes (${dtype} and ${g.dtype})`);
  });
  const live = grads.filter((g) => g.size > 0);
  if (!live.length) return full([], 0, { device, dtype });

  const stream = streamGeom(device === 'gpu' ? deviceCaps() : BASELINE_CAPS);
  const ord = normOrd(p);
  const slots = live.reduce((s, g) => s + gradNormSlots(g.size, stream), 0);
  let partials: Tensor | null = null;
  let offset = 0;
  for (const g of live) {
    const kp = { n: g.size, ord, power: p, offset, stream };
    if (!partials) partials = launch(gradNormPartialKernel, kp, [g, { shape: [slots] }])[0];
    else launch(gradNormPartialKernel, kp, [g, partials]);
    offset += gradNormSlots(g.size, stream);
  }
  const [norm, coef] = launch(gradNormFinishKernel, { count: slots, ord, power: p, maxNorm }, [partials!, { shape: [] }, { shape: [1] }]);
  partials!.dispose();
  for (const g of live) launch(gradScaleKernel, { n: g.size, stream }, [g, coef]);
  coef.dispose();
  return norm;
}
