// The safetensors byte format (https://github.com/huggingface/safetensors): header encoding and
// whole-file validation. Layout:
//   bytes 0..8        N, the header length, little-endian u64
//   bytes 8..8+N      UTF-8 JSON: { "__metadata__": {str: str}, name: {dtype, shape, data_offsets: [b, e]} }
//                     padded with spaces so 8 + N is a multiple of 8
//   bytes 8+N..       the byte buffer: each tensor row-major little-endian at [b, e) relative to it
// On load every byte of the buffer must belong to exactly one tensor (no gaps, no overlaps), as the
// reference implementation requires.
// I64 (torch's default integer dtype, e.g. BatchNorm's num_batches_tracked) has no dtype of its
// own here: it is read into int32 when every value fits, and int32 may be written as I64.
import type { DType } from '../tensor/storage.ts';

/** safetensors dtype code -> the dtype it is read as, with the element size in bytes in the file. */
export const CODES: Record<string, { dtype: DType; bytes: number }> = {
  F32: { dtype: 'float32', bytes: 4 },
  F64: { dtype: 'float64', bytes: 8 },
  I32: { dtype: 'int32', bytes: 4 },
  I64: { dtype: 'int32', bytes: 8 },
};
/** The code each dtype is written as by default. */
export const CODE_OF: Record<DType, string> = { float32: 'F32', float64: 'F64', int32: 'I32' };
/** Codes read as another dtype than their own (the values are narrowed, range-checked). */
const NARROWED: readonly string[] = ['I64'];

/** int32 values as I64 bytes (little-endian: low word, then the sign extension). */
export function int32ToI64Bytes(a: Int32Array): Uint8Array {
  const w = new Int32Array(a.length * 2);
  for (let i = 0; i < a.length; i++) {
    w[2 * i] = a[i];
    w[2 * i + 1] = a[i] >> 31;
  }
  return new Uint8Array(w.buffer);
}

/** I64 bytes (a copy, 4-byte aligned) as int32; throws naming the tensor if a value is outside int32. */
export function i64BytesToInt32(bytes: ArrayBuffer, what: string): Int32Array {
  const w = new Int32Array(bytes);
  const out = new Int32Array(w.length / 2);
  for (let i = 0; i < out.length; i++) {
    const lo = w[2 * i];
    if (w[2 * i + 1] !== lo >> 31) {
      const v = new BigInt64Array(bytes, 8 * i, 1)[0];
      throw new Error(
        `${what}: I64 value ${v} at element ${i} does not fit in int32 [-2147483648, 2147483647]; ` +
          'I64 tensors are read as int32, so only int32-range values can be loaded',
      );
    }
    out[i] = lo;
  }
  return out;
}
/** The reference reader refuses headers above 100 MB. */
const MAX_HEADER = 100_000_000;

