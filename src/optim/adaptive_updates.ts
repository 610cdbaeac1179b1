// The fused Adam / AdamW and RMSprop updates for one parameter (one dispatch each, in place, not
// recorded): torch.optim's functional form, with argument checks before any GPU work.
import type { Tensor } from '../tensor/tensor.ts';
import { launch } from '../tensor/launch.ts';
import { requireFloat } from '../tensor/raw.ts';
import { fmt, sameShape } from '../tensor/shape.ts';
import { adamKernel, type AdamParams } from '../kernels/adam.ts';
import { rmspropKernel, type RmspropParams } from '../kernels/rmsprop.ts';
import { checkOptions } from '../backend/options.ts';

/** Adam's hyperparameters for one update; `step` counts this update (1 on the first). */
export type AdamUpdateOptions = Omit<AdamParams, 'n' | 'stream'>;
/** RMSprop's hyperparameters for one update. */
export type RmspropUpdateOptions = Omit<RmspropParams, 'n' | 'withBuf' | 'stream'>;

function checkNumbers(op: string, o: Record<string, number>): void {
  for (const [name, v] of Object.entries(o))
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`${op}: expected ${name} >= 0, got ${v}`);
}

function checkBuffer(op: string, what: string, param: Tensor, buf: Tensor | null): Tensor {
  if (!buf) throw new Error(`${op}: ${what} is required, got null`);
  requireFloat(op, param, buf);
  if (!sameShape(buf.shape, param.shape) || buf.device !== param.device)
    throw new Error(`${op}: ${what} ${buf.describe()} does not match parameter ${param.describe()}`);
  return buf;
}

function checkGrad(op: string, param: Tensor, grad: Tensor): void {
  requireFloat(op, param, grad);
  if (!sameShape(param.shape, grad.shape))
    throw new Error(`${op}: gradient shape ${fmt(grad.shape)} does not match parameter shape ${fmt(param.shape)}`);
  if (param.device !== grad.device) throw new Error(`${op}: parameter is on ${param.device} but its gradient is on ${grad.device}`);
}

/**
 * One torch.optim.Adam (decoupled: AdamW) step for one parameter, in place (one dispatch):
 * expAvg, expAvgSq (and maxExpAvgSq with amsgrad) are updated in place; `o.step` is the step
 * count including this update.
 */
export function adamUpdate(
  param: Tensor, grad: Tensor, expAvg: Tensor, expAvgSq: Tensor, maxExpAvgSq: Tensor | null, o: AdamUpdateOptions,
): void {
  const op = o?.decoupled ? 'adamwUpdate' : 'adamUpdate';
  checkOptions(op, o, ['lr', 'beta1', 'beta2', 'eps', 'weightDecay', 'decoupled', 'amsgrad', 'maximize', 'step']);
  checkGrad(op, param, grad);
  checkNumbers(op, { lr: o.lr, eps: o.eps, weightDecay: o.weightDecay });
  for (const [name, b] of [['beta1', o.beta1], ['beta2', o.beta2]] as const)
    if (typeof b !== 'number' || !(b >= 0 && b < 1)) throw new Error(`${op}: expected ${name} in [0, 1), got ${b}`);
  if (!Number.isInteger(o.step) || o.step < 1) throw new Error(`${op}: expected step to be an integer >= 1, got ${o.step}`);
  const bufs = [checkBuffer(op, 'expAvg', param, expAvg), checkBuffer(op, 'expAvgSq', param, expAvgSq)];
  if (o.amsgrad) bufs.push(checkBuffer(op, 'maxExpAvgSq (amsgrad)', param, maxExpAvgSq));
  const p: AdamParams = {
    n: param.size, lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay,
    decoupled: !!o.decoupled, amsgrad: !!o.amsgrad, maximize: !!o.maximize, step: o.step,
  };
  launch(adamKernel, p, [param, grad, ...bufs]);
}

/**
 * One torch.optim.RMSprop step for one parameter, in place (one dispatch): squareAvg, gradAvg
 * (centered) and the momentum buffer (momentum > 0) are updated in place.
 */
export function rmspropUpdate(
  param: Tensor, grad: Tensor, squareAvg: Tensor, gradAvg: Tensor | null, momentumBuf: Tensor | null, o: RmspropUpdateOptions,
): void {
  const op = 'rmspropUpdate';
  checkOptions(op, o, ['lr', 'alpha', 'eps', 'weightDecay', 'momentum', 'centered', 'maximize']);
  checkGrad(op, param, grad);
  checkNumbers(op, { lr: o.lr, alpha: o.alpha, eps: o.eps, weightDecay: o.weightDecay, momentum: o.momentum });
  const bufs = [checkBuffer(op, 'squareAvg', param, squareAvg)];
  if (o.centered) bufs.push(checkBuffer(op, 'gradAvg (centered)', param, gradAvg));
  const withBuf = o.momentum > 0;
  if (withBuf) bufs.push(checkBuffer(op, `momentum buffer (momentum ${o.momentum})`, param, momentumBuf));
  const p: RmspropParams = {
    n: param.size, lr: o.lr, alpha: o.alpha, eps: o.eps, weightDecay: o.weightDecay, momentum: o.momentum,
    centered: !!o.centered, maximize: !!o.maximize, withBuf,
  };
  launch(rmspropKernel, p, [param, grad, ...bufs]);
}
