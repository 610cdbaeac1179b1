// wt.save / wt.load: state dicts as safetensors files (format and validation in
// safetensors-format.ts), readable by Python's safetensors.torch.load_file. We write tensors
// contiguously in sorted-name order. I64 tensors load as int32 (range-checked); int32 tensors may
// be written as I64 (SaveOptions.int32As) to match torch's integer buffers.
import { readFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import type { NumArray } from '../kernels/kernel.ts';
import { fromArray } from '../tensor/launch.ts';
import { defaultDevice, Tensor } from '../tensor/tensor.ts';
import type { DType, Device } from '../tensor/storage.ts';
import { writeFileAtomic } from './atomic_file.ts';
import { CODES, checkMetadata, cut, encodeHeader, i64BytesToInt32, int32ToI64Bytes, parseSafetensors, setKey } from './safetensors-format.ts';

function requireLittleEndian(op: string): void {
  if (endianness() !== 'LE') throw new Error(`${op}: safetensors I/O needs a little-endian host`);
}

export interface SaveOptions {
  /**
   * The code int32 tensors are written as: 'I32' (default) or 'I64', torch's integer dtype (BatchNorm's
   * num_batches_tracked is I64 in torch's files). load() reads either back as int32.
   */
  int32As?: 'I32' | 'I64';
}

/**
 * Write `tensors` to `path` as safetensors, atomically (atomic_file.ts): `path` holds the previous
 * or the new complete file at every moment, also when the process is killed. GPU tensors are
 * read back first. `metadata` values must be strings.
 */
export async function save(
  tensors: Record<string, Tensor>,
  path: string,
  metadata?: Record<string, string>,
  opts: SaveOptions = {},
): Promise<void> {
  requireLittleEndian('save');
  if (typeof path !== 'string' || !path) throw new Error(`save: path must be a non-empty string, got ${String(path)}`);
  if (!tensors || typeof tensors !== 'object') throw new Error(`save: expected a name -> Tensor record, got ${String(tensors)}`);
  const meta = checkMetadata('save', metadata);
  const int32As = opts.int32As ?? 'I32';
  if (int32As !== 'I32' && int32As !== 'I64') throw new Error(`save: int32As must be 'I32' or 'I64', got ${String(int32As)}`);
  const names = Object.keys(tensors).sort();
  for (const name of names) {
    const t = tensors[name];
    if (name === '__metadata__') throw new Error("save: '__metadata__' is reserved and cannot name a tensor");
    if (!(t instanceof Tensor)) throw new Error(`save: '${name}' must be a Tensor, got ${typeof t}`);
    t.check(`save '${name}'`);
  }
  const codeOf = (t: Tensor) => (t.dtype === 'int32' ? int32As : undefined);
  const { header } = encodeHeader(
    names.map((name) => ({ name, dtype: tensors[name].dtype, shape: tensors[name].shape, code: codeOf(tensors[name]) })),
    meta,
  );

  await writeFileAtomic(path, (async function* () {
    yield header;
    for (const name of names) {
      const a: NumArray = await tensors[name].toArray();
      yield codeOf(tensors[name]) === 'I64' ? int32ToI64Bytes(a as Int32Array) : new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    }
  })(), 'save');
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
  const buf = await readFile(path).catch((e: Error) => {
    throw new Error(`load ${path}: cannot read the file (${e.message})`);
  });
  const { entries, metadata, dataStart } = parseSafetensors(buf, path);
  const tensors: Record<string, Tensor> = {};
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const { dtype } = CODES[e.code];
    // copy out: the slice may not be aligned for a typed-array view
    const bytes = buf.buffer.slice(buf.byteOffset + dataStart + e.begin, buf.byteOffset + dataStart + e.end);
    const arr: NumArray =
      e.code === 'I64' ? i64BytesToInt32(bytes, `load ${path}: tensor '${cut(e.name)}'`)
      : dtype === 'float32' ? new Float32Array(bytes)
      : dtype === 'int32' ? new Int32Array(bytes)
      : new Float64Array(bytes);
    const dt: DType = dtype === 'float64' && device === 'gpu' ? 'float32' : dtype;
    setKey(tensors, e.name, fromArray(arr, e.shape, dt, device));
  }
  return { tensors, metadata };
}

/** Read a safetensors file into name -> Tensor. */
export async function load(path: string, o: LoadOptions = {}): Promise<Record<string, Tensor>> {
  return (await loadSafetensors(path, o)).tensors;
}