/** Text from a file for an error message, cut to 60 characters (a header can be 100 MB). */
export function cut(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
/** A value from a file for an error message: JSON, cut. */
export function show(v: unknown): string {
  return cut(JSON.stringify(v) ?? String(v));
}

/** Set a key even when it is "__proto__" (names come from files and users). */
export function setKey<T>(o: Record<string, T>, k: string, v: T): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

export function checkMetadata(op: string, metadata: unknown): Record<string, string> {
  if (metadata === undefined) return {};
  if (!metadata || typeof metadata !== 'object' || Array.isArray(metadata))
    throw new Error(`${op}: metadata must be a record of strings, got ${show(metadata)}`);
  for (const [k, v] of Object.entries(metadata))
    if (typeof v !== 'string') throw new Error(`${op}: metadata value '${cut(k)}' must be a string, got ${typeof v}`);
  return metadata as Record<string, string>;
}

/**
 * Build the padded header for tensors in the given order; returns it and the buffer size. `code`
 * overrides the dtype's default code (only I64 for int32).
 */
export function encodeHeader(
  entries: { name: string; dtype: DType; shape: readonly number[]; code?: string }[],
  metadata: Record<string, string> = {},
): { header: Uint8Array; dataBytes: number } {
  const h: Record<string, unknown> = {};
  if (Object.keys(metadata).length) h.__metadata__ = metadata;
  let off = 0;
  for (const e of entries) {
    const code = e.code ?? CODE_OF[e.dtype];
    if (CODES[code]?.dtype !== e.dtype) throw new Error(`save: tensor '${e.name}' is ${e.dtype} and cannot be written as ${code}`);
    const bytes = CODES[code].bytes * e.shape.reduce((a, b) => a * b, 1);
    setKey(h, e.name, { dtype: code, shape: [...e.shape], data_offsets: [off, off + bytes] });
    off += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(h));
  const n = Math.ceil((8 + json.length) / 8) * 8 - 8;
  const header = new Uint8Array(8 + n).fill(0x20);
  new DataView(header.buffer).setBigUint64(0, BigInt(n), true);
  header.set(json, 8);
  return { header, dataBytes: off };
}

export interface Entry {
  name: string;
  code: string;
  shape: number[];
  begin: number;
  end: number;
}

/** Parse and validate a whole safetensors file held in memory. */
export function parseSafetensors(buf: Uint8Array, what = 'safetensors'): { entries: Entry[]; metadata: Record<string, string>; dataStart: number } {
  const op = `load ${what}`;
  if (buf.length < 8) throw new Error(`${op}: file is truncated: ${buf.length} bytes, need at least 8 for the header length`);
  const n64 = new DataView(buf.buffer, buf.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(buf.length - 8))
    throw new Error(`${op}: header length ${n64} goes beyond the file (${buf.length - 8} bytes after the length field); truncated or corrupt`);
  const n = Number(n64);
  if (n > MAX_HEADER) throw new Error(`${op}: header length ${n} exceeds the ${MAX_HEADER}-byte limit`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + n)));
  } catch (e) {
    throw new Error(`${op}: header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header))
    throw new Error(`${op}: header must be a JSON object, got ${Array.isArray(header) ? 'an array' : typeof header}`);
  const dataStart = 8 + n;
  const dataLen = buf.length - dataStart;
  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = checkMetadata(op, info);
      continue;
    }
    const bad = (msg: string) => new Error(`${op}: tensor '${cut(name)}': ${msg}`);
    if (!info || typeof info !== 'object') throw bad('entry must be an object { dtype, shape, data_offsets }');
    const { dtype, shape, data_offsets: offs } = info as Record<string, unknown>;
    if (typeof dtype !== 'string' || !Object.hasOwn(CODES, dtype))
      throw bad(
        `unsupported dtype ${show(dtype)} (supported: ${Object.keys(CODES).filter((c) => !NARROWED.includes(c)).join(', ')}), ` +
          `and ${NARROWED.join(', ')} read as int32`,
      );
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0))
      throw bad(`shape must be an array of non-negative integers, got ${show(shape)}`);
    if (!Array.isArray(offs) || offs.length !== 2 || offs.some((o) => !Number.isSafeInteger(o) || o < 0))
      throw bad(`data_offsets must be [begin, end] non-negative integers, got ${show(offs)}`);
    const [begin, end] = offs as number[];
    if (end < begin) throw bad(`data_offsets [${begin}, ${end}] end before they begin`);
    if (end > dataLen) throw bad(`data_offsets [${begin}, ${end}] are out of range: the data buffer has ${dataLen} bytes (truncated file?)`);
    const want = (shape as number[]).reduce((a, b) => a * b, 1) * CODES[dtype].bytes;
    if (end - begin !== want)
      throw bad(`shape [${cut(String(shape))}] of ${dtype} needs ${Number.isSafeInteger(want) ? want : 'over 2^53'} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
    entries.push({ name, code: dtype, shape: shape as number[], begin, end });
  }
  // every byte of the buffer belongs to exactly one tensor
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const e of sorted) {
    if (e.begin < pos) throw new Error(`${op}: tensor '${cut(e.name)}' data_offsets [${e.begin}, ${e.end}] overlap the previous tensor (which ends at ${pos})`);
    if (e.begin > pos) throw new Error(`${op}: gap in the data buffer: bytes [${pos}, ${e.begin}) before tensor '${cut(e.name)}' belong to no tensor`);
    pos = e.end;
  }
  if (pos !== dataLen) throw new Error(`${op}: the data buffer has ${dataLen} bytes but the tensors cover only ${pos}`);
  return { entries, metadata, dataStart };
}

