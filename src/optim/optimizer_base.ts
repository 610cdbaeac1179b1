// The optimizer core shared by SGD, Adam, AdamW and RMSprop (torch.optim.Optimizer's contract):
// parameter groups with their own hyperparameters (`paramGroups[i].lr` is what schedulers change),
// per-parameter state created on a parameter's first step and kept out of tidy() scopes, and a
// state dict that refers to parameters by index in group order:
//   { state: { [index]: { <tensor buffers by camelCase name>, step? } },
//     paramGroups: [{ <hyperparameters>, <scheduler fields>, params: [indices] }] }
// Schedulers write `initialLr`, `maxLr`, `minLr`, `maxMomentum`, `baseMomentum` into the groups
// (torch's initial_lr, ...); they travel with the groups in the state dict as in torch.
import { noGrad } from '../autograd/function.ts';
import { zeros } from '../tensor/creation.ts';
import { keep } from '../tensor/storage.ts';
import { Tensor } from '../tensor/tensor.ts';
import { copyTo } from '../nn/assign.ts';

/** Fields a scheduler stores in a parameter group (torch: initial_lr, max_lr, min_lr, ...). */
export interface SchedulerFields {
  initialLr?: number;
  maxLr?: number;
  minLr?: number;
  maxMomentum?: number;
  baseMomentum?: number;
}
export const SCHEDULER_FIELDS = ['initialLr', 'maxLr', 'minLr', 'maxMomentum', 'baseMomentum'] as const;

/** One parameter group: its tensors and hyperparameters. */
export type Group<H> = H & SchedulerFields & { params: Tensor[] };
/** A group as given to a constructor: any hyperparameter left out comes from the options. */
export type GroupSpec<H> = { params: Iterable<Tensor> } & Partial<H>;

/** Per-parameter state: tensor buffers and numbers (the step count). */
export type ParamState = Record<string, Tensor | number | undefined>;

/**
 * An optimizer's state as {@link Optimizer.stateDict} returns it (torch's layout, camelCase):
 * per-parameter state by parameter index in group order, and each group's hyperparameters with its
 * parameters as indices.
 */
export interface OptimizerStateDict<H, S extends ParamState = ParamState> {
  state: Record<number, S>;
  paramGroups: (H & SchedulerFields & { params: number[] })[];
}

/** What a group of any optimizer offers a scheduler. */
export interface SchedulableGroup extends SchedulerFields {
  lr: number;
  momentum?: number;
  betas?: [number, number];
}

/** The state keys an optimizer keeps per parameter. */
export interface StateSchema {
  /** tensor buffers (same shape as the parameter) */
  tensors: readonly string[];
  /** numeric entries (non-negative integers) */
  numbers: readonly string[];
}

/** Throws `${op}: unknown option 'k'` when `o` has a key outside `accepted`. */
export function rejectUnknown(op: string, o: object, accepted: readonly string[]): void {
  for (const k of Object.keys(o))
    if (!accepted.includes(k)) throw new Error(`${op}: unknown option '${k}'; accepted options: ${accepted.join(', ')}`);
}

/** Throws unless v is a finite number >= 0. */
export function checkNonNegative(op: string, name: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`${op}: ${name} must be a finite number >= 0, got ${String(v)}`);
}

export function checkBool(op: string, name: string, v: unknown): void {
  if (typeof v !== 'boolean') throw new Error(`${op}: ${name} must be a boolean, got ${String(v)}`);
}

const copyValue = <V>(v: V): V => (Array.isArray(v) ? ([...v] as V) : v);

/**
 * The base of the optimizers (SGD, Adam, AdamW, RMSprop), as torch.optim.Optimizer: parameter
 * groups with their own hyperparameters, per-parameter state created on a parameter's first step,
 * `step()`, `zeroGrad()` (drops the gradients, as torch's set_to_none) and a state dict.
 */
export abstract class Optimizer<H extends { lr: number }, S extends ParamState = ParamState> {
  readonly paramGroups: Group<H>[] = [];
  /** The constructor's options with defaults filled in (torch's `defaults`). */
  readonly defaults: Readonly<H>;
  /** State per parameter (absent until its first step). */
  protected readonly state = new Map<Tensor, S>();

