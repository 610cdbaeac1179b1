// Weight files in Node: wt.save / wt.load (safetensors) and training checkpoints, written atomically
// (a temporary file in the same directory is written, fsynced and renamed over the target, so
// readers never see a partial file). The bytes come from the core (src/nn/safetensors.ts,
// src/nn/checkpoint.ts), which runs anywhere.
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Tensor } from '../tensor/tensor.ts';
import { decodeSafetensors, encodeSafetensors, type LoadOptions, type SaveOptions } from '../nn/safetensors.ts';
import { readCheckpoint, writeCheckpoint, type CheckpointContents, type CheckpointTarget } from '../nn/checkpoint.ts';

/**
 * Write `tensors` to `path` as safetensors, atomically. GPU tensors are read back one at a time.
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
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'w');
  try {
    await fh.write(enc.header);
    for await (const bytes of enc.tensorBytes()) if (bytes.byteLength) await fh.write(bytes);
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
  } catch (e) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw e;
  }
  // persist the rename itself (best effort: not every platform can fsync a directory)
  const dh = await open(dirname(path), 'r').catch(() => null);
  if (dh) await dh.sync().catch(() => {}).finally(() => dh.close());
}

/** Read a safetensors file: the tensors and the header's `__metadata__`. */
export async function loadSafetensors(
  path: string,
  o: LoadOptions = {},
): Promise<{ tensors: Record<string, Tensor>; metadata: Record<string, string> }> {
  if (typeof path !== 'string' || !path) throw new Error(`load: path must be a non-empty string, got ${String(path)}`);
  return decodeSafetensors(await readFile(path), o, path);
}

/** Read a safetensors file into name -> Tensor (a state dict for `Module.loadStateDict`). */
export async function load(path: string, o: LoadOptions = {}): Promise<Record<string, Tensor>> {
  return (await loadSafetensors(path, o)).tensors;
}

/** Save a training checkpoint (model, optimizer state, epoch, RNG, extra) to `path`, atomically. */
export async function saveCheckpoint(path: string, c: CheckpointContents): Promise<void> {
  await writeCheckpoint(c, (tensors, metadata, opts) => save(tensors, path, metadata, opts));
}

/**
 * Restore the checkpoint at `path` into `model` (and `optimizer`, when given) and the global RNG.
 * The model must have the same parameter and buffer names and shapes (strict).
 */
export async function loadCheckpoint(path: string, c: CheckpointTarget): Promise<{ epoch: number; extra: unknown }> {
  return readCheckpoint(path, c, async (device) => decodeSafetensors(await readFile(path), { device }, path));
}
