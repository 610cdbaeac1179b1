// writeFileAtomic / writeFileAtomicSync: the target is replaced whole; a failed write leaves the old
// file and no temporary file; temporary files of dead writers are removed, those of live ones kept.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';

const dir = mkdtempSync(join(tmpdir(), 'wt-atomic-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const temps = () => readdirSync(dir).filter((f) => f.includes('.tmp-'));

describe('atomic file writes', () => {
  it('writes text, bytes and chunk streams whole, leaving no temporary file', async () => {
    const p = join(dir, 'a.txt');
    await wt.writeFileAtomic(p, 'hello');
    expect(readFileSync(p, 'utf8')).toBe('hello');
    await wt.writeFileAtomic(p, Uint8Array.of(1, 2, 3));
    expect([...readFileSync(p)]).toEqual([1, 2, 3]);
    await wt.writeFileAtomic(
      p,
      (async function* () {
        yield Uint8Array.of(4);
        yield new Uint8Array(0);
        yield Uint8Array.of(5, 6);
      })(),
    );
    expect([...readFileSync(p)]).toEqual([4, 5, 6]);
    wt.writeFileAtomicSync(p, 'sync');
    expect(readFileSync(p, 'utf8')).toBe('sync');
    expect(temps()).toEqual([]);
  });

  it('a failing write keeps the old file and removes its temporary file', async () => {
    const p = join(dir, 'b.txt');
    writeFileSync(p, 'old');
    const failing = (async function* () {
      yield Uint8Array.of(1, 2);
      throw new Error('producer failed');
    })();
    await expect(wt.writeFileAtomic(p, failing)).rejects.toThrow('producer failed');
    expect(readFileSync(p, 'utf8')).toBe('old');
    expect(temps()).toEqual([]);
    await expect(wt.writeFileAtomic(join(dir, 'missing', 'c.txt'), 'x')).rejects.toThrow(/ENOENT/);
    expect(() => wt.writeFileAtomicSync(join(dir, 'missing', 'c.txt'), 'x')).toThrow(/ENOENT/);
    await expect(wt.writeFileAtomic('', 'x')).rejects.toThrow('writeFileAtomic: path must be a non-empty string');
  });

  it('removes temporary files of writers that no longer run, keeps those of running ones', async () => {
    const p = join(dir, 'd.bin');
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!; // exited and reaped
    const live = process.ppid;
    writeFileSync(`${p}.tmp-${dead}-0a1b2c`, 'stale');
    writeFileSync(`${p}.tmp-${live}-3d4e5f`, 'in progress');
    writeFileSync(join(dir, `other.bin.tmp-${dead}-0a1b2c`), 'another target');
    await wt.writeFileAtomic(p, 'new');
    expect(temps().sort()).toEqual([`d.bin.tmp-${live}-3d4e5f`, `other.bin.tmp-${dead}-0a1b2c`]);
    writeFileSync(`${p}.tmp-${dead}-0a1b2c`, 'stale');
    wt.writeFileAtomicSync(p, 'newer');
    expect(temps().sort()).toEqual([`d.bin.tmp-${live}-3d4e5f`, `other.bin.tmp-${dead}-0a1b2c`]);
    expect(readFileSync(p, 'utf8')).toBe('newer');
  });
});
