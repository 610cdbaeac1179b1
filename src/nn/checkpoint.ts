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
// run continues exactly as an uninterrupted one. Here as bytes; files: src/node/weight_files.ts.
import { checkOptions } from '../backend/options.ts';
import { getRngState, setRngState } from '../tensor/random.ts';
import { defaultDevice, Tensor } from '../tensor/tensor.ts';
import type { Device } from '../tensor/storage.ts';
import type { Module } from './module.ts';
import { Optimizer, type OptimizerStateDict, type ParamState } from '../optim/optimizer_base.ts';
import { LRScheduler, type SchedulerStateDict } from '../optim/lr_scheduler.ts';
import { decodeSafetensors, saveBytes, type SaveOptions } from './safetensors.ts';
import { cut, setKey, show } from './safetensors-format.ts';

const FORMAT = 'webgpu-tensor-checkpoint/1';

type AnyOptimizer = Optimizer<{ lr: number }, ParamState>;

/** momentumBuffer <-> momentum_buffer (torch's state names in the file). */
const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camel = (k: string) => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** What a checkpoint holds. */
export interface CheckpointContents {
  model: Module;
  optimizer?: AnyOptimizer;
  /** A learning-rate scheduler of `optimizer` (wt.optim.lrScheduler.*). */
  scheduler?: LRScheduler;
  epoch: number;
  /** Anything JSON can hold (step counters, best accuracy, ...). */
  extra?: unknown;
}

/** What a checkpoint is loaded into. */
export interface CheckpointTarget {
  model: Module;
  optimizer?: AnyOptimizer;
  /** A learning-rate scheduler of `optimizer` (wt.optim.lrScheduler.*). */
  scheduler?: LRScheduler;
}

/** Stores a checkpoint's tensors and metadata (as bytes, in a file) and returns what it made. */
export type CheckpointWriter<R> = (tensors: Record<string, Tensor>, metadata: Record<string, string>, opts: SaveOptions) => Promise<R>;
/** Reads a checkpoint's tensors (onto `device`) and metadata. */
export type CheckpointReader = (device: Device) => Promise<{ tensors: Record<string, Tensor>; metadata: Record<string, string> }>;

/** The checkpoint `c` as safetensors bytes (the Node entry's `saveCheckpoint(path, c)` writes them to a file). */
export async function saveCheckpointBytes(c: CheckpointContents): Promise<Uint8Array> {
  return writeCheckpoint(c, (tensors, metadata, opts) => saveBytes(tensors, metadata, opts));
}

/**
 * Restore checkpoint bytes into `c.model` (and `c.optimizer`, `c.scheduler`, when given) and the
 * global RNG, all or nothing: bytes that are truncated, corrupt or do not fit the model are rejected
 * with an Error, and then nothing has been changed.
 */
export async function loadCheckpointBytes(bytes: Uint8Array | ArrayBuffer, c: CheckpointTarget): Promise<{ epoch: number; extra: unknown }> {
  return readCheckpoint('checkpoint bytes', c, async (device) => decodeSafetensors(bytes, { device }, 'checkpoint bytes'));
}

/** Validate `c`, collect its tensors and metadata and hand them to `write`. */
export async function writeCheckpoint<R>(c: CheckpointContents, write: CheckpointWriter<R>): Promise<R> {
  checkOptions('saveCheckpoint', c, ['model', 'optimizer', 'scheduler', 'epoch', 'extra']);
  if (!c || typeof c !== 'object' || !c.model) throw new Error('saveCheckpoint: expected { model, optimizer?, scheduler?, epoch, extra? }');
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
    return await write(tensors, metadata, { int32As: 'I64' });
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

/** getRngState()'s [s0, s1, s2, s3, spare]: four uint32 words, not all zero, and a number or null. */
function isRngState(r: unknown): r is number[] {
  if (!Array.isArray(r) || r.length !== 5) return false;
  const words = r.slice(0, 4);
  if (!words.every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32) || !words.some((w) => w !== 0)) return false;
  return r[4] === null || (typeof r[4] === 'number' && Number.isFinite(r[4]));
}

