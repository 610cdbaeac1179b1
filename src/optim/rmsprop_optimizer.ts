// optim.RMSprop, as torch.optim.RMSprop (PyTorch 1.13, single-tensor form): per parameter a step
// count and squareAvg, plus gradAvg when centered and a momentum buffer when momentum > 0, all
// zero-initialised when first needed. See src/kernels/rmsprop.ts for the update.
import type { Tensor } from '../tensor/tensor.ts';
import { rmspropUpdate } from './adaptive_updates.ts';
import { checkBool, checkNonNegative, type Group, type GroupSpec, Optimizer, type OptimizerStateDict } from './optimizer_base.ts';

/**
 * Options of {@link RMSprop}, as torch.optim.RMSprop's: lr (default 1e-2), alpha (0.99), eps (1e-8),
 * weightDecay (0), momentum (0), centered and maximize (false).
 */
export interface RMSpropOptions {
  lr?: number;
  alpha?: number;
  eps?: number;
  weightDecay?: number;
  momentum?: number;
  centered?: boolean;
  maximize?: boolean;
}

/** RMSprop's hyperparameters as a parameter group holds them (every option filled in). */
export interface RMSpropHyper {
  lr: number;
  alpha: number;
  eps: number;
  weightDecay: number;
  momentum: number;
  centered: boolean;
  maximize: boolean;
}

/** One RMSprop parameter group: its parameters, hyperparameters and any scheduler fields. */
export type RMSpropParamGroup = Group<RMSpropHyper>;
/**
 * A parameter group given to {@link RMSprop}: `{ params, ...hyperparameters }`, the rest from the options.
 */
export type RMSpropGroupSpec = GroupSpec<RMSpropHyper>;
/** RMSprop's per-parameter state (torch: step, square_avg, momentum_buffer, grad_avg). */
export type RMSpropState = { step: number; squareAvg: Tensor; momentumBuffer?: Tensor; gradAvg?: Tensor };
/** What `RMSprop.stateDict()` returns and `loadStateDict` takes. */
export type RMSpropStateDict = OptimizerStateDict<RMSpropHyper, RMSpropState>;

const KEYS = ['lr', 'alpha', 'eps', 'weightDecay', 'momentum', 'centered', 'maximize'] as const;

/** torch.optim.RMSprop: lr 1e-2, alpha 0.99, eps 1e-8, weightDecay 0, momentum 0, centered false. */
export class RMSprop extends Optimizer<RMSpropHyper, RMSpropState> {
  constructor(params: Iterable<Tensor> | RMSpropGroupSpec[], opts: RMSpropOptions = {}) {
    const defaults: RMSpropHyper = { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, maximize: false };
    super('RMSprop', params, opts, defaults, KEYS, { tensors: ['squareAvg', 'momentumBuffer', 'gradAvg'], numbers: ['step'] });
  }

  protected checkHyper(h: RMSpropHyper): RMSpropHyper {
    for (const k of ['lr', 'eps', 'momentum', 'weightDecay', 'alpha'] as const) checkNonNegative('RMSprop', k, h[k]);
    checkBool('RMSprop', 'centered', h.centered);
    checkBool('RMSprop', 'maximize', h.maximize);
    return h;
  }

  protected update(p: Tensor, grad: Tensor, g: RMSpropParamGroup): void {
    let s = this.state.get(p);
    if (!s) {
      s = { step: 0, squareAvg: this.zerosLike(p) };
      this.state.set(p, s);
    }
    if (g.momentum > 0 && !s.momentumBuffer) s.momentumBuffer = this.zerosLike(p);
    if (g.centered && !s.gradAvg) s.gradAvg = this.zerosLike(p);
    s.step += 1;
    rmspropUpdate(p, grad, s.squareAvg, g.centered ? s.gradAvg! : null, g.momentum > 0 ? s.momentumBuffer! : null, {
      lr: g.lr,
      alpha: g.alpha,
      eps: g.eps,
      weightDecay: g.weightDecay,
      momentum: g.momentum,
      centered: g.centered,
      maximize: g.maximize,
    });
  }
}
