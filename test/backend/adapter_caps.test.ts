// What the adapters this library meets report, and what the kernel choices make of it (no GPU
// needed): Dawn's lavapipe in Node (subgroups of 8), Chrome's SwiftShader (subgroups of 4, 256
// invocations per workgroup), Firefox on lavapipe (empty info strings, a fallback adapter, subgroup
// sizes 4-128 reported but no 'subgroups' feature), hardware GPUs. Every choice must be runnable on
// the adapter whatever the software guess says: a wrong guess may cost speed, never correctness.
import { describe, expect, it } from 'vitest';
import { capsOf, isSoftwareAdapter, type AdapterFacts } from '../../src/backend/device.ts';
import type { Caps } from '../../src/kernels/kernel.ts';
import { lanesRunsOn } from '../../src/kernels/gemm.ts';
import { matmulKernel, type MatmulParams } from '../../src/kernels/matmul.ts';
import { maxPoolKernel } from '../../src/kernels/maxpool.ts';
import { chooseGemm, lanesWidth } from '../../src/policy/gemm_choice.ts';
import { maxPoolForwardKernel } from '../../src/policy/pool_choice.ts';
import { weightGradBPer } from '../../src/policy/conv_choice.ts';
import { streamGeom } from '../../src/kernels/stream.ts';

interface Adapter {
  facts: AdapterFacts;
  features: string[];
  limits: Partial<GPUSupportedLimits>;
  subgroupSizes: [number, number];
}

const limits = (invocations: number, binding: number, shared: number) =>
  ({ maxComputeInvocationsPerWorkgroup: invocations, maxStorageBufferBindingSize: binding, maxComputeWorkgroupStorageSize: shared }) as GPUSupportedLimits;

/** As measured (docs: ../shared/notes/measured-facts.md "Headless browsers on this machine"). */
const ADAPTERS: Record<string, Adapter> = {
  'lavapipe (Dawn, Node)': {
    facts: { vendor: 'mesa', architecture: 'software', device: 'llvmpipe (LLVM 15.0.6, 256 bits)', description: 'llvmpipe: Mesa 25.0.7' },
    features: ['subgroups', 'timestamp-query'],
    limits: limits(1024, 128 * 2 ** 20, 32768),
    subgroupSizes: [8, 8],
  },
  'SwiftShader (Chromium 156)': {
    facts: { vendor: 'google', architecture: 'swiftshader', device: '', description: '', isFallbackAdapter: true },
    features: ['subgroups', 'timestamp-query', 'core-features-and-limits'],
    limits: limits(256, 2 ** 30, 32768),
    subgroupSizes: [4, 4],
  },
  'lavapipe (Firefox 153)': {
    facts: { vendor: '', architecture: '', device: '', description: '', isFallbackAdapter: true },
    features: ['shader-f16', 'timestamp-query', 'core-features-and-limits'],
    limits: limits(1024, 128 * 2 ** 20, 32768),
    subgroupSizes: [4, 128],
  },
  'hardware GPU in Firefox (empty strings, not a fallback)': {
    facts: { vendor: '', architecture: '', device: '', description: '', isFallbackAdapter: false },
    features: ['timestamp-query'],
    limits: limits(1024, 2 ** 30, 32768),
    subgroupSizes: [4, 128],
  },
  'NVIDIA (Chrome)': {
    facts: { vendor: 'nvidia', architecture: 'hopper', device: '', description: '', isFallbackAdapter: false },
    features: ['subgroups', 'timestamp-query', 'shader-f16'],
    limits: limits(1024, 2 ** 31, 49152),
    subgroupSizes: [32, 32],
  },
};

const capsFor = (a: Adapter, software = isSoftwareAdapter(a.facts)): Caps =>
  capsOf(software, new Set(a.features), a.limits as GPUSupportedLimits, a.subgroupSizes);

describe('adapter detection', () => {
  it('software: lavapipe and SwiftShader by name, Firefox by isFallbackAdapter; hardware otherwise', () => {
    const got = Object.fromEntries(Object.entries(ADAPTERS).map(([k, a]) => [k, isSoftwareAdapter(a.facts)]));
    expect(got).toEqual({
      'lavapipe (Dawn, Node)': true,
      'SwiftShader (Chromium 156)': true,
      'lavapipe (Firefox 153)': true,
      'hardware GPU in Firefox (empty strings, not a fallback)': false,
      'NVIDIA (Chrome)': false,
    });
    expect(isSoftwareAdapter({})).toBe(false);
  });

  it('subgroup sizes count only with the subgroups feature (Firefox reports 4-128 without it)', () => {
    const ff = capsFor(ADAPTERS['lavapipe (Firefox 153)']);
    expect([ff.subgroups, ff.subgroupMinSize, ff.subgroupMaxSize]).toEqual([false, 0, 0]);
    const ss = capsFor(ADAPTERS['SwiftShader (Chromium 156)']);
    expect([ss.subgroups, ss.subgroupMinSize, ss.subgroupMaxSize, ss.maxComputeInvocationsPerWorkgroup]).toEqual([true, 4, 4, 256]);
    expect(Object.isFrozen(ss)).toBe(true);
  });
});

/** Product of the @workgroup_size dimensions of a WGSL source. */
function invocations(wgsl: string): number {
  const m = /@workgroup_size\(([^)]*)\)/.exec(wgsl);
  if (!m) throw new Error('no @workgroup_size');
  return m[1].split(',').map((s) => Number(s.trim() || 1)).reduce((a, b) => a * b, 1);
}

