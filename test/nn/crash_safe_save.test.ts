// Crash-safe saves: a child process saves checkpoints of a ~4 MB model to one path in a loop and is
// killed with SIGKILL at random moments, mostly in the middle of a write. After every kill the file
// loads and is one complete version: the last one the child reported saved, or the one whose rename
// had just happened, with every tensor from that same version. Temporary files of killed writers are
// removed by the next writer. Runs on the CPU (no GPU needed).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { writerModel, writerValues } from '../fixtures/checkpoint_writer_model.ts';

const dir = mkdtempSync(join(tmpdir(), 'wt-crash-'));
const path = join(dir, 'ckpt.safetensors');
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

interface Writer {
  child: ChildProcess;
  ready: Promise<void>;
  /** Resolves at the "saving" line of the second save (the first has completed by then). */
  secondSave: Promise<void>;
  closed: Promise<void>;
  /** Versions reported saved and how long each save took (ms). */
  saved: { v: number; ms: number }[];
  out: string;
}

function spawnWriter(): Writer {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'test/fixtures/checkpoint_writer.ts', path], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
  });
  children.push(child);
  const w = { child, saved: [], out: '' } as unknown as Writer;
  let onReady!: () => void;
  let onSecond!: () => void;
  w.ready = new Promise((res) => (onReady = res));
  w.secondSave = new Promise((res) => (onSecond = res));
  let start = 0;
  w.closed = new Promise((res) => child.on('close', () => res()));
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    w.out += d.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line === 'ready') onReady();
      const m = /^(saving|saved) (\d+)$/.exec(line);
      if (m?.[1] === 'saving') {
        start = performance.now();
        if (w.saved.length) onSecond();
      } else if (m) w.saved.push({ v: Number(m[2]), ms: performance.now() - start });
    }
  });
  child.stderr!.on('data', (d: Buffer) => (w.out += d.toString()));
  return w;
}

/** Load the checkpoint into a fresh model; check every tensor is from the version it names; return it. */
async function loadedVersion(): Promise<number> {
  const model = writerModel();
  const opt = new wt.optim.SGD(model.parameters(), { lr: 1 });
  const { epoch, extra } = await wt.loadCheckpoint(path, { model, optimizer: opt });
  const v = (extra as { version: number }).version;
  expect(epoch).toBe(v);
  const want = writerValues(v);
  const sd = model.stateDict();
  for (const [k, t] of Object.entries(sd)) {
    const got = (await t.toArray()) as Float32Array;
    const exp = want[k].data;
    let bad = -1;
    for (let i = 0; i < exp.length && bad < 0; i++) if (got[i] !== exp[i]) bad = i;
    expect(bad, `${k}[${bad}] of version ${v}`).toBe(-1);
    t.dispose();
  }
  for (const p of model.parameters()) p.dispose();
  return v;
}

/** A small seeded generator, so a failing kill schedule can be replayed. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('crash-safe checkpoint saves', () => {
  it('SIGKILL at random moments during saves leaves a complete, loadable version every time', async () => {
    const KILLS = 20;
    const seed = Date.now() % 100000;
    const rand = lcg(seed);
    const t0 = performance.now();
    // two writers start up while one writes: process start-up (tsx, the library) dominates the time
    const spares = [spawnWriter(), spawnWriter()];
    let spawned = spares.length;
    let version = 0; // the version in the file
    let saveMs = 100; // running estimate of one save's duration
    let midWrite = 0;
    const log: string[] = [];
    for (let k = 0; k < KILLS; k++) {
      const w = spares.shift()!;
      if (spawned < KILLS) {
        spares.push(spawnWriter());
        spawned++;
      }
      await w.ready;
      w.child.stdin!.write(`${version + 1}\n`);
      // kill at a uniformly random moment of the second save (and a little after it)
      await w.secondSave;
      const delay = rand() * 1.2 * saveMs;
      await new Promise((res) => setTimeout(res, delay));
      w.child.kill('SIGKILL');
      await w.closed;
      const s = w.saved;
      for (const e of s.slice(1)) saveMs = 0.7 * saveMs + 0.3 * e.ms;
      const tmps = readdirSync(dir).filter((f) => f.includes('.tmp-'));
      // only the killed writer's own temporary file may remain: the writer before it was cleaned up
      expect(tmps.every((f) => f.includes(`.tmp-${w.child.pid}-`)), `${tmps}`).toBe(true);
      if (tmps.length) midWrite++;
      const acked = s[s.length - 1].v;
      const v = await loadedVersion();
      log.push(`kill ${k}: delay ${delay.toFixed(0)} ms, acked ${acked}, file ${v}, temp left ${tmps.length}`);
      expect([acked, acked + 1], `${log.join('\n')}\nseed ${seed}\n${w.out}`).toContain(v);
      version = v;
    }
    console.log(
      `${KILLS} kills (${midWrite} in the middle of a write) in ${((performance.now() - t0) / 1000).toFixed(1)} s; ` +
        `save ~${saveMs.toFixed(0)} ms; seed ${seed}`,
    );
    // the schedule lands most kills inside a write; a handful is enough to mean something
    expect(midWrite).toBeGreaterThanOrEqual(3);
  }, 180_000);
});
