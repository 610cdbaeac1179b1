// Crash-safe file replacement (Node only). The bytes go to `<path>.tmp-<pid>-<rand>` in the same
// directory, the file is fsynced, renamed over `path` and the directory fsynced, so at every moment
// `path` holds either the previous complete file or the new complete file, also after a SIGKILL or
// a power cut. The temporary file is removed when writing fails; temporary files left by processes
// that were killed (their pid no longer runs) are removed by the next write to the same path.
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open, readdir, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

/** What can be written: bytes, text (UTF-8), or chunks produced one after another. */
export type AtomicData = string | Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

const TMP = /^(.*)\.tmp-(\d+)-[0-9a-f]+$/;

function tmpName(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Temporary files of `path` whose writer is no longer running. */
function stale(path: string, names: string[]): string[] {
  const base = basename(path);
  const out: string[] = [];
  for (const n of names) {
    const m = TMP.exec(n);
    if (m && m[1] === base && !alive(Number(m[2]))) out.push(join(dirname(path), n));
  }
  return out;
}

function checkPath(op: string, path: string): void {
  if (typeof path !== 'string' || !path) throw new Error(`${op}: path must be a non-empty string, got ${String(path)}`);
}

/** Replace `path` with `data` atomically and durably (see the file comment). */
export async function writeFileAtomic(path: string, data: AtomicData, op = 'writeFileAtomic'): Promise<void> {
  checkPath(op, path);
  const dir = dirname(path);
  for (const f of stale(path, await readdir(dir).catch(() => []))) await unlink(f).catch(() => {});
  const tmp = tmpName(path);
  const fh = await open(tmp, 'wx');
  try {
    if (typeof data === 'string' || data instanceof Uint8Array) await fh.writeFile(data);
    else for await (const chunk of data) for (let off = 0; off < chunk.byteLength; ) off += (await fh.write(chunk, off)).bytesWritten;
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
  } catch (e) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw e;
  }
  // persist the rename (best effort: not every platform can fsync a directory)
  const dh = await open(dir, 'r').catch(() => null);
  if (dh) await dh.sync().catch(() => {}).finally(() => dh.close());
}

/** writeFileAtomic for synchronous callers (small files: metrics, plots). */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, op = 'writeFileAtomicSync'): void {
  checkPath(op, path);
  const dir = dirname(path);
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    // the open below reports a missing directory
  }
  for (const f of stale(path, names)) {
    try {
      unlinkSync(f);
    } catch {
      // another process removed it
    }
  }
  const tmp = tmpName(path);
  let fd: number | null = openSync(tmp, 'wx');
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    for (let off = 0; off < bytes.byteLength; ) off += writeSync(fd, bytes, off);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (e) {
    try {
      if (fd !== null) closeSync(fd);
    } catch {
      // the error below is the one to report
    }
    try {
      unlinkSync(tmp);
    } catch {
      // never created or already renamed
    }
    throw e;
  }
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // best effort, as above
  }
}
