// Fashion-MNIST on disk: find the four IDX files, or download them (MD5-checked, written
// atomically), and load them as byte arrays (parsing: src/data/fashion.ts). Search order: `dir` (or
// `--data DIR` on the command line), $FASHION_MNIST_DIR, ./data/fashion-mnist,
// /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist). A given `dir` must hold
// the files; the others are tried in turn.
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import {
  checkLimits, splitFromBytes, FASHION_MNIST_FILES, FASHION_MNIST_KEYS, FASHION_MNIST_URL,
  type FashionMNIST, type FashionMNISTFile, type Split, type SplitLimits,
} from '../data/fashion.ts';
import { writeFileAtomic } from './atomic_file.ts';
import { zlibGunzip } from './idx_files.ts';
import { checkOptions } from '../backend/options.ts';

/** Where downloads go by default. */
export const DEFAULT_DOWNLOAD_DIR = './data/fashion-mnist';
/** Where the Debian package dataset-fashion-mnist installs the files. */
export const SYSTEM_DIR = '/usr/share/datasets/fashion-mnist';

/** Where {@link locateFashionMNIST} looks. */
export interface LocateOptions {
  /** A folder that must hold the files (`--data DIR`). Defaults to `--data` in process.argv. */
  dir?: string;
  /** Replace the default search list (tests). */
  searchPath?: string[];
}

/** Options of {@link loadFashionMNIST}. */
export interface LoadOptions extends LocateOptions, SplitLimits {
  /** Download when not found (default true). */
  download?: boolean;
  /** Where downloads go (default ./data/fashion-mnist). */
  downloadDir?: string;
  /** Milliseconds to wait for the server to answer before treating the network as offline (default 10000). */
  connectTimeoutMs?: number;
  /** fetch to use (tests inject a failing one). */
  fetch?: typeof globalThis.fetch;
}

/** The value of `--data DIR` or `--data=DIR` in `argv`, if any. */
export function dataDirFromArgv(argv: readonly string[] = process.argv): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--data' && i + 1 < argv.length) return argv[i + 1];
    if (argv[i].startsWith('--data=')) return argv[i].slice('--data='.length);
  }
  return undefined;
}

/** The folders searched, in order (without `dir`, which is checked on its own). */
export function fashionMnistSearchPath(): string[] {
  const out: string[] = [];
  const env = process.env.FASHION_MNIST_DIR;
  if (env) out.push(env);
  out.push(DEFAULT_DOWNLOAD_DIR, SYSTEM_DIR);
  return out;
}

/** The path of one file in `dir`: raw before gzipped; also the MNIST-style `train-images.idx3-ubyte`. */
function findFile(dir: string, base: string): string | null {
  const dotted = base.replace('-idx', '.idx');
  for (const name of [base, `${base}.gz`, dotted, `${dotted}.gz`]) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return null;
}

/** The four file paths in `dir`, or the base names that are missing. */
function filesIn(dir: string): { files: Record<FashionMNISTFile, string> } | { missing: string[] } {
  const files = {} as Record<FashionMNISTFile, string>;
  const missing: string[] = [];
  for (const k of FASHION_MNIST_KEYS) {
    const p = findFile(dir, FASHION_MNIST_FILES[k].name);
    if (p) files[k] = p;
    else missing.push(FASHION_MNIST_FILES[k].name);
  }
  return missing.length ? { missing } : { files };
}

/** The folder holding the four files, and each file's path. */
export interface Located {
  dir: string;
  files: Record<FashionMNISTFile, string>;
}

const LOCATE_KEYS = ['dir', 'searchPath'];
const LOAD_KEYS = [...LOCATE_KEYS, 'trainLimit', 'testLimit', 'download', 'downloadDir', 'connectTimeoutMs', 'fetch'];

/** Find the dataset: `dir` (must hold all four files, else throws), then the search path. null if nowhere. */
export function locateFashionMNIST(o: LocateOptions = {}): Located | null {
  checkOptions('locateFashionMNIST', o, LOCATE_KEYS);
  const dir = o.dir ?? dataDirFromArgv();
  if (dir !== undefined) {
    const r = filesIn(dir);
    if ('missing' in r)
      throw new Error(
        `loadFashionMNIST: data folder ${resolve(dir)} (--data / dir) lacks ${r.missing.join(', ')} ` +
          '(raw or .gz); point it at the folder holding the four Fashion-MNIST IDX files',
      );
    return { dir, files: r.files };
  }
  for (const d of o.searchPath ?? fashionMnistSearchPath()) {
    const r = filesIn(d);
    if ('files' in r) return { dir: d, files: r.files };
  }
  return null;
}

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');

/** A failure that is not the network's (checksum, disk): reported as is, not as 'offline'. */
class LocalError extends Error {}
const BODY_TIMEOUT_MS = 600_000;

