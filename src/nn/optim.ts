// wt.optim: SGD with momentum, dampening, weight decay and Nesterov, as torch.optim.SGD:
//   g = grad + weightDecay * p
//   buf = g                                     (first step of a parameter)
//   buf = momentum * buf + (1 - dampening) * g  (later steps)
//   g = nesterov ? g + momentum * buf : buf     (when momentum != 0)
//   p -= lr * g
// Each parameter is updated in place by one kernel (sgdUpdate). Momentum buffers are created on the
// parameter's device on its first step and kept out of tidy() scopes.
import { noGrad } from '../autograd/function.ts';
import { empty } from '../tensor/launch.ts';
import { keep } from '../tensor/storage.ts';
import { Tensor } from '../tensor/tensor.ts';
import { copyTo } from './assign.ts';
import { sgdUpdate } from '../autograd/optim_update.ts';

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

export interface SGDHyper {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

/** A parameter group: its own tensors and hyperparameters (torch's param_groups). */
export interface ParamGroup extends SGDHyper {
  params: Tensor[];
}

/** Serializable optimizer state: buffers by parameter index (in group order), plus the groups'
 * hyperparameters with parameter indices instead of tensors (as torch's state_dict). */
export interface SGDStateDict {
  state: Record<number, { momentumBuffer: Tensor }>;
  paramGroups: (SGDHyper & { params: number[] })[];
}

function checkHyper(h: SGDHyper): SGDHyper {
  const num = (n: string, v: unknown) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`SGD: ${n} must be a finite number >= 0, got ${String(v)}`);
  };
  num('lr', h.lr);
  num('momentum', h.momentum);
  num('dampening', h.dampening);
  num('weightDecay', h.weightDecay);
  if (typeof h.nesterov !== 'boolean') throw new Error(`SGD: nesterov must be a boolean, got ${String(h.nesterov)}`);
  if (h.nesterov && (h.momentum <= 0 || h.dampening !== 0))
    throw new Error(`SGD: Nesterov momentum requires a momentum > 0 and zero dampening, got momentum ${h.momentum}, dampening ${h.dampening}`);
  return h;
}

type GroupSpec = { params: Iterable<Tensor> } & Partial<SGDOptions>;

export class SGD {
  readonly paramGroups: ParamGroup[] = [];
  /** Momentum buffer per parameter (absent until its first step with momentum). */
  private readonly buffers = new Map<Tensor, Tensor>();

  /** `params`: tensors (one group), or groups `{ params, lr?, momentum?, ... }` overriding `opts`. */
  constructor(params: Iterable<Tensor> | GroupSpec[], opts: SGDOptions) {
    if (!opts || typeof opts !== 'object') throw new Error('SGD: options { lr, ... } are required');
    const defaults: SGDHyper = {
      lr: opts.lr,
      momentum: opts.momentum ?? 0,
      dampening: opts.dampening ?? 0,
      weightDecay: opts.weightDecay ?? 0,
      nesterov: opts.nesterov ?? false,
    };
    if (params == null || typeof (params as Iterable<unknown>)[Symbol.iterator] !== 'function')
      throw new Error(`SGD: params must be an iterable of Tensors or of parameter groups, got ${String(params)}`);
    const list = [...(params as Iterable<Tensor | GroupSpec>)];
    const specs: GroupSpec[] = list.length && !(list[0] instanceof Tensor) ? (list as GroupSpec[]) : [{ params: list as Tensor[] }];
    const seen = new Set<Tensor>();
    for (const spec of specs) {
      if (!spec || typeof spec !== 'object' || !spec.params) throw new Error('SGD: a parameter group must be { params, ... }');
      const ps = [...spec.params];
      ps.forEach((p, i) => {
        if (!(p instanceof Tensor)) throw new Error(`SGD: parameter ${i} is not a Tensor, got ${typeof p}`);
        p.check('SGD');
        if (p.dtype === 'int32') throw new Error(`SGD: can only optimize float tensors, got int32 ${p.describe()}`);
        if (!p.isLeaf) throw new Error(`SGD: can't optimize a non-leaf tensor ${p.describe()}`);
        if (seen.has(p)) throw new Error(`SGD: parameter ${p.describe()} appears more than once`);
        seen.add(p);
      });
      const h = checkHyper({
        lr: spec.lr ?? defaults.lr,
        momentum: spec.momentum ?? defaults.momentum,
        dampening: spec.dampening ?? defaults.dampening,
        weightDecay: spec.weightDecay ?? defaults.weightDecay,
        nesterov: spec.nesterov ?? defaults.nesterov,
      });
      this.paramGroups.push({ ...h, params: ps });
    }
    if (!seen.size) throw new Error('SGD: got an empty parameter list');
  }

