// The autotuner with a fake clock: the pick (fastest, ties to the default), the per-family budget,
// the modes ('off', 'memory', 'persist'), picks surviving a restart through the file store, a corrupt
// cache file ignored with a warning; then the ops' families on the real device.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as wt from 'webgpu-tensor';
import { CUTOFF, Tuner, type TuningFamily, type TuningClock, TIE_MARGIN } from '../../src/backend/tuner.ts';
import { gpuTuningClock } from '../../src/backend/tuning_clock.ts';
import { memoryTuningStore, type AutotuneMode, type TuningStore } from '../../src/backend/tuning_store.ts';
import { fileTuningStore } from '../../src/node/tuning_files.ts';

interface Shape {
  n: number;
}

/** A family with candidates 'a' (the default), 'b', 'c' and a trial that counts its runs. */
function family(name = 'fake'): TuningFamily<Shape, string> & { runs: number } {
  const f = {
    name,
    runs: 0,
    shapeClass: (s: Shape) => `n${2 ** Math.ceil(Math.log2(s.n))}`,
    describe: (s: Shape) => `n=${s.n}`,
    candidates: () => ['a', 'b', 'c'].map((c) => ({ name: c, value: `value-${c}` })),
    trial: () => ({ run: () => void f.runs++, dispose: () => {} }),
  };
  return f;
}

const f0 = () => family();

/** A clock answering ms by candidate and charging `cost` wall ms per candidate. */
function fakeClock(ms: Record<string, number>, cost = 10): TuningClock & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async measure(run, _limit, ctx) {
      run();
      calls.push(`${ctx.shapeClass}:${ctx.candidate}`);
      return { ms: ms[ctx.candidate], costMs: cost };
    },
  };
}

function tuner(mode: AutotuneMode, clock: TuningClock, o: { store?: TuningStore; budgetMs?: number; warn?: (l: string) => void; log?: (l: string) => void } = {}): Tuner {
  return new Tuner({ mode, clock, adapterId: 'test-adapter', adapter: 'Test Adapter', log: o.log ?? (() => {}), warn: o.warn ?? (() => {}), ...o });
}