  /**
   * `params`: tensors (one group), or groups `{ params, ...hyperparameters }` that override `opts`.
   * `hyperKeys`: the accepted option names, in the order errors list them.
   */
  protected constructor(
    readonly name: string,
    params: Iterable<Tensor> | GroupSpec<H>[],
    opts: Partial<H>,
    defaults: H,
    private readonly hyperKeys: readonly string[],
    private readonly schema: StateSchema,
  ) {
    if (opts === null || typeof opts !== 'object') throw new Error(`${name}: options must be an object, got ${String(opts)}`);
    rejectUnknown(name, opts, hyperKeys);
    const d: Record<string, unknown> = { ...defaults };
    const given = opts as Record<string, unknown>;
    for (const k of hyperKeys) if (given[k] !== undefined) d[k] = given[k];
    this.defaults = d as H;
    if (params == null || typeof (params as Iterable<unknown>)[Symbol.iterator] !== 'function')
      throw new Error(`${name}: params must be an iterable of Tensors or of parameter groups, got ${String(params)}`);
    const list = [...(params as Iterable<Tensor | GroupSpec<H>>)];
    const specs: GroupSpec<H>[] = list.length && !(list[0] instanceof Tensor) ? (list as GroupSpec<H>[]) : [{ params: list as Tensor[] } as unknown as GroupSpec<H>];
    for (const spec of specs) this.addParamGroup(spec);
    if (!this.paramGroups.some((g) => g.params.length)) throw new Error(`${name}: got an empty parameter list`);
  }

  /** Validate a group's hyperparameters (names the optimizer and the value); returns them. */
  protected abstract checkHyper(h: H): H;
  /** One update of `p` with `grad` under group `g` (state from `this.state`). */
  protected abstract update(p: Tensor, grad: Tensor, g: Group<H>): void;

  /** Add a group `{ params, ...hyperparameters }` (missing hyperparameters come from `defaults`). */
  addParamGroup(spec: GroupSpec<H>): void {
    const op = this.name;
    if (!spec || typeof spec !== 'object' || !spec.params) throw new Error(`${op}: a parameter group must be { params, ... }`);
    rejectUnknown(`${op} parameter group`, spec, ['params', ...this.hyperKeys]);
    const ps = spec.params instanceof Tensor ? [spec.params] : [...spec.params];
    const seen = new Set(this.paramGroups.flatMap((g) => g.params));
    ps.forEach((p, i) => {
      if (!(p instanceof Tensor)) throw new Error(`${op}: parameter ${i} is not a Tensor, got ${typeof p}`);
      p.check(op);
      if (p.dtype === 'int32') throw new Error(`${op}: can only optimize float tensors, got int32 ${p.describe()}`);
      if (!p.isLeaf) throw new Error(`${op}: can't optimize a non-leaf tensor ${p.describe()}`);
      if (seen.has(p)) throw new Error(`${op}: parameter ${p.describe()} appears more than once`);
      seen.add(p);
    });
    const h: Record<string, unknown> = { ...this.defaults };
    const given = spec as unknown as Record<string, unknown>;
    for (const k of this.hyperKeys) h[k] = copyValue(given[k] !== undefined ? given[k] : h[k]);
    this.paramGroups.push({ ...this.checkHyper(h as H), params: ps } as Group<H>);
  }

