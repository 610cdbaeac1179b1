// Training checkpoints: one safetensors file holding
//   tensors   "model.<name>"                    every model parameter and persistent buffer
//                                               (torch-style names; int32 buffers written as I64)
//             "optim.<i>.momentum_buffer"       SGD momentum buffer of parameter i (if it has one)
//   metadata  format   "webgpu-tensor-checkpoint/1"
//             epoch    JSON number
//             optimizer JSON {type: "SGD", paramGroups: [{lr, momentum, ..., params: [indices]}]}
//             rng      JSON of getRngState() (the global generator: init, dropout, shuffling)
//             extra    JSON of the caller's extra value
// Loading restores parameters in place, optimizer state and the RNG, so a resumed run continues
// exactly as an uninterrupted one. Here as bytes; files: src/node/weight_files.ts.
import { getRngState, setRngState } from '../tensor/random.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { defaultDevice } from '../tensor/tensor.ts';
import type { Device } from '../tensor/storage.ts';
import type { Module } from './module.ts';
import { SGD, type SGDStateDict } from './optim.ts';
import { decodeSafetensors, saveBytes, type SaveOptions } from './safetensors.ts';

const FORMAT = 'webgpu-tensor-checkpoint/1';

/** What a checkpoint holds. */
export interface CheckpointContents {
  model: Module;
  optimizer?: SGD;
  epoch: number;
  /** Anything JSON can hold (step counters, best accuracy, ...). */
  extra?: unknown;
}

/** What a checkpoint is loaded into. */
export interface CheckpointTarget {
  model: Module;
  optimizer?: SGD;
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
 * Restore checkpoint bytes into `c.model` (and `c.optimizer`, when given) and the global RNG. The
 * model must have the same parameter and buffer names and shapes (strict).
 */
export async function loadCheckpointBytes(bytes: Uint8Array | ArrayBuffer, c: CheckpointTarget): Promise<{ epoch: number; extra: unknown }> {
  return readCheckpoint('checkpoint bytes', c, async (device) => decodeSafetensors(bytes, { device }, 'checkpoint bytes'));
}

/** Validate `c`, collect its tensors and metadata and hand them to `write`. */
export async function writeCheckpoint<R>(c: CheckpointContents, write: CheckpointWriter<R>): Promise<R> {
  if (!c || typeof c !== 'object' || !c.model) throw new Error('saveCheckpoint: expected { model, optimizer?, epoch, extra? }');
  if (typeof c.epoch !== 'number' || !Number.isFinite(c.epoch))
    throw new Error(`saveCheckpoint: epoch must be a finite number, got ${String(c.epoch)}`);
  if (c.optimizer !== undefined && !(c.optimizer instanceof SGD))
    throw new Error('saveCheckpoint: optimizer must be an optim.SGD');
  const tensors: Record<string, Tensor> = {};
  const views = c.model.stateDict();
  for (const [k, t] of Object.entries(views)) tensors[`model.${k}`] = t;
  const metadata: Record<string, string> = { format: FORMAT, epoch: JSON.stringify(c.epoch), rng: JSON.stringify(getRngState()) };
  if (c.optimizer) {
    const sd = c.optimizer.stateDict();
    for (const [i, s] of Object.entries(sd.state)) tensors[`optim.${i}.momentum_buffer`] = s.momentumBuffer;
    metadata.optimizer = JSON.stringify({ type: 'SGD', paramGroups: sd.paramGroups });
  }
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

/**
 * Restore a checkpoint (read by `read`; `path` names it in errors) into `model` (and `optimizer`,
 * when given) and the global RNG. The model must have the same parameter and buffer names and
 * shapes (strict).
 */
export async function readCheckpoint(path: string, c: CheckpointTarget, read: CheckpointReader): Promise<{ epoch: number; extra: unknown }> {
  if (!c || typeof c !== 'object' || !c.model) throw new Error('loadCheckpoint: expected { model, optimizer? }');
  const device = c.model.parameters()[0]?.device ?? c.model.buffers()[0]?.device ?? defaultDevice();
  const { tensors, metadata } = await read(device);
  try {
    if (metadata.format !== FORMAT)
      throw new Error(`loadCheckpoint: ${path} is not a webgpu-tensor checkpoint (format ${JSON.stringify(metadata.format)}, expected ${FORMAT})`);
    const epoch = parseJson(path, 'epoch', metadata.epoch);
    if (typeof epoch !== 'number') throw new Error(`loadCheckpoint: ${path}: epoch must be a number, got ${metadata.epoch}`);
    const rng = parseJson(path, 'rng', metadata.rng);
    if (!Array.isArray(rng) || rng.length !== 5) throw new Error(`loadCheckpoint: ${path}: rng must be the 5 numbers of getRngState()`);
    const extra = metadata.extra === undefined ? undefined : parseJson(path, 'extra', metadata.extra);

    const modelSd: Record<string, Tensor> = {};
    const state: SGDStateDict['state'] = {};
    for (const [k, t] of Object.entries(tensors)) {
      if (k.startsWith('model.')) modelSd[k.slice(6)] = t;
      else {
        const m = /^optim\.(\d+)\.momentum_buffer$/.exec(k);
        if (!m) throw new Error(`loadCheckpoint: ${path}: unexpected tensor '${k}'`);
        state[Number(m[1])] = { momentumBuffer: t };
      }
    }
    let optSd: SGDStateDict | null = null;
    if (c.optimizer) {
      const o = parseJson(path, 'optimizer', metadata.optimizer) as { type?: string; paramGroups?: SGDStateDict['paramGroups'] };
      if (o?.type !== 'SGD' || !Array.isArray(o.paramGroups))
        throw new Error(`loadCheckpoint: ${path}: optimizer state is not SGD state (type ${JSON.stringify(o?.type)})`);
      optSd = { state, paramGroups: o.paramGroups };
    }
    // model first (validates names and shapes), then optimizer, then RNG
    c.model.loadStateDict(modelSd);
    if (c.optimizer && optSd) c.optimizer.loadStateDict(optSd);
    setRngState(rng as number[]);
    return { epoch, extra };
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}
