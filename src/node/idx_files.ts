// IDX files on disk (format and checks in src/data/idx.ts), gunzipped with node:zlib. The Node
// entry's `wt.data.parseIdxImages` / `parseIdxLabels` use zlib too (the core's default is
// DecompressionStream, about half as fast in Node 20).
import { readFile } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import {
  parseIdxImages as parseImages, parseIdxLabels as parseLabels, type Gunzip, type IdxImages, type IdxLabels,
} from '../data/idx.ts';

/** Gunzip with node:zlib, chunk by chunk (stopping early stops decompressing). */
export async function* zlibGunzip(gz: Uint8Array): AsyncGenerator<Uint8Array> {
  const z = createGunzip();
  z.end(gz);
  try {
    for await (const c of z as AsyncIterable<Buffer>) yield new Uint8Array(c.buffer, c.byteOffset, c.byteLength);
  } finally {
    z.destroy();
  }
}

/** Parse IDX image bytes (raw or gzipped, node:zlib by default); `file` names them in errors. */
export function parseIdxImages(raw: Uint8Array, file: string, gunzip: Gunzip = zlibGunzip): Promise<IdxImages> {
  return parseImages(raw, file, gunzip);
}

/** Parse IDX label bytes (raw or gzipped, node:zlib by default); every label must be < numClasses. */
export function parseIdxLabels(raw: Uint8Array, file: string, numClasses = 10, gunzip: Gunzip = zlibGunzip): Promise<IdxLabels> {
  return parseLabels(raw, file, numClasses, gunzip);
}

async function readBytes(file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(file));
  } catch (e) {
    throw new Error(`IDX file ${file}: cannot read it (${(e as Error).message})`);
  }
}

/** Read an IDX images file (raw or .gz). */
export async function readIdxImages(file: string): Promise<IdxImages> {
  return parseIdxImages(await readBytes(file), file);
}

/** Read an IDX labels file (raw or .gz); labels must be < numClasses. */
export async function readIdxLabels(file: string, numClasses = 10): Promise<IdxLabels> {
  return parseIdxLabels(await readBytes(file), file, numClasses);
}