const matmulParams = (caps: Caps, m: number, n: number, k: number): MatmulParams => ({
  batch: 1, m, n, k, transA: false, transB: false, aBatch: 0, bBatch: 0, bias: false, relu: false, ...chooseGemm('matmul', caps),
});

describe('kernel choices follow the adapter', () => {
  it('GEMM design: lanes at width 8 (lavapipe), 4 (SwiftShader), 1 (Firefox); tiled on hardware', () => {
    const got = Object.fromEntries(Object.entries(ADAPTERS).map(([k, a]) => [k, chooseGemm('matmul', capsFor(a))]));
    expect(got).toEqual({
      'lavapipe (Dawn, Node)': { variant: 'lanes', lanesSubgroups: 1 },
      'SwiftShader (Chromium 156)': { variant: 'lanes', lanesSubgroups: 2, lanesWidth: 4 },
      'lavapipe (Firefox 153)': { variant: 'lanes', lanesSubgroups: 8, lanesWidth: 1 },
      'hardware GPU in Firefox (empty strings, not a fallback)': { variant: 'tiled' },
      'NVIDIA (Chrome)': { variant: 'tiled' },
    });
  });

  it('lanes widths need subgroups of at least that many lanes (exactly, for several per workgroup)', () => {
    const ss = capsFor(ADAPTERS['SwiftShader (Chromium 156)']);
    expect([lanesRunsOn(ss, 1, 8), lanesRunsOn(ss, 1, 4), lanesRunsOn(ss, 2, 4), lanesRunsOn(ss, 8, 1)]).toEqual([false, true, true, true]);
    const lp = capsFor(ADAPTERS['lavapipe (Dawn, Node)']);
    expect([lanesRunsOn(lp, 1, 8), lanesRunsOn(lp, 2, 8), lanesRunsOn(lp, 1, 4), lanesRunsOn(lp, 2, 4)]).toEqual([true, true, true, false]);
    const nv = capsFor(ADAPTERS['NVIDIA (Chrome)']);
    expect([lanesRunsOn(nv, 1, 8), lanesRunsOn(nv, 2, 8), lanesWidth(nv)]).toEqual([true, false, 8]);
    const ff = capsFor(ADAPTERS['lavapipe (Firefox 153)']);
    expect([lanesRunsOn(ff, 1, 4), lanesRunsOn(ff, 1, 1), lanesWidth(ff)]).toEqual([false, true, 1]);
  });

  // every adapter under both guesses: what a wrong software guess would choose must still run there
  for (const [name, a] of Object.entries(ADAPTERS))
    for (const software of [true, false])
      it(`${name} treated as ${software ? 'software' : 'hardware'}: the chosen kernels fit its caps`, () => {
        const caps = capsFor(a, software);
        for (const [m, n, k] of [[6, 784, 25], [64, 64, 64], [33, 45, 70], [1, 10, 84]]) {
          const p = matmulParams(caps, m, n, k);
          const src = matmulKernel.wgsl(p, caps);
          expect(invocations(src)).toBeLessThanOrEqual(caps.maxComputeInvocationsPerWorkgroup);
          if (!caps.subgroups) expect(src).not.toMatch(/subgroup/);
          if (/enable subgroups/.test(src)) expect(caps.subgroups).toBe(true);
          const shared = [...src.matchAll(/var<workgroup> \w+: array<vec4<f32>, (\d+)>/g)].reduce((s, x) => s + 16 * Number(x[1]), 0);
          expect(shared).toBeLessThanOrEqual(caps.maxComputeWorkgroupStorageSize);
        }
        // the max-pool lanes kernels need subgroups of exactly 8 (and a software adapter)
        const geom = { n: 8, h: 12, w: 12, oh: 6, ow: 6, kh: 2, kw: 2, sh: 2, sw: 2, ph: 0, pw: 0 };
        const pool = maxPoolForwardKernel(geom, caps);
        if (!(caps.subgroups && caps.subgroupMinSize === 8 && caps.subgroupMaxSize === 8)) expect(pool).toBe(maxPoolKernel);
        expect(invocations(pool.wgsl({ ...geom, withIdx: true }, caps))).toBeLessThanOrEqual(caps.maxComputeInvocationsPerWorkgroup);
        expect(streamGeom(caps).wg).toBeLessThanOrEqual(caps.maxComputeInvocationsPerWorkgroup);
      });

  it('the weight-gradient batch split follows the adapter kind, not the GEMM design', () => {
    // LeNet conv1: Cout 6, Cin*KH*KW 25, batch 64: one GEMM workgroup before splitting
    const g = { batch: 64, cin: 1, h: 28, w: 28, cout: 6, kh: 5, kw: 5, sh: 1, sw: 1, ph: 2, pw: 2, dh: 1, dw: 1, groups: 1, oh: 28, ow: 28 };
    const tiled = { variant: 'tiled' } as const;
    const sw = capsFor(ADAPTERS['lavapipe (Firefox 153)']);
    const hw = capsFor(ADAPTERS['NVIDIA (Chrome)']);
    expect(weightGradBPer(g, tiled, sw)).toBe(2); // 32 splits on a software adapter
    expect(weightGradBPer(g, tiled, hw)).toBe(1); // as many as the batch allows on hardware
  });
});
