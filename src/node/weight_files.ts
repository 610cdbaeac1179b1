// Weight files in Node: wt.save / wt.load (safetensors) and training checkpoints, written atomically
// (atomic_file.ts: the path holds the previous or the new complete file at every moment, also
// when the process is killed). The bytes come from the core (src/nn/safetensors.ts,
// src/nn/checkpoint.ts), which runs anywhere.
import { readFile } from 'node:fs/promises';
import type { Tensor } from '../tensor/tensor.ts';
import { writeFileAtomic } from './atomic_file.ts';
import { decodeSafetensors, encodeSafetensors, type LoadOptions, type SaveOptions } from '../nn/safetensors.ts';
import { readCheckpoint, writeCheckpoint, type CheckpointContents, type CheckpointTarget } from '../nn/checkpoint.ts';

/**
 * Write `tensors` to `path` as safetensors, atomically (see above). GPU tensors are read back one at a time.
 * `metadata` values must be strings. Readable by Python's `safetensors.torch.load_file`.
 */
export async function save(
  tensors: Record<string, Tensor>,
  path: string,
  metadata?: Record<string, string>,
  opts: SaveOptions = {},
): Promise<void> {
  if (typeof path !== 'string' || !path) throw new Error(`save: path must be a non-empty string, got ${String(path)}`);
  const enc = encodeSafetensors('save', tensors, metadata, opts);
  await writeFileAtomic(
    path,
    (async function* () {
      yield enc.header;
      yield* enc.tensorBytes();
    })(),
    'save',
  );
}

/** The bytes of the file at `path`; a read error names it. */
async function readWeights(path: string): Promise<Uint8Array> {
  return readFile(path).catch((e: Error) => {
    throw new Error(`load ${path}: cannot read the file (${e.message})`);
  });
}

/** Read a safetensors file: the tensors and the header's `__metadata__`. */
export async function loadSafetensors(
  path: string,
  o: LoadOptions = {},
): Promise<{ tensors: Record<string, Tensor>; metadata: Record<string, string> }> {
  if (typeof path !== 'string' || !path) throw new Error(`load: path must be a non-empty string, got ${String(path)}`);
  return decodeSafetensors(await readWeights(path), o, path);
}

/** Read a safetensors file into name -> Tensor (a state dict for `Module.loadStateDict`). */
export async function load(path: string, o: LoadOptions = {}): Promise<Record<string, Tensor>> {
  return (await loadSafetensors(path, o)).tensors;
}

/** Save a training checkpoint (model, optimizer and scheduler state, epoch, RNG, extra) to `path`, atomically. */
export async function saveCheckpoint(path: string, c: CheckpointContents): Promise<void> {
  await writeCheckpoint(c, (tensors, metadata, opts) => save(tensors, path, metadata, opts));
}

/**
 * Restore the checkpoint at `path` into `model` (and `optimizer`, `scheduler`, when given) and the
 * global RNG. The model must have the same parameter and buffer names and shapes (strict). A file
 * that is truncated, corrupt or does not fit the model is rejected with an Error naming it, and
 * then nothing (model, optimizer, RNG) has been changed.
 */
export async function loadCheckpoint(path: string, c: CheckpointTarget): Promise<{ epoch: number; extra: unknown }> {
  return readCheckpoint(path, c, async (device) => decodeSafetensors(await readWeights(path), { device }, path));
}
