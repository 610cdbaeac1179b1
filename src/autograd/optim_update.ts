// The fused optimizer updates (one dispatch per parameter, in place, not recorded).
import type { Tensor } from '../tensor/tensor.ts';
import { launch } from '../tensor/launch.ts';
import { requireFloat } from '../tensor/raw.ts';
import { fmt, sameShape } from '../tensor/shape.ts';
import { sgdKernel, type SgdParams } from '../kernels/sgd.ts';
import { checkOptions } from '../backend/options.ts';

/** torch.optim.SGD's hyperparameters, plus `firstStep` (the momentum buffer is set to the gradient). */
export type SgdOptions = Omit<SgdParams, 'n' | 'withBuf' | 'stream'>;

/**
 * One torch.optim.SGD step for one parameter, in place (one dispatch): weight decay is added to the
 * gradient; with momentum the buffer becomes grad (first step) or momentum * buf + (1 - dampening)
 * * grad; nesterov uses grad + momentum * buf; then param -= lr * update. `momentumBuf` (same
 * shape, updated in place) is required when momentum != 0 and ignored otherwise.
 */
export function sgdUpdate(param: Tensor, grad: Tensor, momentumBuf: Tensor | null, opts: SgdOptions): void {
  const op = 'sgdUpdate';
  checkOptions(op, opts, ['lr', 'momentum', 'dampening', 'weightDecay', 'nesterov', 'firstStep']);
  requireFloat(op, param, grad);
  const { lr, momentum, dampening, weightDecay, nesterov, firstStep } = opts;
  for (const [name, v] of [['lr', lr], ['momentum', momentum], ['dampening', dampening], ['weightDecay', weightDecay]] as const)
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`${op}: expected ${name} >= 0, got ${v}`);
  if (nesterov && (momentum <= 0 || dampening !== 0))
    throw new Error(`${op}: nesterov momentum requires momentum > 0 and dampening 0, got momentum ${momentum}, dampening ${dampening}`);
  if (!sameShape(param.shape, grad.shape))
    throw new Error(`${op}: gradient shape ${fmt(grad.shape)} does not match parameter shape ${fmt(param.shape)}`);
  if (param.device !== grad.device) throw new Error(`${op}: parameter is on ${param.device} but its gradient is on ${grad.device}`);
  const withBuf = momentum !== 0;
  if (withBuf) {
    if (!momentumBuf) throw new Error(`${op}: momentum ${momentum} needs a momentum buffer, got null`);
    requireFloat(op, param, momentumBuf);
    if (!sameShape(momentumBuf.shape, param.shape) || momentumBuf.device !== param.device)
      throw new Error(`${op}: momentum buffer ${momentumBuf.describe()} does not match parameter ${param.describe()}`);
  }
  const p = { n: param.size, lr, momentum, dampening, weightDecay, nesterov: !!nesterov, firstStep: !!firstStep, withBuf };
  launch(sgdKernel, p, withBuf ? [param, grad, momentumBuf!] : [param, grad]);
}
