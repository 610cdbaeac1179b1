// IDX files (LeCun's MNIST format, also Fashion-MNIST), raw or gzipped (detected by the gzip
// magic 0x1f 0x8b). Layout, all big-endian:
//   bytes 0..3   magic: 0x00 0x00 <type> <ndims>; type 0x08 = unsigned byte
//   bytes 4..    ndims u32 sizes
//   then         prod(sizes) data bytes, row-major; nothing after.
// Images are 0x00000803 (n, rows, cols), labels 0x00000801 (n). Every check names the file.
// Parsing from bytes works anywhere; reading files and gunzip with node:zlib: src/node/idx_files.ts.

/** Decompresses a gzip stream, yielding the output in chunks (so a caller can stop early). */
export type Gunzip = (gz: Uint8Array) => AsyncIterable<Uint8Array>;

/** Gunzip with the web-standard DecompressionStream (browsers, Deno, Node >= 18). */
export async function* streamGunzip(gz: Uint8Array): AsyncGenerator<Uint8Array> {
  const reader = new Blob([gz as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip')).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value as Uint8Array;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** Magic number of an IDX file of unsigned-byte images (n, rows, cols). */
export const IDX_IMAGES_MAGIC = 0x00000803;
/** Magic number of an IDX file of unsigned-byte labels (n). */
export const IDX_LABELS_MAGIC = 0x00000801;

/** Images parsed from an IDX file. */
export interface IdxImages {
  n: number;
  rows: number;
  cols: number;
  /** n * rows * cols bytes, image-major, row-major within an image. */
  data: Uint8Array;
}

/** Labels parsed from an IDX file. */
export interface IdxLabels {
  n: number;
  data: Uint8Array;
}

const hex = (v: number) => `0x${v.toString(16).padStart(8, '0')}`;

/** True when `bytes` starts with the gzip magic 0x1f 0x8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Deflate's largest expansion: a 258-byte match coded in 2 bits, so 1032 output bytes per input byte. */
const MAX_DEFLATE_RATIO = 1032;

/** `n` bytes of `chunks`, in one array. */
function concat(chunks: Uint8Array[], n: number): Uint8Array {
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * Gunzip if gzipped; decompression failures are rethrown naming the file. With `magic`, the output
 * is bounded by the IDX header it starts with: sizes that need more bytes than the gzip data can
 * expand to are rejected before they are read, and decompression stops at the first byte past
 * them, so a corrupt header or a gzip bomb never allocates more than the file can hold.
 */
export async function maybeGunzip(bytes: Uint8Array, file: string, magic?: number, gunzip: Gunzip = streamGunzip): Promise<Uint8Array> {
  if (!isGzip(bytes)) return bytes;
  const headerBytes = magic === undefined ? Infinity : 4 + 4 * (magic & 0xff);
  const chunks: Uint8Array[] = [];
  let got = 0;
  let expected = Infinity;
  let sizeError: Error | null = null; // our own check failed (not the decompressor)
  try {
    for await (const chunk of gunzip(bytes)) {
      chunks.push(chunk);
      got += chunk.length;
      if (expected === Infinity && got >= headerBytes) {
        const head = concat(chunks, got);
        chunks.splice(0, chunks.length, head);
        const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
        // a wrong magic is reported by parseIdx, from the bytes read so far
        if (dv.getUint32(0, false) !== magic) break;
        const dims = Array.from({ length: headerBytes / 4 - 1 }, (_, i) => dv.getUint32(4 + 4 * i, false));
        expected = headerBytes + dims.reduce((a, b) => a * b, 1);
        if (expected > MAX_DEFLATE_RATIO * bytes.length)
          throw (sizeError = new Error(
            `IDX file ${file}: sizes [${dims.join(', ')}] need ${expected} bytes, more than ${bytes.length} bytes of gzip data can hold ` +
              `(at most ${MAX_DEFLATE_RATIO}x); the file is truncated or corrupt`,
          ));
      }
      if (got > expected)
        throw (sizeError = new Error(
          `IDX file ${file}: the gzip data holds more than the ${expected} bytes its header's sizes give (trailing bytes); the file is corrupt`,
        ));
    }
  } catch (e) {
    if (e === sizeError) throw e;
    throw new Error(
      `IDX file ${file}: corrupt or truncated gzip data (${(e as Error).message}); ` +
        'delete it and download / reinstall it',
    );
  }
  return chunks.length === 1 ? chunks[0] : concat(chunks, got);
}

/** Check the header of decompressed IDX bytes; returns the sizes and the data bytes (a view). */
export function parseIdx(bytes: Uint8Array, file: string, magic: number): { dims: number[]; data: Uint8Array } {
  const what = magic === IDX_IMAGES_MAGIC ? 'images' : magic === IDX_LABELS_MAGIC ? 'labels' : 'data';
  const ndims = magic & 0xff;
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < 4) throw new Error(`IDX file ${file}: only ${bytes.length} bytes, too short for an IDX header (truncated)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const got = dv.getUint32(0, false);
  if (got !== magic)
    throw new Error(
      `IDX file ${file}: magic number ${hex(got)}, expected ${hex(magic)} (IDX ${what}: unsigned bytes, ${ndims} dims); ` +
        'not an IDX file of that kind, or corrupt',
    );
  if (bytes.length < headerBytes)
    throw new Error(`IDX file ${file}: ${bytes.length} bytes, too short for the ${headerBytes}-byte header (truncated)`);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(dv.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  const expected = headerBytes + count;
  if (bytes.length !== expected)
    throw new Error(
      `IDX file ${file}: ${bytes.length} bytes (decompressed), expected exactly ${expected} for sizes [${dims.join(', ')}] ` +
        `(${bytes.length < expected ? 'truncated' : 'trailing bytes'}); the file is corrupt`,
    );
  return { dims, data: bytes.subarray(headerBytes) };
}

/** Parse IDX image bytes (raw or gzipped); `file` names them in errors. */
export async function parseIdxImages(raw: Uint8Array, file: string, gunzip?: Gunzip): Promise<IdxImages> {
  const { dims, data } = parseIdx(await maybeGunzip(raw, file, IDX_IMAGES_MAGIC, gunzip), file, IDX_IMAGES_MAGIC);
  const [n, rows, cols] = dims;
  if (rows === 0 || cols === 0) throw new Error(`IDX file ${file}: images of ${rows}x${cols} pixels`);
  return { n, rows, cols, data };
}

/** Parse IDX label bytes (raw or gzipped); every label must be < numClasses. */
export async function parseIdxLabels(raw: Uint8Array, file: string, numClasses = 10, gunzip?: Gunzip): Promise<IdxLabels> {
  const { dims, data } = parseIdx(await maybeGunzip(raw, file, IDX_LABELS_MAGIC, gunzip), file, IDX_LABELS_MAGIC);
  for (let i = 0; i < data.length; i++)
    if (data[i] >= numClasses)
      throw new Error(`IDX file ${file}: label ${i} is ${data[i]}, expected 0..${numClasses - 1}; the file is corrupt`);
  return { n: dims[0], data };
}

/** Encode an IDX file (tests, small exports): magic for `dims.length` dims of unsigned bytes. */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Uint8Array {
  const head = 4 + 4 * dims.length;
  const out = new Uint8Array(head + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 0x00000800 | dims.length, false);
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d, false));
  out.set(data, head);
  return out;
}