  /** Learning rate of the first group (setting it sets every group's). */
  get lr(): number {
    return this.paramGroups[0].lr;
  }
  set lr(v: number) {
    for (const g of this.paramGroups) this.checkHyper({ ...g, lr: v });
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
        this.checkHyper(g);
        for (const p of g.params) {
          p.check(`${this.name}.step`);
          const grad = p.requiresGrad ? p.grad : null;
          if (grad) this.update(p, grad, g);
        }
      }
    });
  }

  /** A zero-filled state buffer for `p` on its device, kept out of tidy() scopes. */
  protected zerosLike(p: Tensor): Tensor {
    return keep(zeros(p.shape, { device: p.device, dtype: p.dtype }));
  }

  private allParams(): Tensor[] {
    return this.paramGroups.flatMap((g) => g.params);
  }

  /** State buffers are the live tensors (not copies); numbers and hyperparameters are copied. */
  stateDict(): OptimizerStateDict<H, S> {
    const state: Record<number, S> = {};
    this.allParams().forEach((p, i) => {
      const s = this.state.get(p);
      if (s) state[i] = { ...s };
    });
    let i = 0;
    const paramGroups = this.paramGroups.map(({ params, ...h }) => {
      const c = Object.fromEntries(Object.entries(h).map(([k, v]) => [k, copyValue(v)]));
      return { ...c, params: params.map(() => i++) } as H & SchedulerFields & { params: number[] };
    });
    return { state, paramGroups };
  }

  /** Restore hyperparameters, scheduler fields and copies of the state (on each parameter's
   * device). Everything is validated before anything changes. */
  loadStateDict(sd: OptimizerStateDict<H, S>): void {
    const op = `${this.name}.loadStateDict`;
    if (!sd || typeof sd !== 'object' || !Array.isArray(sd.paramGroups) || !sd.state || typeof sd.state !== 'object')
      throw new Error(`${op}: expected { state, paramGroups } from ${this.name}.stateDict()`);
    if (sd.paramGroups.length !== this.paramGroups.length)
      throw new Error(`${op}: state has ${sd.paramGroups.length} parameter groups, optimizer has ${this.paramGroups.length}`);
    const groups = sd.paramGroups.map((g, i) => {
      const n = Array.isArray(g?.params) ? g.params.length : NaN;
      if (n !== this.paramGroups[i].params.length)
        throw new Error(`${op}: group ${i} has ${n} parameters in the state, ${this.paramGroups[i].params.length} in the optimizer`);
      const h: Record<string, unknown> = {};
      const given = g as unknown as Record<string, unknown>;
      for (const k of this.hyperKeys) {
        if (given[k] === undefined) throw new Error(`${op}: group ${i} has no '${k}'`);
        h[k] = copyValue(given[k]);
      }
      this.checkHyper(h as H);
      const f: SchedulerFields = {};
      for (const k of SCHEDULER_FIELDS)
        if (g[k] !== undefined) {
          if (typeof g[k] !== 'number') throw new Error(`${op}: group ${i}: ${k} must be a number, got ${String(g[k])}`);
          f[k] = g[k];
        }
      return { h, f };
    });
    const params = this.allParams();
    const states = new Map<Tensor, S>();
    for (const [k, v] of Object.entries(sd.state)) {
      const i = Number(k);
      if (!Number.isInteger(i) || i < 0 || i >= params.length)
        throw new Error(`${op}: state for parameter ${k} but the optimizer has ${params.length} parameters`);
      if (!v || typeof v !== 'object') throw new Error(`${op}: state ${k} must be an object`);
      const p = params[i];
      for (const [key, val] of Object.entries(v)) {
        if (val === undefined) continue;
        if (this.schema.tensors.includes(key)) {
          if (!(val instanceof Tensor)) throw new Error(`${op}: state ${k}.${key} must be a Tensor`);
          val.check(op);
          if (val.shape.length !== p.shape.length || val.shape.some((d, j) => d !== p.shape[j]))
            throw new Error(`${op}: state ${k}.${key} has shape [${val.shape}], parameter has [${p.shape}]`);
        } else if (this.schema.numbers.includes(key)) {
          if (typeof val !== 'number' || !Number.isInteger(val) || val < 0)
            throw new Error(`${op}: state ${k}.${key} must be an integer >= 0, got ${String(val)}`);
        } else
          throw new Error(`${op}: state ${k} has an unknown entry '${key}'; ${this.name} keeps ${[...this.schema.tensors, ...this.schema.numbers].join(', ')}`);
      }
      states.set(p, v);
    }
    // validated: now replace
    groups.forEach(({ h, f }, i) => {
      const g = this.paramGroups[i];
      Object.assign(g, h);
      for (const k of SCHEDULER_FIELDS) delete g[k];
      Object.assign(g, f);
    });
    this.disposeState();
    noGrad(() => {
      for (const [p, s] of states) {
        const copy: ParamState = {};
        for (const [key, val] of Object.entries(s)) {
          if (val === undefined) continue;
          copy[key] = val instanceof Tensor ? keep(copyTo(op, val, p.device)) : val;
        }
        this.state.set(p, copy as S);
      }
    });
  }

  /** Free every state buffer (the optimizer starts over as if no step had run). */
  disposeState(): void {
    for (const s of this.state.values()) for (const v of Object.values(s)) if (v instanceof Tensor) v.dispose();
    this.state.clear();
  }
}
