// State dicts as safetensors bytes (format and validation in safetensors-format.ts), readable by
// Python's safetensors.torch.load / load_file. Tensors are written contiguously in sorted-name order.
// I64 tensors load as int32 (range-checked); int32 tensors may be written as I64
// (SaveOptions.int32As) to match torch's integer buffers. Files: src/node/weight_files.ts.
import { checkOptions } from '../backend/options.ts';
import type { NumArray } from '../kernels/kernel.ts';
import { fromArray } from '../tensor/launch.ts';
import { defaultDevice, Tensor } from '../tensor/tensor.ts';
import type { DType, Device } from '../tensor/storage.ts';
import { CODES, checkMetadata, cut, encodeHeader, i64BytesToInt32, int32ToI64Bytes, parseSafetensors, setKey } from './safetensors-format.ts';

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function requireLittleEndian(op: string): void {
  if (!LITTLE_ENDIAN) throw new Error(`${op}: safetensors I/O needs a little-endian host`);
}

/** Options of {@link saveBytes} (and the Node entry's `save`). */
export interface SaveOptions {
  /**
   * The code int32 tensors are written as: 'I32' (default) or 'I64', torch's integer dtype (BatchNorm's
   * num_batches_tracked is I64 in torch's files). Loading reads either back as int32.
   */
  int32As?: 'I32' | 'I64';
}

/** A validated safetensors encoding: the header now, each tensor's bytes (read back) on demand. */
export interface SafetensorsEncoding {
  /** Length field and padded JSON header. */
  header: Uint8Array;
  /** Bytes of the data buffer after the header. */
  dataBytes: number;
  /** Each tensor's bytes in file order (GPU tensors are read back one at a time). */
  tensorBytes(): AsyncGenerator<Uint8Array>;
}

/**
 * Validate `tensors` and `metadata` and lay out the file; `op` names the caller in errors. The
 * Node entry's `save` streams the result to a file, {@link saveBytes} into one array.
 */
export function encodeSafetensors(
  op: string,
  tensors: Record<string, Tensor>,
  metadata?: Record<string, string>,
  opts: SaveOptions = {},
): SafetensorsEncoding {
  requireLittleEndian(op);
  checkOptions(op, opts, ['int32As']);
  if (!tensors || typeof tensors !== 'object') throw new Error(`${op}: expected a name -> Tensor record, got ${String(tensors)}`);
  const meta = checkMetadata(op, metadata);
  const int32As = opts.int32As ?? 'I32';
  if (int32As !== 'I32' && int32As !== 'I64') throw new Error(`${op}: int32As must be 'I32' or 'I64', got ${String(int32As)}`);
  const names = Object.keys(tensors).sort();
  for (const name of names) {
    const t = tensors[name];
    if (name === '__metadata__') throw new Error(`${op}: '__metadata__' is reserved and cannot name a tensor`);
    if (!(t instanceof Tensor)) throw new Error(`${op}: '${name}' must be a Tensor, got ${typeof t}`);
    t.check(`${op} '${name}'`);
  }
  const codeOf = (t: Tensor) => (t.dtype === 'int32' ? int32As : undefined);
  const { header, dataBytes } = encodeHeader(
    names.map((name) => ({ name, dtype: tensors[name].dtype, shape: tensors[name].shape, code: codeOf(tensors[name]) })),
    meta,
  );
  async function* tensorBytes(): AsyncGenerator<Uint8Array> {
    for (const name of names) {
      const a: NumArray = await tensors[name].toArray();
      yield codeOf(tensors[name]) === 'I64' ? int32ToI64Bytes(a as Int32Array) : new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    }
  }
  return { header, dataBytes, tensorBytes };
}

/**
 * `tensors` as the bytes of a safetensors file (GPU tensors are read back). `metadata` values must
 * be strings. The Node entry's `save(tensors, path)` writes the same bytes to a file.
 */
export async function saveBytes(
  tensors: Record<string, Tensor>,
  metadata?: Record<string, string>,
  opts: SaveOptions = {},
): Promise<Uint8Array> {
  const enc = encodeSafetensors('saveBytes', tensors, metadata, opts);
  const out = new Uint8Array(enc.header.byteLength + enc.dataBytes);
  out.set(enc.header, 0);
  let pos = enc.header.byteLength;
  for await (const b of enc.tensorBytes()) {
    out.set(b, pos);
    pos += b.byteLength;
  }
  return out;
}

/** Options of {@link loadBytes} (and the Node entry's `load`). */
export interface LoadOptions {
  /** Where the tensors go (default: the GPU once init() has run). F64 becomes float32 on the GPU. */
  device?: Device;
}

/** The tensors and metadata of safetensors bytes; `what` names the source in errors (a path). */
export function decodeSafetensors(
  bytes: Uint8Array | ArrayBuffer,
  o: LoadOptions = {},
  what = 'bytes',
): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  requireLittleEndian('load');
  checkOptions('load', o, ['device']);
  const device = o.device ?? defaultDevice();
  if (device !== 'cpu' && device !== 'gpu') throw new Error(`load: device must be 'cpu' or 'gpu', got ${String(device)}`);
  const buf = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const { entries, metadata, dataStart } = parseSafetensors(buf, what);
  const tensors: Record<string, Tensor> = {};
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const { dtype } = CODES[e.code];
    // copy out: the slice may not be aligned for a typed-array view
    const data = buf.buffer.slice(buf.byteOffset + dataStart + e.begin, buf.byteOffset + dataStart + e.end) as ArrayBuffer;
    const arr: NumArray =
      e.code === 'I64' ? i64BytesToInt32(data, `load ${what}: tensor '${cut(e.name)}'`)
      : dtype === 'float32' ? new Float32Array(data)
      : dtype === 'int32' ? new Int32Array(data)
      : new Float64Array(data);
    const dt: DType = dtype === 'float64' && device === 'gpu' ? 'float32' : dtype;
    setKey(tensors, e.name, fromArray(arr, e.shape, dt, device));
  }
  return { tensors, metadata };
}

/** Read safetensors bytes (e.g. a fetched file): the tensors and the header's `__metadata__`. */
export function loadSafetensorsBytes(
  bytes: Uint8Array | ArrayBuffer,
  o: LoadOptions = {},
): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  return decodeSafetensors(bytes, o);
}

/** Read safetensors bytes into name -> Tensor (a state dict for `Module.loadStateDict`). */
export function loadBytes(bytes: Uint8Array | ArrayBuffer, o: LoadOptions = {}): Record<string, Tensor> {
  return decodeSafetensors(bytes, o).tensors;
}
