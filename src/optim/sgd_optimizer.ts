// optim.SGD with momentum, dampening, weight decay and Nesterov, as torch.optim.SGD:
//   g = grad + weightDecay * p
//   buf = g                                     (first step of a parameter)
//   buf = momentum * buf + (1 - dampening) * g  (later steps)
//   g = nesterov ? g + momentum * buf : buf     (when momentum != 0)
//   p -= lr * g
// Each parameter is updated in place by one kernel (sgdUpdate). The momentum buffer is created on
// the parameter's device the first time its group has a momentum (a scheduler such as OneCycleLR
// may turn momentum on later), as torch does.
import { empty } from '../tensor/launch.ts';
import { keep } from '../tensor/storage.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { sgdUpdate } from '../autograd/optim_update.ts';
import { checkBool, checkNonNegative, type Group, type GroupSpec, Optimizer, type OptimizerStateDict } from './optimizer_base.ts';

/**
 * Options of {@link SGD}, as torch.optim.SGD's: `lr` is required; momentum, dampening and weightDecay
 * default to 0, nesterov to false (Nesterov needs momentum > 0 and zero dampening).
 */
export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

/** SGD's hyperparameters as a parameter group holds them (every option filled in). */
export interface SGDHyper {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

/** One SGD parameter group: its parameters, hyperparameters and any scheduler fields. */
export type SGDParamGroup = Group<SGDHyper>;
/**
 * A parameter group given to {@link SGD}: `{ params, ...hyperparameters }`, the rest from the options.
 */
export type SGDGroupSpec = GroupSpec<SGDHyper>;
/** SGD's per-parameter state: the momentum buffer (once momentum is used). */
export type SGDState = { momentumBuffer: Tensor };
/** What `SGD.stateDict()` returns and `loadStateDict` takes. */
export type SGDStateDict = OptimizerStateDict<SGDHyper, SGDState>;

const KEYS = ['lr', 'momentum', 'dampening', 'weightDecay', 'nesterov'] as const;

/**
 * Stochastic gradient descent with momentum, dampening, weight decay and Nesterov, as torch.optim.SGD;
 * each parameter is updated in place by one kernel.
 *
 * @example
 * ```ts
 * const opt = new wt.optim.SGD(net.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
 * loss.backward();
 * opt.step();
 * opt.zeroGrad();
 * ```
 */
export class SGD extends Optimizer<SGDHyper, SGDState> {
  /** `params`: tensors (one group), or groups `{ params, lr?, momentum?, ... }` overriding `opts`. */
  constructor(params: Iterable<Tensor> | SGDGroupSpec[], opts: SGDOptions) {
    if (!opts || typeof opts !== 'object') throw new Error('SGD: options { lr, ... } are required');
    const defaults: SGDHyper = { lr: opts.lr, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false };
    super('SGD', params, opts, defaults, KEYS, { tensors: ['momentumBuffer'], numbers: [] });
  }

  protected checkHyper(h: SGDHyper): SGDHyper {
    checkNonNegative('SGD', 'lr', h.lr);
    checkNonNegative('SGD', 'momentum', h.momentum);
    checkNonNegative('SGD', 'dampening', h.dampening);
    checkNonNegative('SGD', 'weightDecay', h.weightDecay);
    checkBool('SGD', 'nesterov', h.nesterov);
    if (h.nesterov && (h.momentum <= 0 || h.dampening !== 0))
      throw new Error(`SGD: Nesterov momentum requires a momentum > 0 and zero dampening, got momentum ${h.momentum}, dampening ${h.dampening}`);
    return h;
  }

  protected update(p: Tensor, grad: Tensor, g: SGDParamGroup): void {
    let buf: Tensor | null = null;
    let firstStep = false;
    if (g.momentum !== 0) {
      buf = this.state.get(p)?.momentumBuffer ?? null;
      if (!buf) {
        // contents are set by the first update (buf = g)
        buf = keep(empty(p.shape, p.dtype, p.device, 'momentum_buffer'));
        this.state.set(p, { momentumBuffer: buf });
        firstStep = true;
      }
    }
    sgdUpdate(p, grad, buf, {
      lr: g.lr,
      momentum: g.momentum,
      dampening: g.dampening,
      weightDecay: g.weightDecay,
      nesterov: g.nesterov,
      firstStep,
    });
  }
}
