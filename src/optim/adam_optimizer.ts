// optim.Adam and optim.AdamW, as torch.optim.Adam / AdamW (PyTorch 1.13, single-tensor form):
// per parameter a step count and the buffers expAvg, expAvgSq (and maxExpAvgSq with amsgrad),
// zero-initialised on the parameter's first step. The step count lives on the host, so the bias
// corrections 1 - beta^step reach the fused kernel as uniforms (no readback). Adam adds
// weightDecay * param to the gradient (L2); AdamW multiplies the parameter by 1 - lr * weightDecay
// before the update (decoupled decay). See src/kernels/adam.ts for the update.
import type { Tensor } from '../tensor/tensor.ts';
import { adamUpdate } from './adaptive_updates.ts';
import { checkBool, checkNonNegative, type Group, type GroupSpec, Optimizer, type OptimizerStateDict } from './optimizer_base.ts';

/**
 * Options of {@link Adam} and {@link AdamW}, as torch.optim.Adam's: lr (default 1e-3), betas
 * (default [0.9, 0.999]), eps (default 1e-8), weightDecay (default 0 for Adam, 1e-2 for AdamW), amsgrad
 * and maximize (default false).
 */
export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  amsgrad?: boolean;
  maximize?: boolean;
}

/** Adam's hyperparameters as a parameter group holds them (every option filled in). */
export interface AdamHyper {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
  maximize: boolean;
}

/** One Adam / AdamW parameter group: its parameters, hyperparameters and any scheduler fields. */
export type AdamParamGroup = Group<AdamHyper>;
/**
 * A parameter group given to {@link Adam} / {@link AdamW}: `{ params, ...hyperparameters }`, the rest from the options.
 */
export type AdamGroupSpec = GroupSpec<AdamHyper>;
/** Adam's per-parameter state (torch: step, exp_avg, exp_avg_sq, max_exp_avg_sq). */
export type AdamState = { step: number; expAvg: Tensor; expAvgSq: Tensor; maxExpAvgSq?: Tensor };
/** What `Adam.stateDict()` / `AdamW.stateDict()` return and `loadStateDict` takes. */
export type AdamStateDict = OptimizerStateDict<AdamHyper, AdamState>;

const KEYS = ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad', 'maximize'] as const;
const SCHEMA = { tensors: ['expAvg', 'expAvgSq', 'maxExpAvgSq'], numbers: ['step'] };

abstract class AdamFamily extends Optimizer<AdamHyper, AdamState> {
  protected abstract readonly decoupled: boolean;

  protected checkHyper(h: AdamHyper): AdamHyper {
    const op = this.name;
    checkNonNegative(op, 'lr', h.lr);
    checkNonNegative(op, 'eps', h.eps);
    if (!Array.isArray(h.betas) || h.betas.length !== 2) throw new Error(`${op}: betas must be [beta1, beta2], got ${String(h.betas)}`);
    h.betas.forEach((b, i) => {
      if (typeof b !== 'number' || !(b >= 0 && b < 1)) throw new Error(`${op}: betas[${i}] must be in [0, 1), got ${String(b)}`);
    });
    checkNonNegative(op, 'weightDecay', h.weightDecay);
    checkBool(op, 'amsgrad', h.amsgrad);
    checkBool(op, 'maximize', h.maximize);
    return h;
  }

  protected update(p: Tensor, grad: Tensor, g: AdamParamGroup): void {
    let s = this.state.get(p);
    if (!s) {
      s = { step: 0, expAvg: this.zerosLike(p), expAvgSq: this.zerosLike(p) };
      this.state.set(p, s);
    }
    // amsgrad switched on after the first step: its running max starts from zero
    if (g.amsgrad && !s.maxExpAvgSq) s.maxExpAvgSq = this.zerosLike(p);
    s.step += 1;
    adamUpdate(p, grad, s.expAvg, s.expAvgSq, g.amsgrad ? s.maxExpAvgSq! : null, {
      lr: g.lr,
      beta1: g.betas[0],
      beta2: g.betas[1],
      eps: g.eps,
      weightDecay: g.weightDecay,
      decoupled: this.decoupled,
      amsgrad: g.amsgrad,
      maximize: g.maximize,
      step: s.step,
    });
  }
}

/** torch.optim.Adam: lr 1e-3, betas [0.9, 0.999], eps 1e-8, weightDecay 0 (L2), amsgrad false. */
export class Adam extends AdamFamily {
  protected readonly decoupled = false;
  constructor(params: Iterable<Tensor> | AdamGroupSpec[], opts: AdamOptions = {}) {
    const defaults: AdamHyper = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false };
    super('Adam', params, opts, defaults, KEYS, SCHEMA);
  }
}

/** torch.optim.AdamW: as Adam with decoupled weight decay, default weightDecay 1e-2. */
export class AdamW extends AdamFamily {
  protected readonly decoupled = true;
  constructor(params: Iterable<Tensor> | AdamGroupSpec[], opts: AdamOptions = {}) {
    const defaults: AdamHyper = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, maximize: false };
    super('AdamW', params, opts, defaults, KEYS, SCHEMA);
  }
}