describe('tuner (fake clock)', () => {
  it('times every candidate on first use of a shape class and keeps the fastest', async () => {
    const f = family();
    const clock = fakeClock({ a: 3, b: 1, c: 2 });
    const lines: string[] = [];
    const t = tuner('memory', clock, { log: (l) => lines.push(l) });
    expect(t.choose(f, { n: 100 })).toBe('value-a'); // first use: the default, queued
    expect(t.choose(f, { n: 120 })).toBe('value-a'); // same class, still queued once
    expect(t.pendingCount).toBe(1);
    await t.run();
    // two rounds, the second in reverse order
    expect(clock.calls).toEqual(['n128:a', 'n128:b', 'n128:c', 'n128:c', 'n128:b', 'n128:a']);
    expect(f.runs).toBe(6);
    expect(t.choose(f, { n: 127 })).toBe('value-b');
    expect(t.pendingCount).toBe(0);
    const [row] = t.report();
    expect(row).toMatchObject({ family: 'fake', shapeClass: 'n128', shape: 'n=100', picked: 'b', default: 'a', ms: { a: 3, b: 1, c: 2 }, source: 'tuned' });
    // the one-line message, once
    t.choose(f, { n: 1000 });
    await t.run();
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatch(/autotuning kernels for Test Adapter/);
  });

  it('keeps the default unless another candidate is faster by more than TIE_MARGIN', async () => {
    const f = family();
    const close = 10 * (1 - TIE_MARGIN / 2);
    const t = tuner('memory', fakeClock({ a: 10, b: close, c: 11 }));
    t.choose(f, { n: 4 });
    await t.run();
    expect(t.choose(f, { n: 4 })).toBe('value-a');
    // a failing default loses to any candidate that ran
    const t2 = tuner('memory', fakeClock({ a: NaN, b: 5, c: 4 }));
    t2.choose(f, { n: 4 });
    await t2.run();
    expect(t2.choose(f, { n: 4 })).toBe('value-c');
  });

  it('spends at most its budget per family; classes past it keep the default', async () => {
    const f = family();
    const g = family('other');
    // 3 candidates x 40 ms = 120 ms for a class's first round (the second is skipped); budget 100 ms
    const clock = fakeClock({ a: 3, b: 1, c: 2 }, 40);
    const t = tuner('memory', clock, { budgetMs: 100 });
    for (const n of [2, 8, 32]) t.choose(f, { n });
    t.choose(g, { n: 2 });
    await t.run();
    const rows = t.report();
    const mine = rows.filter((r) => r.family === 'fake');
    expect(mine.map((r) => r.source)).toEqual(['tuned', 'default', 'default']);
    expect(mine[1].note).toMatch(/budget/);
    expect(mine[1].picked).toBe('a');
    // each family has its own budget
    expect(rows.find((r) => r.family === 'other')?.source).toBe('tuned');
    expect(clock.calls.length).toBe(6);
    // past the budget a class is not queued again in this process
    expect(t.choose(f, { n: 8 })).toBe('value-a');
    expect(t.pendingCount).toBe(0);
  });

  it('a class cut short by the budget keeps the default, and later processes time the rest', async () => {
    const f = family();
    const store = memoryTuningStore();
    const clock = fakeClock({ a: 3, b: 1, c: 0.5 }, 40);
    const t = tuner('persist', clock, { store, budgetMs: 50 });
    t.choose(f, { n: 4 });
    await t.run();
    expect(clock.calls).toEqual(['n4:a', 'n4:b']);
    // b looked faster, but c was never timed: no pick from an incomplete comparison
    expect(t.choose(f, { n: 4 })).toBe('value-a');
    expect(t.report()[0].note).toMatch(/2 of 3 candidates timed/);
    expect(t.pendingCount).toBe(0);
    const saved = JSON.parse(store.read('test-adapter')!);
    expect(saved.picks.fake.n4).toMatchObject({ pick: 'a', partial: true, ms: { a: 3, b: 1 } });
    // the next process: the default until c is timed (first), then the default again
    const clock2 = fakeClock({ a: 3, b: 1, c: 0.5 }, 40);
    const t2 = tuner('persist', clock2, { store, budgetMs: 50 });
    expect(t2.choose(f, { n: 4 })).toBe('value-a');
    expect(t2.pendingCount).toBe(1);
    await t2.run();
    expect(clock2.calls).toEqual(['n4:c', 'n4:a']);
    expect(t2.choose(f, { n: 4 })).toBe('value-c');
    expect(JSON.parse(store.read('test-adapter')!).picks.fake.n4).toEqual({ pick: 'c', default: 'a', ms: { a: 3, b: 1, c: 0.5 }, shape: 'n=4' });
    // complete: a third process times nothing
    const clock3 = fakeClock({ a: 3, b: 1, c: 0.5 }, 40);
    const t3 = tuner('persist', clock3, { store, budgetMs: 50 });
    expect(t3.choose(f, { n: 4 })).toBe('value-c');
    await t3.run();
    expect(clock3.calls).toEqual([]);
  });

  it('each process times at least one new candidate, however slow the default', async () => {
    const f = family();
    const store = memoryTuningStore();
    const calls: string[][] = [];
    for (let p = 0; p < 3; p++) {
      // one measurement costs more than the whole budget
      const clock = fakeClock({ a: 2, b: 3, c: 1 }, 200);
      const t = tuner('persist', clock, { store, budgetMs: 100 });
      expect(t.choose(f, { n: 4 })).toBe('value-a');
      await t.run();
      calls.push(clock.calls);
    }
    expect(calls).toEqual([['n4:a'], ['n4:b'], ['n4:c']]);
    const t = tuner('persist', fakeClock({}), { store });
    expect(t.choose(f, { n: 4 })).toBe('value-c');
    expect(t.report()[0]).toMatchObject({ picked: 'c', source: 'cache', ms: { a: 2, b: 3, c: 1 } });
  });

  it('first-round candidates get a cutoff of CUTOFF x the fastest so far; the second round none', async () => {
    const f = family();
    const seen: [string, number | undefined][] = [];
    const clock: TuningClock = {
      async measure(run, _limit, ctx) {
        run();
        seen.push([ctx.candidate, ctx.cutoffMs]);
        return { ms: { a: 4, b: 3, c: 9 }[ctx.candidate]!, costMs: 1 };
      },
    };
    const t = tuner('memory', clock);
    t.choose(f, { n: 4 });
    await t.run();
    expect(seen).toEqual([['a', undefined], ['b', CUTOFF * 4], ['c', CUTOFF * 3], ['c', undefined], ['b', undefined], ['a', undefined]]);
    expect(t.choose(f, { n: 4 })).toBe('value-b');
  });

  it("'off' runs the defaults and times nothing", async () => {
    const f = family();
    const clock = fakeClock({ a: 3, b: 1, c: 2 });
    const store = memoryTuningStore();
    store.write('test-adapter', JSON.stringify({ format: 1, adapter: 'x', picks: { fake: { n4: { pick: 'c', default: 'a', ms: {}, shape: 'n=4' } } } }));
    const t = tuner('off', clock, { store });
    expect(t.choose(f, { n: 4 })).toBe('value-a');
    expect(t.pendingCount).toBe(0);
    await t.run();
    expect(clock.calls).toEqual([]);
    expect(t.report()).toEqual([]);
  });

  it("'memory' tunes without reading or writing the store", async () => {
    const f = family();
    const store = memoryTuningStore();
    store.write('test-adapter', JSON.stringify({ format: 1, adapter: 'x', picks: { fake: { n4: { pick: 'c', default: 'a', ms: {}, shape: 'n=4' } } } }));
    const before = store.read('test-adapter');
    const t = tuner('memory', fakeClock({ a: 3, b: 1, c: 2 }), { store });
    expect(t.choose(f, { n: 4 })).toBe('value-a'); // the stored 'c' is not read
    await t.run();
    expect(t.choose(f, { n: 4 })).toBe('value-b');
    expect(store.read('test-adapter')).toBe(before);
  });

  describe("'persist' with the file store", () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'wt-tuning-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('picks survive a restart (a new tuner reads the file) and are not timed again', async () => {
      const f = family();
      const t = tuner('persist', fakeClock({ a: 3, b: 2, c: 1 }), { store: fileTuningStore(dir) });
      t.choose(f, { n: 10 });
      await t.run();
      const file = join(dir, 'test-adapter.json');
      const saved = JSON.parse(readFileSync(file, 'utf8'));
      expect(saved.picks.fake.n16).toEqual({ pick: 'c', default: 'a', ms: { a: 3, b: 2, c: 1 }, shape: 'n=10' });

      const clock = fakeClock({ a: 1, b: 1, c: 1 });
      const again = tuner('persist', clock, { store: fileTuningStore(dir) });
      expect(again.choose(f, { n: 9 })).toBe('value-c');
      expect(again.pendingCount).toBe(0);
      await again.run();
      expect(clock.calls).toEqual([]);
      expect(again.report()[0]).toMatchObject({ picked: 'c', source: 'cache', ms: { a: 3, b: 2, c: 1 } });
    });

    it('a saved pick no candidate is called any more is tuned again', async () => {
      const store = memoryTuningStore();
      store.write('test-adapter', JSON.stringify({ format: 1, adapter: 'x', picks: { fake: { n4: { pick: 'gone', default: 'a', ms: {}, shape: 'n=4' } } } }));
      const t = tuner('persist', fakeClock({ a: 3, b: 1, c: 2 }), { store });
      expect(t.choose(f0(), { n: 4 })).toBe('value-a');
      expect(t.pendingCount).toBe(1);
      await t.run();
      expect(t.choose(f0(), { n: 4 })).toBe('value-b');
    });

    it('a corrupt cache file is ignored with a warning and rewritten after tuning', async () => {
      const f = family();
      const file = join(dir, 'test-adapter.json');
      for (const bad of ['{"format": 1, "adapter": "x", "picks": {"fake": {"n4": {"pick": 3}}}}', '{ not json', '{"format": 99}']) {
        writeFileSync(file, bad);
        const warnings: string[] = [];
        const t = tuner('persist', fakeClock({ a: 3, b: 1, c: 2 }), { store: fileTuningStore(dir), warn: (l) => warnings.push(l) });
        expect(warnings.length).toBe(1);
        expect(warnings[0]).toMatch(/ignoring the autotuning cache .*test-adapter\.json/);
        expect(t.choose(f, { n: 4 })).toBe('value-a');
        await t.run();
        expect(t.choose(f, { n: 4 })).toBe('value-b');
        expect(JSON.parse(readFileSync(file, 'utf8')).picks.fake.n4.pick).toBe('b');
      }
    });
  });
});