/** Download one .gz file, check its MD5, write it atomically (atomic_file.ts). */
async function downloadOne(k: FashionMNISTFile, destDir: string, o: LoadOptions): Promise<void> {
  const { name, md5: want } = FASHION_MNIST_FILES[k];
  const url = `${FASHION_MNIST_URL}${name}.gz`;
  const ctl = new AbortController();
  let timer = setTimeout(() => ctl.abort(new Error(`no answer within ${o.connectTimeoutMs ?? 10000} ms`)), o.connectTimeoutMs ?? 10000);
  let body: Uint8Array;
  try {
    const res = await (o.fetch ?? globalThis.fetch)(url, { signal: ctl.signal });
    clearTimeout(timer);
    if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
    // The body may take a while (26 MB); give it BODY_TIMEOUT_MS in all.
    timer = setTimeout(() => ctl.abort(new Error(`${url} took over ${BODY_TIMEOUT_MS} ms`)), BODY_TIMEOUT_MS);
    body = new Uint8Array(await res.arrayBuffer());
  } finally {
    clearTimeout(timer);
  }
  const got = md5(body);
  if (got !== want) throw new LocalError(`${url}: MD5 ${got}, expected ${want} (corrupt download); nothing was written`);
  const dest = join(destDir, `${name}.gz`);
  try {
    await mkdir(destDir, { recursive: true });
    await writeFileAtomic(dest, body);
  } catch (e) {
    throw new LocalError(`cannot write ${dest} (${(e as Error).message})`);
  }
}

/** An error's message with its cause (fetch reports 'fetch failed' and hides the reason in cause). */
function errText(e: unknown): string {
  const err = e as Error & { cause?: unknown };
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err.message ?? String(e)}${cause}`;
}

function notFoundHelp(searched: string[]): string {
  return (
    `Fashion-MNIST not found (looked in ${searched.map((d) => resolve(d)).join(', ')}). ` +
    "Install it with 'apt-get install dataset-fashion-mnist' (Debian package dataset-fashion-mnist, files in " +
    `${SYSTEM_DIR}), or pass --data DIR (option dir) / set FASHION_MNIST_DIR to a folder holding ` +
    'train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz'
  );
}

/** Download the four files into `downloadDir`; throws the install help when offline. */
export async function downloadFashionMNIST(o: LoadOptions = {}): Promise<Located> {
  checkOptions('downloadFashionMNIST', o, LOAD_KEYS);
  const destDir = o.downloadDir ?? DEFAULT_DOWNLOAD_DIR;
  const searched = [...(o.searchPath ?? fashionMnistSearchPath())];
  try {
    for (const k of FASHION_MNIST_KEYS) if (!findFile(destDir, FASHION_MNIST_FILES[k].name)) await downloadOne(k, destDir, o);
  } catch (e) {
    if (e instanceof LocalError) throw new Error(`loadFashionMNIST: ${e.message}`);
    throw new Error(
      `loadFashionMNIST: download from ${FASHION_MNIST_URL} failed (${errText(e)}; offline?). ${notFoundHelp(searched)}`,
    );
  }
  const r = filesIn(destDir);
  if ('missing' in r) throw new Error(`loadFashionMNIST: ${destDir} still lacks ${r.missing.join(', ')} after download`);
  return { dir: destDir, files: r.files };
}

async function loadSplit(imagesFile: string, labelsFile: string, limit: number | undefined): Promise<Split> {
  const [imgRaw, labRaw] = await Promise.all([readFile(imagesFile), readFile(labelsFile)]).catch((e: Error) => {
    throw new Error(`loadFashionMNIST: cannot read ${imagesFile} / ${labelsFile} (${e.message})`);
  });
  return splitFromBytes('loadFashionMNIST', new Uint8Array(imgRaw), new Uint8Array(labRaw), imagesFile, labelsFile, limit, zlibGunzip);
}

/** Load Fashion-MNIST (see the search order above); downloads when not found and `download` is not false. */
export async function loadFashionMNIST(o: LoadOptions = {}): Promise<FashionMNIST> {
  checkOptions('loadFashionMNIST', o, LOAD_KEYS);
  checkLimits('loadFashionMNIST', o);
  let loc = locateFashionMNIST({ dir: o.dir, searchPath: o.searchPath });
  if (!loc) {
    if (o.download === false) throw new Error(`loadFashionMNIST: ${notFoundHelp(o.searchPath ?? fashionMnistSearchPath())}`);
    loc = await downloadFashionMNIST(o);
  }
  const f = loc.files;
  const [train, test] = await Promise.all([
    loadSplit(f.trainImages, f.trainLabels, o.trainLimit),
    loadSplit(f.testImages, f.testLabels, o.testLimit),
  ]);
  return { train, test, dir: loc.dir };
}
