// wt.optim.lrScheduler: learning-rate schedules as torch.optim.lr_scheduler (PyTorch 1.13). A
// scheduler writes `optimizer.paramGroups[i].lr` (and, for OneCycleLR, the momentum or beta1);
// `step()` advances one epoch (or one batch for OneCycleLR) with torch's recursive ("chainable")
// formulas, `step(epoch)` jumps with the closed forms where torch has them (SequentialLR uses
// `step(0)` at its milestones). Constructing a scheduler performs its initial step, as in torch,
// and stores `initialLr` in each group. All arithmetic is float64 on the host, in torch's order,
// so the learning rates equal PyTorch's (CosineAnnealingLR's recursive form drifts from its
// closed form in the last bits; torch's recursive values are what you get here).
import { Optimizer, type ParamState, type SchedulableGroup, rejectUnknown } from './optimizer_base.ts';

type AnyOptimizer = Optimizer<{ lr: number }, ParamState>;

/** A scheduler's serialisable state (JSON): its type and its fields, camelCase. */
export type SchedulerStateDict = { type: string } & Record<string, unknown>;

const bisectRight = (a: readonly number[], x: number): number => {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x < a[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
};
/** Python's % (the result takes the divisor's sign). */
const pyMod = (a: number, b: number): number => ((a % b) + b) % b;

function checkInt(op: string, name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new Error(`${op}: ${name} must be an integer >= ${min}, got ${String(v)}`);
  return v;
}
function checkNum(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${op}: ${name} must be a finite number, got ${String(v)}`);
  return v;
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/**
 * The base of the learning-rate schedulers, as torch.optim.lr_scheduler.LRScheduler: it writes
 * `optimizer.paramGroups[i].lr`. Constructing one takes the initial step; call `step()` once per epoch
 * (once per batch for {@link OneCycleLR}) after `optimizer.step()`.
 *
 * @example
 * ```ts
 * const opt = new wt.optim.SGD(net.parameters(), { lr: 0.1, momentum: 0.9 });
 * const sched = new wt.optim.lrScheduler.StepLR(opt, { stepSize: 30, gamma: 0.1 });
 * for (let epoch = 0; epoch < 90; epoch++) {
 *   trainOneEpoch(net, opt);
 *   sched.step(); // lr 0.1, then 0.01 from epoch 30, 0.001 from epoch 60
 * }
 * ```
 */
export abstract class LRScheduler {
  readonly optimizer: AnyOptimizer;
  /** The groups' initial learning rates (torch: base_lrs). */
  baseLrs: number[] = [];
  /** Epochs (or batches) stepped so far; -1 before the initial step (torch: last_epoch). */
  lastEpoch: number;
  /** Calls of step(), including the initial one (torch: _step_count). */
  protected stepCount = 0;
  protected lastLr: number[] = [];

  /** `attach`: record `initialLr` in the groups and take base learning rates from them. */
  protected constructor(
    readonly type: string,
    optimizer: unknown,
    lastEpoch: number,
    attach = true,
  ) {
    if (!(optimizer instanceof Optimizer))
      throw new TypeError(`${type}: expected an optimizer (optim.SGD, Adam, AdamW, RMSprop), got ${optimizer === null ? 'null' : typeof optimizer}`);
    this.optimizer = optimizer as AnyOptimizer;
    checkInt(type, 'lastEpoch', lastEpoch, -1);
    this.lastEpoch = lastEpoch;
    if (!attach) return;
    const groups = this.groups;
    if (lastEpoch === -1) for (const g of groups) g.initialLr ??= g.lr;
    else
      groups.forEach((g, i) => {
        if (g.initialLr === undefined)
          throw new Error(`${type}: paramGroups[${i}].initialLr is not set; resuming with lastEpoch ${lastEpoch} needs the optimizer state of the run`);
      });
    this.baseLrs = groups.map((g) => g.initialLr!);
  }

  protected get groups(): SchedulableGroup[] {
    return this.optimizer.paramGroups as SchedulableGroup[];
  }

  /** The next learning rates by the recursive form (lastEpoch already advanced). */
  protected abstract getLr(): number[];
  /** The learning rates at lastEpoch by the closed form (null: no closed form, use getLr). */
  protected closedFormLr(): number[] | null {
    return null;
  }
  /** Names of the subclass's own state fields (saved by stateDict). */
  protected abstract ownKeys(): string[];

  /** @internal torch's _initial_step: reset the step count and take the first step. */
  _initialStep(): void {
    this.stepCount = 0;
    this.step();
  }

  /** Advance one epoch; `epoch` (torch's deprecated form) jumps there with the closed form. */
  step(epoch?: number): void {
    this.stepCount += 1;
    let values: number[];
    if (epoch === undefined) {
      this.lastEpoch += 1;
      values = this.getLr();
    } else {
      this.lastEpoch = checkInt(`${this.type}.step`, 'epoch', epoch, 0);
      values = this.closedFormLr() ?? this.getLr();
    }
    this.groups.forEach((g, i) => {
      g.lr = values[i];
    });
    this.lastLr = this.groups.map((g) => g.lr);
  }

  /** The learning rates the last step set, one per group (torch: get_last_lr). */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  private keys(): string[] {
    return ['lastEpoch', 'baseLrs', 'stepCount', 'lastLr', ...this.ownKeys()];
  }

  /** Every field but the optimizer, JSON-serialisable (torch: state_dict). */
  stateDict(): SchedulerStateDict {
    const self = this as unknown as Record<string, unknown>;
    return { type: this.type, ...Object.fromEntries(this.keys().map((k) => [k, clone(self[k])])) };
  }

  /** Restore fields saved by stateDict() of a scheduler of the same type. */
  loadStateDict(sd: SchedulerStateDict): void {
    const op = `${this.type}.loadStateDict`;
    if (!sd || typeof sd !== 'object') throw new Error(`${op}: expected the object from ${this.type}.stateDict()`);
    if (sd.type !== this.type) throw new Error(`${op}: state is from a ${String(sd.type)}, not a ${this.type}`);
    const keys = this.keys();
    for (const k of keys) if (sd[k] === undefined) throw new Error(`${op}: state has no '${k}'`);
    const self = this as unknown as Record<string, unknown>;
    for (const k of keys) self[k] = clone(sd[k]);
  }
}

// ---- StepLR ----

/** Options of {@link StepLR}, as torch's step_size, gamma and last_epoch. */
export interface StepLROptions {
  /** Period of learning-rate decay, in epochs. */
  stepSize: number;
  /** Multiplicative decay. Default 0.1. */
  gamma?: number;
  /** The epoch (or batch) count to resume from; -1 (default) starts fresh (torch: last_epoch). */
  lastEpoch?: number;
}

/** lr *= gamma every stepSize epochs. */
export class StepLR extends LRScheduler {
  stepSize: number;
  gamma: number;
  constructor(optimizer: AnyOptimizer, o: StepLROptions) {
    const op = 'StepLR';
    if (!o || typeof o !== 'object') throw new Error(`${op}: options { stepSize, gamma?, lastEpoch? } are required`);
    rejectUnknown(op, o, ['stepSize', 'gamma', 'lastEpoch']);
    super(op, optimizer, o.lastEpoch ?? -1);
    this.stepSize = checkInt(op, 'stepSize', o.stepSize, 1);
    this.gamma = checkNum(op, 'gamma', o.gamma ?? 0.1);
    this._initialStep();
  }
  protected override ownKeys() {
    return ['stepSize', 'gamma'];
  }
  protected override getLr(): number[] {
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return this.groups.map((g) => g.lr);
    return this.groups.map((g) => g.lr * this.gamma);
  }
  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** Math.floor(this.lastEpoch / this.stepSize));
  }
}

// ---- MultiStepLR ----

/** Options of {@link MultiStepLR}, as torch's milestones, gamma and last_epoch. */
export interface MultiStepLROptions {
  /** Epochs at which lr *= gamma (a repeated milestone decays once per repetition). */
  milestones: number[];
  /** Multiplicative decay. Default 0.1. */
  gamma?: number;
  /** The epoch (or batch) count to resume from; -1 (default) starts fresh (torch: last_epoch). */
  lastEpoch?: number;
}

/** lr *= gamma at each milestone epoch. */
export class MultiStepLR extends LRScheduler {
  /** Sorted, with repetitions (torch keeps a Counter). */
  milestones: number[];
  gamma: number;
  constructor(optimizer: AnyOptimizer, o: MultiStepLROptions) {
    const op = 'MultiStepLR';
    if (!o || typeof o !== 'object') throw new Error(`${op}: options { milestones, gamma?, lastEpoch? } are required`);
    rejectUnknown(op, o, ['milestones', 'gamma', 'lastEpoch']);
    super(op, optimizer, o.lastEpoch ?? -1);
    if (!Array.isArray(o.milestones)) throw new Error(`${op}: milestones must be an array of epochs, got ${String(o.milestones)}`);
    o.milestones.forEach((m, i) => checkInt(op, `milestones[${i}]`, m, 0));
    this.milestones = [...o.milestones].sort((a, b) => a - b);
    this.gamma = checkNum(op, 'gamma', o.gamma ?? 0.1);
    this._initialStep();
  }
  protected override ownKeys() {
    return ['milestones', 'gamma'];
  }
  protected override getLr(): number[] {
    const count = this.milestones.filter((m) => m === this.lastEpoch).length;
    if (!count) return this.groups.map((g) => g.lr);
    return this.groups.map((g) => g.lr * this.gamma ** count);
  }
  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** bisectRight(this.milestones, this.lastEpoch));
  }
}

// ---- CosineAnnealingLR ----

/** Options of {@link CosineAnnealingLR}, as torch's T_max, eta_min and last_epoch. */
export interface CosineAnnealingLROptions {
  /** Half-period, in epochs (torch: T_max). */
  tMax: number;
  /** Minimum learning rate. Default 0. */
  etaMin?: number;
  /** The epoch (or batch) count to resume from; -1 (default) starts fresh (torch: last_epoch). */
  lastEpoch?: number;
}

/** lr follows etaMin + (base - etaMin) (1 + cos(pi t / tMax)) / 2, by torch's recursive form. */
export class CosineAnnealingLR extends LRScheduler {
  tMax: number;
  etaMin: number;
  constructor(optimizer: AnyOptimizer, o: CosineAnnealingLROptions) {
    const op = 'CosineAnnealingLR';
    if (!o || typeof o !== 'object') throw new Error(`${op}: options { tMax, etaMin?, lastEpoch? } are required`);
    rejectUnknown(op, o, ['tMax', 'etaMin', 'lastEpoch']);
    super(op, optimizer, o.lastEpoch ?? -1);
    this.tMax = checkInt(op, 'tMax', o.tMax, 1);
    this.etaMin = checkNum(op, 'etaMin', o.etaMin ?? 0);
    this._initialStep();
  }
  protected override ownKeys() {
    return ['tMax', 'etaMin'];
  }
  protected override getLr(): number[] {
    const { lastEpoch: e, tMax: T, etaMin } = this;
    if (e === 0) return this.groups.map((g) => g.lr);
    if (this.stepCount === 1 && e > 0)
      return this.baseLrs.map((b) => etaMin + ((b - etaMin) * (1 + Math.cos((e * Math.PI) / T))) / 2);
    if (pyMod(e - 1 - T, 2 * T) === 0)
      return this.groups.map((g, i) => g.lr + ((this.baseLrs[i] - etaMin) * (1 - Math.cos(Math.PI / T))) / 2);
    return this.groups.map(
      (g) => ((1 + Math.cos((Math.PI * e) / T)) / (1 + Math.cos((Math.PI * (e - 1)) / T))) * (g.lr - etaMin) + etaMin,
    );
  }
  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => this.etaMin + ((b - this.etaMin) * (1 + Math.cos((Math.PI * this.lastEpoch) / this.tMax))) / 2);
  }
}

// ---- LinearLR ----

/** Options of {@link LinearLR}, as torch's start_factor, end_factor, total_iters and last_epoch. */
export interface LinearLROptions {
  /** Factor at epoch 0, in (0, 1]. Default 1/3. */
  startFactor?: number;
  /** Factor from totalIters on, in [0, 1]. Default 1. */
  endFactor?: number;
  /** Epochs over which the factor moves. Default 5. */
  totalIters?: number;
  /** The epoch (or batch) count to resume from; -1 (default) starts fresh (torch: last_epoch). */
  lastEpoch?: number;
}

/** lr = base * factor, the factor moving linearly from startFactor to endFactor (warm-up). */
export class LinearLR extends LRScheduler {
  startFactor: number;
  endFactor: number;
  totalIters: number;
  constructor(optimizer: AnyOptimizer, o: LinearLROptions = {}) {
    const op = 'LinearLR';
    if (!o || typeof o !== 'object') throw new Error(`${op}: options must be an object`);
    rejectUnknown(op, o, ['startFactor', 'endFactor', 'totalIters', 'lastEpoch']);
    super(op, optimizer, o.lastEpoch ?? -1);
    const s = checkNum(op, 'startFactor', o.startFactor ?? 1 / 3);
    const e = checkNum(op, 'endFactor', o.endFactor ?? 1);
    // torch 1.13 accepts 0 and then divides by zero at epoch 1; a zero start would give NaN rates
    if (s <= 0 || s > 1) throw new Error(`${op}: startFactor must be in (0, 1], got ${s}`);
    if (e < 0 || e > 1) throw new Error(`${op}: endFactor must be in [0, 1], got ${e}`);
    this.startFactor = s;
    this.endFactor = e;
    this.totalIters = checkInt(op, 'totalIters', o.totalIters ?? 5, 1);
    this._initialStep();
  }
  protected override ownKeys() {
    return ['startFactor', 'endFactor', 'totalIters'];
  }
  protected override getLr(): number[] {
    const { lastEpoch: t, startFactor: s, endFactor: e, totalIters: n } = this;
    if (t === 0) return this.groups.map((g) => g.lr * s);
    if (t > n) return this.groups.map((g) => g.lr);
    return this.groups.map((g) => g.lr * (1 + (e - s) / (n * s + (t - 1) * (e - s))));
  }
  protected override closedFormLr(): number[] {
    const { lastEpoch: t, startFactor: s, endFactor: e, totalIters: n } = this;
    return this.baseLrs.map((b) => b * (s + ((e - s) * Math.min(n, t)) / n));
  }
}

// ---- OneCycleLR ----

type LrField = 'initialLr' | 'maxLr' | 'minLr';
type MomentumField = 'maxMomentum' | 'baseMomentum';
interface Phase {
  endStep: number;
  startLr: LrField;
  endLr: LrField;
  startMomentum: MomentumField;
  endMomentum: MomentumField;
}

/**
 * Options of {@link OneCycleLR}, as torch's (camelCase): give maxLr and either totalSteps or epochs and stepsPerEpoch.
 */
export interface OneCycleLROptions {
  /** Peak learning rate, one for all groups or one per group. */
  maxLr: number | number[];
  /** Steps in the cycle; or give epochs and stepsPerEpoch. */
  totalSteps?: number;
  /** With stepsPerEpoch: totalSteps = epochs * stepsPerEpoch. */
  epochs?: number;
  /** See `epochs`. */
  stepsPerEpoch?: number;
  /** Fraction of the cycle spent increasing the lr. Default 0.3. */
  pctStart?: number;
  /** 'cos' (default) or 'linear'. */
  annealStrategy?: 'cos' | 'linear';
  /** Cycle momentum (SGD, RMSprop) or beta1 (Adam, AdamW) inversely to the lr. Default true. */
  cycleMomentum?: boolean;
  /** Momentum (or beta1) at the lr's peak, one or one per group. Default 0.85. */
  baseMomentum?: number | number[];
  /** Momentum (or beta1) at the cycle's start and end, one or one per group. Default 0.95. */
  maxMomentum?: number | number[];
  /** initialLr = maxLr / divFactor. Default 25. */
  divFactor?: number;
  /** minLr = initialLr / finalDivFactor. Default 1e4. */
  finalDivFactor?: number;
  /** Three phases (up, down to initialLr, then to minLr) instead of two. Default false. */
  threePhase?: boolean;
  /** The epoch (or batch) count to resume from; -1 (default) starts fresh (torch: last_epoch). */
  lastEpoch?: number;
}

const ONE_CYCLE_KEYS = [
  'maxLr', 'totalSteps', 'epochs', 'stepsPerEpoch', 'pctStart', 'annealStrategy', 'cycleMomentum',
  'baseMomentum', 'maxMomentum', 'divFactor', 'finalDivFactor', 'threePhase', 'lastEpoch',
];

/** The 1cycle policy (fastai's two phases by default), stepped once per batch. Not chainable. */
export class OneCycleLR extends LRScheduler {
  totalSteps: number;
  phases: Phase[];
  annealStrategy: 'cos' | 'linear';
  cycleMomentum: boolean;
  useBeta1: boolean;

  constructor(optimizer: AnyOptimizer, o: OneCycleLROptions) {
    const op = 'OneCycleLR';
    if (!o || typeof o !== 'object') throw new Error(`${op}: options { maxLr, totalSteps | epochs + stepsPerEpoch, ... } are required`);
    rejectUnknown(op, o, ONE_CYCLE_KEYS);
    if (!(optimizer instanceof Optimizer)) throw new TypeError(`${op}: expected an optimizer (optim.SGD, Adam, AdamW, RMSprop)`);
    const lastEpoch = checkInt(op, 'lastEpoch', o.lastEpoch ?? -1, -1);
    let total: number;
    if (o.totalSteps === undefined && o.epochs === undefined && o.stepsPerEpoch === undefined)
      throw new Error(`${op}: you must define either totalSteps OR (epochs AND stepsPerEpoch)`);
    else if (o.totalSteps !== undefined) total = checkInt(op, 'totalSteps', o.totalSteps, 1);
    else total = checkInt(op, 'epochs', o.epochs, 1) * checkInt(op, 'stepsPerEpoch', o.stepsPerEpoch, 1);
    const pct = checkNum(op, 'pctStart', o.pctStart ?? 0.3);
    if (pct < 0 || pct > 1) throw new Error(`${op}: pctStart must be in [0, 1], got ${pct}`);
    const anneal = o.annealStrategy ?? 'cos';
    if (anneal !== 'cos' && anneal !== 'linear') throw new Error(`${op}: annealStrategy must be 'cos' or 'linear', got ${String(anneal)}`);
    const divFactor = checkNum(op, 'divFactor', o.divFactor ?? 25);
    const finalDivFactor = checkNum(op, 'finalDivFactor', o.finalDivFactor ?? 1e4);
    const groups = optimizer.paramGroups as SchedulableGroup[];
    const perGroup = (name: string, v: unknown): number[] => {
      const list = Array.isArray(v) ? v : groups.map(() => v);
      if (list.length !== groups.length) throw new Error(`${op}: expected ${groups.length} values for ${name}, got ${list.length}`);
      return list.map((x, i) => checkNum(op, Array.isArray(v) ? `${name}[${i}]` : name, x));
    };
    const maxLrs = perGroup('maxLr', o.maxLr);
    const cycle = o.cycleMomentum ?? true;
    if (typeof cycle !== 'boolean') throw new Error(`${op}: cycleMomentum must be a boolean, got ${String(cycle)}`);
    const defaults = optimizer.defaults as object;
    let maxMs: number[] = [];
    let baseMs: number[] = [];
    if (cycle) {
      if (!('momentum' in defaults) && !('betas' in defaults))
        throw new Error(`${op}: optimizer ${optimizer.name} must support momentum with the cycleMomentum option enabled`);
      maxMs = perGroup('maxMomentum', o.maxMomentum ?? 0.95);
      baseMs = perGroup('baseMomentum', o.baseMomentum ?? 0.85);
    }
    // torch sets the groups' fields before the base initialisation (which then keeps initialLr)
    if (lastEpoch === -1)
      groups.forEach((g, i) => {
        g.initialLr = maxLrs[i] / divFactor;
        g.maxLr = maxLrs[i];
        g.minLr = g.initialLr / finalDivFactor;
      });
    else {
      const need: (keyof SchedulableGroup)[] = ['initialLr', 'maxLr', 'minLr', ...(cycle ? (['maxMomentum', 'baseMomentum'] as const) : [])];
      groups.forEach((g, i) => {
        for (const k of need)
          if (typeof g[k] !== 'number')
            throw new Error(`${op}: paramGroups[${i}].${k} is not set; resuming with lastEpoch ${lastEpoch} needs the optimizer state of the run`);
      });
    }
    const useBeta1 = 'betas' in defaults;
    if (cycle && lastEpoch === -1)
      groups.forEach((g, i) => {
        if (useBeta1) g.betas = [maxMs[i], g.betas![1]];
        else g.momentum = maxMs[i];
        g.maxMomentum = maxMs[i];
        g.baseMomentum = baseMs[i];
      });
    super(op, optimizer, lastEpoch);
    this.totalSteps = total;
    this.phases = o.threePhase
      ? [
        { endStep: pct * total - 1, startLr: 'initialLr', endLr: 'maxLr', startMomentum: 'maxMomentum', endMomentum: 'baseMomentum' },
        { endStep: 2 * pct * total - 2, startLr: 'maxLr', endLr: 'initialLr', startMomentum: 'baseMomentum', endMomentum: 'maxMomentum' },
        { endStep: total - 1, startLr: 'initialLr', endLr: 'minLr', startMomentum: 'maxMomentum', endMomentum: 'maxMomentum' },
      ]
      : [
        { endStep: pct * total - 1, startLr: 'initialLr', endLr: 'maxLr', startMomentum: 'maxMomentum', endMomentum: 'baseMomentum' },
        { endStep: total - 1, startLr: 'maxLr', endLr: 'minLr', startMomentum: 'baseMomentum', endMomentum: 'maxMomentum' },
      ];
    this.annealStrategy = anneal;
    this.cycleMomentum = cycle;
    this.useBeta1 = useBeta1;
    this._initialStep();
  }

  protected override ownKeys() {
    return ['totalSteps', 'phases', 'annealStrategy', 'cycleMomentum', 'useBeta1'];
  }

  private anneal(start: number, end: number, pct: number): number {
    if (this.annealStrategy === 'linear') return (end - start) * pct + start;
    const cosOut = Math.cos(Math.PI * pct) + 1;
    return end + ((start - end) / 2.0) * cosOut;
  }

  protected override getLr(): number[] {
    const stepNum = this.lastEpoch;
    if (stepNum > this.totalSteps)
      throw new Error(`OneCycleLR: tried to step ${stepNum + 1} times; the specified number of total steps is ${this.totalSteps}`);
    return this.groups.map((g) => {
      let startStep = 0;
      let lr = NaN;
      let momentum = NaN;
      for (let i = 0; i < this.phases.length; i++) {
        const ph = this.phases[i];
        if (stepNum <= ph.endStep || i === this.phases.length - 1) {
          const pct = (stepNum - startStep) / (ph.endStep - startStep);
          lr = this.anneal(g[ph.startLr]!, g[ph.endLr]!, pct);
          if (this.cycleMomentum) momentum = this.anneal(g[ph.startMomentum]!, g[ph.endMomentum]!, pct);
          break;
        }
        startStep = ph.endStep;
      }
      if (this.cycleMomentum) {
        if (this.useBeta1) g.betas = [momentum, g.betas![1]];
        else g.momentum = momentum;
      }
      return lr;
    });
  }
}

// ---- SequentialLR ----

/**
 * Options of {@link SequentialLR}: the schedulers and the epochs at which each next one takes over.
 */
export interface SequentialLROptions {
  /** Schedulers of the same optimizer, run one after another. */
  schedulers: LRScheduler[];
  /** Epochs at which the next scheduler takes over (one fewer than schedulers). */
  milestones: number[];
  /** The epoch (or batch) count to resume from; -1 (default) starts fresh (torch: last_epoch). */
  lastEpoch?: number;
}

/** Runs `schedulers[i]` between milestones[i-1] and milestones[i]; each new one starts with step(0). */
export class SequentialLR extends LRScheduler {
  readonly schedulers: LRScheduler[];
  milestones: number[];

  constructor(optimizer: AnyOptimizer, o: SequentialLROptions) {
    const op = 'SequentialLR';
    if (!o || typeof o !== 'object') throw new Error(`${op}: options { schedulers, milestones, lastEpoch? } are required`);
    rejectUnknown(op, o, ['schedulers', 'milestones', 'lastEpoch']);
    super(op, optimizer, o.lastEpoch ?? -1, false);
    const subs = o.schedulers;
    if (!Array.isArray(subs) || !subs.length || subs.some((s) => !(s instanceof LRScheduler)))
      throw new Error(`${op}: schedulers must be a non-empty array of schedulers`);
    subs.forEach((s, i) => {
      if (s.optimizer !== optimizer)
        throw new Error(`${op}: expects all schedulers to belong to the same optimizer, but the scheduler at index ${i} has a different one`);
      if (s instanceof SequentialLR) throw new Error(`${op}: scheduler ${i} is itself a SequentialLR`);
    });
    if (!Array.isArray(o.milestones) || o.milestones.length !== subs.length - 1)
      throw new Error(
        `${op}: expects one more scheduler than milestones, got ${subs.length} schedulers and ${Array.isArray(o.milestones) ? o.milestones.length : String(o.milestones)} milestones`,
      );
    o.milestones.forEach((m, i) => checkInt(op, `milestones[${i}]`, m, 0));
    this.schedulers = [...subs];
    this.milestones = [...o.milestones];
    this.lastEpoch += 1;
    // reset learning rates to their initial values, undo the sub-schedulers' initial steps, and
    // take the first one's initial step again
    for (const g of this.groups) g.lr = g.initialLr!;
    for (const s of subs) s.lastEpoch -= 1;
    subs[0]._initialStep();
    this.lastLr = subs[0].getLastLr();
  }

  protected override ownKeys() {
    return ['milestones'];
  }
  protected override getLr(): number[] {
    return this.lastLr;
  }

  override step(): void {
    this.lastEpoch += 1;
    const idx = bisectRight(this.milestones, this.lastEpoch);
    const s = this.schedulers[idx];
    if (idx > 0 && this.milestones[idx - 1] === this.lastEpoch) s.step(0);
    else s.step();
    this.lastLr = s.getLastLr();
  }

  override stateDict(): SchedulerStateDict {
    return {
      type: this.type,
      lastEpoch: this.lastEpoch,
      milestones: [...this.milestones],
      lastLr: [...this.lastLr],
      schedulers: this.schedulers.map((s) => s.stateDict()),
    };
  }

  override loadStateDict(sd: SchedulerStateDict): void {
    const op = `${this.type}.loadStateDict`;
    if (!sd || typeof sd !== 'object' || sd.type !== this.type) throw new Error(`${op}: expected the object from ${this.type}.stateDict()`);
    const subs = sd.schedulers;
    if (!Array.isArray(subs) || subs.length !== this.schedulers.length)
      throw new Error(`${op}: state has ${Array.isArray(subs) ? subs.length : 'no'} schedulers, this SequentialLR has ${this.schedulers.length}`);
    for (const k of ['lastEpoch', 'milestones', 'lastLr']) if (sd[k] === undefined) throw new Error(`${op}: state has no '${k}'`);
    // validate every sub-state before changing anything
    subs.forEach((s: SchedulerStateDict, i) => {
      if (s?.type !== this.schedulers[i].type)
        throw new Error(`${op}: scheduler ${i} state is from a ${String(s?.type)}, not a ${this.schedulers[i].type}`);
    });
    this.lastEpoch = sd.lastEpoch as number;
    this.milestones = clone(sd.milestones as number[]);
    this.lastLr = clone(sd.lastLr as number[]);
    subs.forEach((s: SchedulerStateDict, i) => this.schedulers[i].loadStateDict(s));
  }
}