/** Module.loadStateDict's checks without writing: the same names, shapes and float/int32 kinds. */
function checkModelState(model: Module, sd: Record<string, Tensor>): void {
  const own = model.stateDict();
  try {
    const missing = Object.keys(own).filter((k) => !Object.hasOwn(sd, k));
    const unexpected = Object.keys(sd).filter((k) => !Object.hasOwn(own, k));
    if (missing.length || unexpected.length)
      throw new Error(`the model state does not match the model (missing keys: ${missing.join(', ') || 'none'}; unexpected keys: ${unexpected.join(', ') || 'none'})`);
    for (const [k, p] of Object.entries(own)) {
      const t = sd[k];
      if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i]))
        throw new Error(`shape mismatch for '${k}': checkpoint has [${t.shape}], model has [${p.shape}]`);
      if ((t.dtype === 'int32') !== (p.dtype === 'int32'))
        throw new Error(`dtype mismatch for '${k}': checkpoint has ${t.dtype}, model has ${p.dtype}`);
    }
  } finally {
    for (const t of Object.values(own)) t.dispose();
  }
}

/**
 * Restore a checkpoint (read by `read`; `path` names it in errors) into `model` (and `optimizer`,
 * `scheduler`, when given) and the global RNG. The model must have the same parameter and buffer
 * names and shapes (strict). A checkpoint that is truncated, corrupt or does not fit the model is
 * rejected with an Error naming it, and then nothing (model, optimizer, RNG) has been changed.
 */
export async function readCheckpoint(path: string, c: CheckpointTarget, read: CheckpointReader): Promise<{ epoch: number; extra: unknown }> {
  checkOptions('loadCheckpoint', c, ['model', 'optimizer', 'scheduler']);
  if (!c || typeof c !== 'object' || !c.model) throw new Error('loadCheckpoint: expected { model, optimizer?, scheduler? }');
  const device = c.model.parameters()[0]?.device ?? c.model.buffers()[0]?.device ?? defaultDevice();
  const { tensors, metadata } = await read(device);
  try {
    if (metadata.format !== FORMAT)
      throw new Error(`loadCheckpoint: ${path} is not a webgpu-tensor checkpoint (format ${JSON.stringify(metadata.format)}, expected ${FORMAT})`);
    const epoch = parseJson(path, 'epoch', metadata.epoch);
    if (typeof epoch !== 'number' || !Number.isFinite(epoch))
      throw new Error(`loadCheckpoint: ${path}: epoch must be a finite number, got ${cut(String(metadata.epoch))}`);
    const rng = parseJson(path, 'rng', metadata.rng);
    if (!isRngState(rng)) throw new Error(`loadCheckpoint: ${path}: rng must be the 5 numbers of getRngState(), got ${cut(String(metadata.rng))}`);
    const extra = metadata.extra === undefined ? undefined : parseJson(path, 'extra', metadata.extra);

    const modelSd: Record<string, Tensor> = {};
    const state: Record<number, ParamState> = {};
    for (const [k, t] of Object.entries(tensors)) {
      if (k.startsWith('model.')) setKey(modelSd, k.slice(6), t);
      else {
        const m = /^optim\.(\d+)\.([a-z_]+)$/.exec(k);
        if (!m) throw new Error(`loadCheckpoint: ${path}: unexpected tensor '${cut(k)}'`);
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
      if (o?.type !== name || !Array.isArray(o.paramGroups) || o.paramGroups.some((g) => !g || typeof g !== 'object'))
        throw new Error(`loadCheckpoint: ${path}: optimizer state is not ${name} state (type ${show(o?.type)})`);
      for (const [i, s] of Object.entries(o.state ?? {})) {
        if (!s || typeof s !== 'object') throw new Error(`loadCheckpoint: ${path}: optimizer state of parameter ${cut(i)} is not an object`);
        Object.assign((state[Number(i)] ??= {}), s);
      }
      optSd = { state, paramGroups: o.paramGroups };
    }
    let schedSd: SchedulerStateDict | null = null;
    if (c.scheduler) {
      schedSd = parseJson(path, 'scheduler', metadata.scheduler) as SchedulerStateDict;
      if (schedSd?.type !== c.scheduler.type)
        throw new Error(`loadCheckpoint: ${path}: scheduler state is not ${c.scheduler.type} state (type ${show(schedSd?.type)})`);
    }
    // all or nothing: check the model's names and shapes, then the optimizer and the scheduler
    // (each validates before it writes), then the model, then the RNG
    try {
      checkModelState(c.model, modelSd);
      if (c.optimizer && optSd) c.optimizer.loadStateDict(optSd);
      if (c.scheduler && schedSd) c.scheduler.loadStateDict(schedSd);
      c.model.loadStateDict(modelSd);
    } catch (e) {
      throw new Error(`loadCheckpoint: ${path}: ${(e as Error).message}`);
    }
    setRngState(rng);
    return { epoch, extra };
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}
