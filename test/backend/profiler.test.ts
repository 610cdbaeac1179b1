// wt.profiler: timestamp brackets time real queue work; the runtime's counters count dispatches
// and submits. Lavapipe has 'timestamp-query', so the timer must work there.
import { beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu } from '../helpers.ts';

beforeAll(initGpu);

/** Records `n` ReLU dispatches over `x` into `y` (one dispatch each). */
function relus(x: wt.Tensor, y: wt.Tensor, n: number): void {
  for (let i = 0; i < n; i++) wt.kernels.runKernel(wt.kernels.reluKernel, { mode: 'fwd', n: x.size }, [x, y]);
}

describe('profiler', () => {
  it('the adapter offers timestamps', () => {
    expect(wt.profiler.timestampsAvailable()).toBe(true);
  });

  it('a bracket measures the GPU time of the work flushed inside it, in ms', async () => {
    const x = wt.randn([1 << 20]);
    const y = wt.zeros([1 << 20]);
    await wt.sync();
    const t = wt.profiler.createTimer(4);
    relus(x, y, 1); // compile the pipeline outside the timed bracket
    await wt.sync();
    relus(x, y, 16);
    const t0 = performance.now();
    const i = t.begin();
    wt.flush();
    t.end(i);
    await wt.sync();
    const wallMs = performance.now() - t0;
    const [ms] = await t.read();
    expect(i).toBe(0);
    expect(Number.isFinite(ms)).toBe(true);
    expect(ms).toBeGreaterThan(0);
    // the GPU time lies inside the wall-clock interval around it (ns -> ms conversion)
    expect(ms).toBeLessThanOrEqual(wallMs * 1.1 + 0.5);
    t.destroy();
    x.dispose();
    y.dispose();
  });

  it('brackets are indexed, bounded by capacity, and reset', async () => {
    const t = wt.profiler.createTimer(2);
    expect(t.capacity).toBe(2);
    const a = t.begin();
    const b = t.begin();
    expect([a, b]).toEqual([0, 1]);
    expect(() => t.begin()).toThrow(/all 2 brackets are used/);
    expect(() => t.end(2)).toThrow(/was not begun/);
    t.end(a);
    expect(() => t.end(a)).toThrow(/already ended/);
    await wt.sync();
    const times = await t.read();
    expect(times).toHaveLength(2);
    expect(Number.isNaN(times[1])).toBe(true); // begun, never ended
    t.reset();
    expect(await t.read()).toEqual([]);
    expect(t.begin()).toBe(0);
    t.destroy();
    expect(() => t.begin()).toThrow(/destroyed/);
  });

  it('createTimer checks its capacity', () => {
    expect(() => wt.profiler.createTimer(0)).toThrow(/pairs/);
    expect(() => wt.profiler.createTimer(1.5)).toThrow(/pairs/);
  });

  it('stats count dispatches and submits, as snapshots', async () => {
    const x = wt.randn([1000]);
    const y = wt.zeros([1000]);
    await wt.sync();
    const s0 = wt.profiler.stats();
    relus(x, y, 3);
    const s1 = wt.profiler.stats();
    expect(s1.dispatches - s0.dispatches).toBe(3);
    expect(s1.submits).toBe(s0.submits); // recorded, not yet submitted
    wt.flush();
    const s2 = wt.profiler.stats();
    expect(s2.submits - s1.submits).toBe(1);
    expect(s1.dispatches - s0.dispatches).toBe(3); // s1 did not move with the runtime
    expect(s2.pipelines).toBeGreaterThanOrEqual(1);
    await wt.sync();
    x.dispose();
    y.dispose();
  });

  it('runKernel checks its arguments against the kernel bindings', () => {
    const x = wt.randn([8]);
    const k = wt.kernels.reluKernel;
    expect(() => wt.kernels.runKernel(k, { mode: 'fwd', n: 8 }, [x])).toThrow(/2 storage bindings, got 1/);
    expect(() => wt.kernels.runKernel(k, { mode: 'fwd', n: 8 }, [{ shape: [8] }, x])).toThrow(/read-only/);
    const [y] = wt.kernels.runKernel(k, { mode: 'fwd', n: 8 }, [x, { shape: [8] }]);
    expect(y.shape).toEqual([8]);
    x.dispose();
    y.dispose();
  });

  it('a kernel from defineKernel runs on the GPU and as its CPU twin', async () => {
    const { defineKernel, read, rw, u32, f32, LINEAR_PARAMS, linearGid, runKernel } = wt.kernels;
    const axpb = defineKernel<{ n: number; a: number; b: number }>({
      name: 'test-axpb',
      spec: () => '',
      storage: () => [read('x'), rw('y')],
      uniforms: (p) => [u32('n', p.n), f32('a', p.a), f32('b', p.b)],
      dispatch: (p) => Math.ceil(p.n / 64),
      body: () => `
@compute @workgroup_size(64)
fn main(${LINEAR_PARAMS}) {
  ${linearGid(64)}
  if (gid < u.n) { y[gid] = u.a * x[gid] + u.b; }
}`,
      cpu: (p, [x, y]) => {
        for (let i = 0; i < p.n; i++) y[i] = Math.fround(p.a * x[i] + p.b);
      },
    });
    const data = Float32Array.from({ length: 100 }, (_, i) => i - 50);
    const p = { n: 100, a: 2, b: 0.5 };
    const want = Array.from(data, (v) => 2 * v + 0.5);
    const xg = wt.tensor(data, [100]);
    const [yg] = runKernel(axpb, p, [xg, { shape: [100] }]);
    expect(Array.from(await yg.toArray())).toEqual(want);
    const xc = wt.tensor(data, [100], { device: 'cpu' });
    const [yc] = runKernel(axpb, p, [xc, { shape: [100] }]);
    expect(yc.device).toBe('cpu');
    expect(Array.from(await yc.toArray())).toEqual(want);
    for (const t of [xg, yg, xc, yc]) t.dispose();
  });
});
