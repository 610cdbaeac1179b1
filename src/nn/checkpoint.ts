// Training checkpoints: one safetensors file holding
//   tensors   "model.<name>"                    every model parameter and persistent buffer
//                                               (torch-style names; int32 buffers written as I64)
//             "optim.<i>.<buffer>"              optimizer state buffers of parameter i, torch's
//                                               names: momentum_buffer (SGD, RMSprop), exp_avg,
//                                               exp_avg_sq, max_exp_avg_sq (Adam, AdamW),
//                                               square_avg, grad_avg (RMSprop)
//   metadata  format   "webgpu-tensor-checkpoint/1"
//             epoch    JSON number
//             optimizer JSON {type: "SGD" | "Adam" | "AdamW" | "RMSprop",
//                             paramGroups: [{lr, momentum, ..., initialLr?, ..., params: [indices]}],
//                             state?: {<i>: {step}}}  (numeric state; absent when there is none)
//             scheduler JSON of the scheduler's stateDict() ({type: "StepLR", lastEpoch, ...})
//             rng      JSON of getRngState() (the global generator: init, dropout, shuffling)
//             extra    JSON of the caller's extra value
// Loading restores parameters in place, optimizer state, the scheduler and the RNG, so a resumed
// run continues exactly as an uninterrupted one.
import { getRngState, setRngState } from '../tensor/random.ts';
import { defaultDevice, Tensor } from '../tensor/tensor.ts';
import type { Module } from './module.ts';
import { Optimizer, type OptimizerStateDict, type ParamState } from '../optim/optimizer_base.ts';
import { LRScheduler, type SchedulerStateDict } from '../optim/lr_scheduler.ts';
import { loadSafetensors, save } from './safetensors.ts';

const FORMAT = 'webgpu-tensor-checkpoint/1';

type AnyOptimizer = Optimizer<{ lr: number }, ParamState>;

/** momentumBuffer <-> momentum_buffer (torch's state names in the file). */
const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camel = (k: string) => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

export interface CheckpointContents {
  model: Module;
  optimizer?: AnyOptimizer;
  /** A learning-rate scheduler of `optimizer` (wt.optim.lrScheduler.*). */
  scheduler?: LRScheduler;
  epoch: number;
  /** Anything JSON can hold (step counters, best accuracy, ...). */
  extra?: unknown;
}

export async function saveCheckpoint(path: string, c: CheckpointContents): Promise<void> {
  if (!c || typeof c !== 'object' || !c.model) throw new Error('saveCheckpoint: expected { model, optimizer?, epoch, extra? }');
  if (typeof c.epoch !== 'number' || !Number.isFinite(c.epoch))
    throw new Error(`saveCheckpoint: epoch must be a finite number, got ${String(c.epoch)}`);
  if (c.optimizer !== undefined && !(c.optimizer instanceof Optimizer))
    throw new Error('saveCheckpoint: optimizer must be a wt.optim optimizer (SGD, Adam, AdamW, RMSprop)');
  if (c.scheduler !== undefined && !(c.scheduler instanceof LRScheduler))
    throw new Error('saveCheckpoint: scheduler must be a wt.optim.lrScheduler scheduler');
  const tensors: Record<string, Tensor> = {};
  const views = c.model.stateDict();
  for (const [k, t] of Object.entries(views)) tensors[`model.${k}`] = t;
  const metadata: Record<string, string> = { format: FORMAT, epoch: JSON.stringify(c.epoch), rng: JSON.stringify(getRngState()) };
  if (c.optimizer) {
    const sd = c.optimizer.stateDict();
    const numeric: Record<string, Record<string, number>> = {};
    for (const [i, s] of Object.entries(sd.state))
      for (const [k, v] of Object.entries(s)) {
        if (v instanceof Tensor) tensors[`optim.${i}.${snake(k)}`] = v;
        else if (typeof v === 'number') (numeric[i] ??= {})[k] = v;
      }
    const o: Record<string, unknown> = { type: c.optimizer.name, paramGroups: sd.paramGroups };
    if (Object.keys(numeric).length) o.state = numeric;
    metadata.optimizer = JSON.stringify(o);
  }
  if (c.scheduler) metadata.scheduler = JSON.stringify(c.scheduler.stateDict());
  if (c.extra !== undefined) {
    const s = JSON.stringify(c.extra);
    if (s === undefined) throw new Error('saveCheckpoint: extra must be JSON-serialisable');
    metadata.extra = s;
  }
  try {
    await save(tensors, path, metadata, { int32As: 'I64' });
  } finally {
    for (const t of Object.values(views)) t.dispose();
  }
}

