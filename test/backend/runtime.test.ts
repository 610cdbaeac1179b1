// The WebGPU runtime: pooled memory stays flat, pipelines are cached, dispatches are batched,
// shader errors are rethrown with the kernel's name.
import { beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { runtime } from '../../src/backend/webgpu.ts';
import { launch } from '../../src/tensor/launch.ts';
import type { KernelDef } from '../../src/kernels/kernel.ts';
import { initGpu } from '../helpers.ts';

beforeAll(initGpu);

describe('runtime', () => {
  it('deviceInfo describes the adapter', () => {
    const info = wt.deviceInfo();
    expect(typeof info.vendor).toBe('string');
    expect(info.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
    expect(typeof info.software).toBe('boolean');
    console.log(`adapter: ${info.description || info.device} (software: ${info.software})`);
  });

  it('200 iterations of an op chain leave memory().inUse where it was after the first', async () => {
    const x = wt.randn([64, 33]);
    const w = wt.randn([33, 17]);
    const step = () =>
      wt.tidy(() => {
        const y = x.matmul(w).add(1).exp().log().mul(x.sum(1, true)).sum(0).relu();
        return y.mean();
      });
    const first = step();
    await first.item();
    first.dispose();
    const after1 = wt.memory();
    for (let i = 0; i < 200; i++) {
      const l = step();
      if (i % 50 === 0) await l.item();
      l.dispose();
    }
    await wt.sync();
    const after200 = wt.memory();
    expect(after200.inUse).toBe(after1.inUse);
    expect(after200.buffersCreated).toBe(after1.buffersCreated);
  });

  it('dispose frees at once; dropped tensors are tracked by tidy', () => {
    const m0 = wt.memory().inUse;
    const t = wt.zeros([1000]);
    expect(wt.memory().inUse).toBeGreaterThan(m0);
    t.dispose();
    expect(wt.memory().inUse).toBe(m0);
    wt.tidy(() => {
      wt.ones([100]).add(2).mul(3);
    });
    expect(wt.memory().inUse).toBe(m0);
    const kept = wt.tidy(() => wt.keep(wt.ones([10])));
    expect(wt.memory().inUse).toBeGreaterThan(m0);
    kept.dispose();
  });

  it('caches pipelines by kernel name + specialisation and batches dispatches', async () => {
    const rt = runtime();
    const a = wt.randn([5, 7]);
    a.add(a).dispose();
    await wt.sync();
    const p0 = rt.stats.pipelines;
    const s0 = rt.stats.submits;
    for (const n of [3, 9, 31]) wt.randn([n, 7]).add(wt.randn([n, 7])).dispose(); // other shapes, same pipeline
    expect(rt.stats.pipelines).toBe(p0);
    await wt.sync();
    // three uploads of fresh tensors can each force a submit only if pending work uses their buffer
    expect(rt.stats.submits - s0).toBeLessThanOrEqual(4);
  });

  it('a WGSL error is rethrown with the kernel name', async () => {
    const bad: KernelDef<{ n: number }> = {
      name: 'broken-kernel',
      spec: () => '',
      bindings: () => ['rw'],
      uniforms: (p) => [p.n],
      dispatch: () => 1,
      wgsl: () => `@group(0) @binding(0) var<storage, read_write> y: array<f32>;
struct U { n: u32 }
@group(0) @binding(1) var<uniform> u: U;
@compute @workgroup_size(1) fn main() { y[0] = undefined_thing; }`,
      cpu: () => {},
    };
    launch(bad, { n: 1 }, [{ shape: [4] }], 'gpu');
    await expect(wt.sync()).rejects.toThrow(/kernel broken-kernel: pipeline creation failed: .*undefined_thing/s);
    // the device keeps working afterwards
    expect(await wt.ones([2]).sum().item()).toBe(2);
  });
});
