// IDX files on disk (format and checks in src/data/idx.ts), gunzipped with node:zlib.
import { readFile } from 'node:fs/promises';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { parseIdxImages, parseIdxLabels, type IdxImages, type IdxLabels } from '../data/idx.ts';

const gunzipAsync = promisify(gunzip);

/** Gunzip with node:zlib (about twice as fast as DecompressionStream in Node 20). */
export async function zlibGunzip(gz: Uint8Array): Promise<Uint8Array> {
  const out = await gunzipAsync(gz);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
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
  return parseIdxImages(await readBytes(file), file, zlibGunzip);
}

/** Read an IDX labels file (raw or .gz); labels must be < numClasses. */
export async function readIdxLabels(file: string, numClasses = 10): Promise<IdxLabels> {
  return parseIdxLabels(await readBytes(file), file, numClasses, zlibGunzip);
}