  /** Learning rate of the first group (set it to change every group's). */
  get lr(): number {
    return this.paramGroups[0].lr;
  }
  set lr(v: number) {
    for (const g of this.paramGroups) checkHyper({ ...g, lr: v });
    for (const g of this.paramGroups) g.lr = v;
  }

  /** Drop every parameter's gradient. */
  zeroGrad(): void {
    for (const g of this.paramGroups) for (const p of g.params) p.zeroGrad();
  }

  /** One update of every parameter that has a gradient (others are skipped). */
  step(): void {
    noGrad(() => {
      for (const g of this.paramGroups) {
        checkHyper(g);
        for (const p of g.params) {
          p.check('SGD.step');
          const grad = p.requiresGrad ? p.grad : null;
          if (!grad) continue;
          let buf: Tensor | null = null;
          let firstStep = false;
          if (g.momentum !== 0) {
            buf = this.buffers.get(p) ?? null;
            if (!buf) {
              // contents are set by the first update (buf = g)
              buf = keep(empty(p.shape, p.dtype, p.device, 'momentum_buffer'));
              this.buffers.set(p, buf);
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
    });
  }

  private allParams(): Tensor[] {
    return this.paramGroups.flatMap((g) => g.params);
  }

  /** Buffers are the live tensors (not copies); hyperparameters are copied. */
  stateDict(): SGDStateDict {
    const state: SGDStateDict['state'] = {};
    this.allParams().forEach((p, i) => {
      const b = this.buffers.get(p);
      if (b) state[i] = { momentumBuffer: b };
    });
    let i = 0;
    const paramGroups = this.paramGroups.map(({ params, ...h }) => ({ ...h, params: params.map(() => i++) }));
    return { state, paramGroups };
  }

  /** Restore hyperparameters and copies of the momentum buffers (on each parameter's device). */
  loadStateDict(sd: SGDStateDict): void {
    if (!sd || typeof sd !== 'object' || !Array.isArray(sd.paramGroups) || !sd.state || typeof sd.state !== 'object')
      throw new Error('SGD.loadStateDict: expected { state, paramGroups } from SGD.stateDict()');
    if (sd.paramGroups.length !== this.paramGroups.length)
      throw new Error(`SGD.loadStateDict: state has ${sd.paramGroups.length} parameter groups, optimizer has ${this.paramGroups.length}`);
    sd.paramGroups.forEach((g, i) => {
      const n = Array.isArray(g.params) ? g.params.length : NaN;
      if (n !== this.paramGroups[i].params.length)
        throw new Error(`SGD.loadStateDict: group ${i} has ${n} parameters in the state, ${this.paramGroups[i].params.length} in the optimizer`);
      checkHyper({ lr: g.lr, momentum: g.momentum, dampening: g.dampening, weightDecay: g.weightDecay, nesterov: g.nesterov });
    });
    const params = this.allParams();
    const bufs = new Map<Tensor, Tensor>();
    for (const [k, v] of Object.entries(sd.state)) {
      const i = Number(k);
      if (!Number.isInteger(i) || i < 0 || i >= params.length)
        throw new Error(`SGD.loadStateDict: state for parameter ${k} but the optimizer has ${params.length} parameters`);
      const b = v?.momentumBuffer;
      if (!(b instanceof Tensor)) throw new Error(`SGD.loadStateDict: state ${k}.momentumBuffer must be a Tensor`);
      const p = params[i];
      if (b.shape.length !== p.shape.length || b.shape.some((d, j) => d !== p.shape[j]))
        throw new Error(`SGD.loadStateDict: momentum buffer ${k} has shape [${b.shape}], parameter has [${p.shape}]`);
      bufs.set(p, b);
    }
    // validated: now replace
    sd.paramGroups.forEach((g, i) => {
      Object.assign(this.paramGroups[i], {
        lr: g.lr, momentum: g.momentum, dampening: g.dampening, weightDecay: g.weightDecay, nesterov: g.nesterov,
      });
    });
    for (const b of this.buffers.values()) b.dispose();
    this.buffers.clear();
    noGrad(() => {
      for (const [p, b] of bufs) this.buffers.set(p, keep(copyTo('SGD.loadStateDict', b, p.device)));
    });
  }
}

/** The fused updates behind the optimizers, one dispatch per parameter (torch.optim's functional form). */
export const functional = { sgd: sgdUpdate };
