// wt.save / wt.load: state dicts as safetensors files (format and validation in
// safetensors-format.ts), readable by Python's safetensors.torch.load_file. We write tensors
// contiguously in sorted-name order.
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { endianness } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { NumArray } from '../kernels/kernel.ts';
import { fromArray } from '../tensor/launch.ts';
import { defaultDevice, Tensor } from '../tensor/tensor.ts';
import type { DType, Device } from '../tensor/storage.ts';
import { CODES, checkMetadata, encodeHeader, parseSafetensors, setKey } from './safetensors-format.ts';

function requireLittleEndian(op: string): void {
  if (endianness() !== 'LE') throw new Error(`${op}: safetensors I/O needs a little-endian host`);
}

/**
 * Write `tensors` to `path` as safetensors, atomically: a temporary file in the same directory is
 * written, fsynced and renamed over `path`, so readers never see a partial file. GPU tensors are
 * read back first. `metadata` values must be strings.
 */
export async function save(tensors: Record<string, Tensor>, path: string, metadata?: Record<string, string>): Promise<void> {
  requireLittleEndian('save');
  if (typeof path !== 'string' || !path) throw new Error(`save: path must be a non-empty string, got ${String(path)}`);
  if (!tensors || typeof tensors !== 'object') throw new Error(`save: expected a name -> Tensor record, got ${String(tensors)}`);
  const meta = checkMetadata('save', metadata);
  const names = Object.keys(tensors).sort();
  for (const name of names) {
    const t = tensors[name];
    if (name === '__metadata__') throw new Error("save: '__metadata__' is reserved and cannot name a tensor");
    if (!(t instanceof Tensor)) throw new Error(`save: '${name}' must be a Tensor, got ${typeof t}`);
    t.check(`save '${name}'`);
  }
  const { header } = encodeHeader(names.map((name) => ({ name, dtype: tensors[name].dtype, shape: tensors[name].shape })), meta);

  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'w');
  try {
    await fh.write(header);
    for (const name of names) {
      const a: NumArray = await tensors[name].toArray();
      if (a.byteLength) await fh.write(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    }
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

export interface LoadOptions {
  /** Where the tensors go (default: the GPU once init() has run). F64 becomes float32 on the GPU. */
  device?: Device;
}

/** Read a safetensors file: the tensors and the header's `__metadata__`. */
export async function loadSafetensors(path: string, o: LoadOptions = {}): Promise<{ tensors: Record<string, Tensor>; metadata: Record<string, string> }> {
  requireLittleEndian('load');
  if (typeof path !== 'string' || !path) throw new Error(`load: path must be a non-empty string, got ${String(path)}`);
  const device = o.device ?? defaultDevice();
  if (device !== 'cpu' && device !== 'gpu') throw new Error(`load: device must be 'cpu' or 'gpu', got ${String(device)}`);
  const buf = await readFile(path);
  const { entries, metadata, dataStart } = parseSafetensors(buf, path);
  const tensors: Record<string, Tensor> = {};
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const { dtype } = CODES[e.code];
    // copy out: the slice may not be aligned for a typed-array view
    const bytes = buf.buffer.slice(buf.byteOffset + dataStart + e.begin, buf.byteOffset + dataStart + e.end);
    const arr: NumArray = dtype === 'float32' ? new Float32Array(bytes) : dtype === 'int32' ? new Int32Array(bytes) : new Float64Array(bytes);
    const dt: DType = dtype === 'float64' && device === 'gpu' ? 'float32' : dtype;
    setKey(tensors, e.name, fromArray(arr, e.shape, dt, device));
  }
  return { tensors, metadata };
}

/** Read a safetensors file into name -> Tensor. */
export async function load(path: string, o: LoadOptions = {}): Promise<Record<string, Tensor>> {
  return (await loadSafetensors(path, o)).tensors;
}