function parseJson(path: string, key: string, s: string | undefined): unknown {
  if (s === undefined) throw new Error(`loadCheckpoint: ${path} has no '${key}' metadata; not a webgpu-tensor checkpoint`);
  try {
    return JSON.parse(s);
  } catch (e) {
    throw new Error(`loadCheckpoint: ${path}: metadata '${key}' is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * Restore a checkpoint into `model` (and `optimizer`, when given) and the global RNG.
 * The model must have the same parameter and buffer names and shapes (strict).
 */
export async function loadCheckpoint(
  path: string,
  c: { model: Module; optimizer?: AnyOptimizer; scheduler?: LRScheduler },
): Promise<{ epoch: number; extra: unknown }> {
  if (!c || typeof c !== 'object' || !c.model) throw new Error('loadCheckpoint: expected { model, optimizer?, scheduler? }');
  const device = c.model.parameters()[0]?.device ?? c.model.buffers()[0]?.device ?? defaultDevice();
  const { tensors, metadata } = await loadSafetensors(path, { device });
  try {
    if (metadata.format !== FORMAT)
      throw new Error(`loadCheckpoint: ${path} is not a webgpu-tensor checkpoint (format ${JSON.stringify(metadata.format)}, expected ${FORMAT})`);
    const epoch = parseJson(path, 'epoch', metadata.epoch);
    if (typeof epoch !== 'number') throw new Error(`loadCheckpoint: ${path}: epoch must be a number, got ${metadata.epoch}`);
    const rng = parseJson(path, 'rng', metadata.rng);
    if (!Array.isArray(rng) || rng.length !== 5) throw new Error(`loadCheckpoint: ${path}: rng must be the 5 numbers of getRngState()`);
    const extra = metadata.extra === undefined ? undefined : parseJson(path, 'extra', metadata.extra);

    const modelSd: Record<string, Tensor> = {};
    const state: Record<number, ParamState> = {};
    for (const [k, t] of Object.entries(tensors)) {
      if (k.startsWith('model.')) modelSd[k.slice(6)] = t;
      else {
        const m = /^optim\.(\d+)\.([a-z_]+)$/.exec(k);
        if (!m) throw new Error(`loadCheckpoint: ${path}: unexpected tensor '${k}'`);
        (state[Number(m[1])] ??= {})[camel(m[2])] = t;
      }
    }
    let optSd: OptimizerStateDict<{ lr: number }> | null = null;
    if (c.optimizer) {
      const name = c.optimizer.name;
      const o = parseJson(path, 'optimizer', metadata.optimizer) as {
        type?: string;
        paramGroups?: OptimizerStateDict<{ lr: number }>['paramGroups'];
        state?: Record<string, Record<string, number>>;
      };
      if (o?.type !== name || !Array.isArray(o.paramGroups))
        throw new Error(`loadCheckpoint: ${path}: optimizer state is not ${name} state (type ${JSON.stringify(o?.type)})`);
      for (const [i, s] of Object.entries(o.state ?? {})) Object.assign((state[Number(i)] ??= {}), s);
      optSd = { state, paramGroups: o.paramGroups };
    }
    let schedSd: SchedulerStateDict | null = null;
    if (c.scheduler) {
      schedSd = parseJson(path, 'scheduler', metadata.scheduler) as SchedulerStateDict;
      if (schedSd?.type !== c.scheduler.type)
        throw new Error(`loadCheckpoint: ${path}: scheduler state is not ${c.scheduler.type} state (type ${JSON.stringify(schedSd?.type)})`);
    }
    // model first (validates names and shapes), then optimizer, scheduler, then RNG
    c.model.loadStateDict(modelSd);
    if (c.optimizer && optSd) c.optimizer.loadStateDict(optSd);
    if (c.scheduler && schedSd) c.scheduler.loadStateDict(schedSd);
    setRngState(rng as number[]);
    return { epoch, extra };
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}