describe('tuning the ops on the device', () => {
  beforeAll(async () => {
    await wt.init({ autotune: 'memory' });
  });
  afterAll(() => wt.tuning.configure({ mode: 'off', clock: undefined }));

  it('a matmul on a new shape class is tuned at the next sync and its pick is used', async () => {
    // 'tiled' is faster by the fake clock; the real work still runs once per candidate
    const ran: string[] = [];
    wt.tuning.configure({
      mode: 'memory',
      log: () => {},
      clock: {
        async measure(run, _limit, ctx) {
          run();
          await wt.sync();
          ran.push(ctx.candidate);
          return { ms: ctx.candidate === 'tiled' ? 1 : 2, costMs: 1 };
        },
      },
    });
    expect(wt.tuning.mode()).toBe('memory');
    const a = wt.randn([40, 72]);
    const b = wt.randn([72, 24]);
    const want = await wt.matmul(await a.to('cpu'), await b.to('cpu')).toArray();
    const y1 = wt.matmul(a, b);
    await wt.sync();
    // every candidate ran in the first round; the second reran the default and the fastest, in
    // reverse order of the first
    const all = [...new Set(ran)];
    expect(ran.slice(0, all.length)).toEqual(all);
    expect(all).toContain('tiled');
    const second = ran.slice(all.length);
    expect(second).toContain('tiled');
    expect(second).toContain(all[0]);
    expect(second.length).toBeLessThanOrEqual(4);
    expect(second).toEqual(all.filter((c) => second.includes(c)).reverse());
    const row = wt.tuning.report().find((r) => r.family === 'gemm' && r.shape === '40x24x72');
    expect(row?.source).toBe('tuned');
    expect(row?.picked).toBe('tiled');
    const y2 = wt.matmul(a, b);
    const [g1, g2] = [await y1.toArray(), await y2.toArray()];
    for (let i = 0; i < want.length; i++) {
      expect(Math.abs(g1[i] - want[i])).toBeLessThan(1e-4);
      expect(Math.abs(g2[i] - want[i])).toBeLessThan(1e-4);
    }
    expect(wt.tuning.formatReport()).toMatch(/gemm nn m64 n32 k128 40x24x72 -> tiled/);
  });

  it('the GPU clock stops after one timed run past the cutoff, and samples fully without one', async () => {
    const a = wt.randn([384, 384]);
    const b = wt.randn([384, 384]);
    let runs = 0;
    const run = () => {
      runs++;
      wt.tidy(() => void wt.matmul(a, b));
    };
    const clock = gpuTuningClock();
    const ctx = { family: 'gemm', shapeClass: 'test', candidate: 'default' };
    const full = await clock.measure(run, 2000, ctx);
    const fullRuns = runs;
    // untimed + sizing run + at least MIN_SAMPLES samples
    expect(fullRuns).toBeGreaterThanOrEqual(5);
    runs = 0;
    const cut = await clock.measure(run, 2000, { ...ctx, cutoffMs: 0 });
    if (cut.ms > 2) {
      // one run of this matmul takes longer than MIN_SAMPLE_MS here: cut after the sizing run
      expect(runs).toBe(2);
      expect(cut.ms).toBeGreaterThanOrEqual(full.ms * 0.5);
    } else expect(runs).toBe(fullRuns);
    a.dispose();
    b.dispose();
  });

  it("'off' leaves the ops on the built-in choices", async () => {
    wt.tuning.configure({ mode: 'off' });
    wt.tidy(() => void wt.matmul(wt.randn([5, 6]), wt.randn([6, 7])));
    await wt.sync();
    expect(wt.tuning.report()).toEqual([]);
  });

  it('checkParity runs every candidate of every family against the CPU twin', async () => {
    wt.tuning.configure({ mode: 'memory' });
    const res = await wt.tuning.checkParity({ quick: true });
    expect(res.length).toBeGreaterThanOrEqual(4);
    expect(new Set(res.map((r) => r.family))).toEqual(new Set(['gemm', 'conv2d.gemm', 'conv2d.smallMap', 'maxpool.forward']));
    for (const r of res) expect(r, `${r.family} ${r.shape} ${r.candidate}`).toMatchObject({ ok: true });
  });
});
