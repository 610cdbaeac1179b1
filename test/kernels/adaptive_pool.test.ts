// adaptiveAvgPool2d / adaptiveMaxPool2d: GPU vs CPU twin vs an independent reference (bins from
// PyTorch's edge formula, gradients scattered per bin) for shrinking, growing and mixed output
// sizes on odd, non-square and batch-1 shapes; global average pooling's kernel at every
// (workgroup, lanes) geometry; PyTorch's numbers; gradcheck in float64; ties and NaN; errors; modules.
import { describe, it, expect, beforeAll } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu, randArray, expectClose } from '../helpers.ts';
import { fwdBwd, f64, numelOf } from './layer_util.ts';
import { adaptiveAvgPool2d, adaptiveMaxPool2d } from '../../src/autograd/adaptive_pool2d.ts';
import { AdaptiveAvgPool2d, AdaptiveMaxPool2d } from '../../src/nn/pool_layers.ts';
import {
  adaptivePoolKernel, adaptivePoolBackwardKernel, adaptiveAvgGradScaleKernel, adaptiveUniformWindow, floatDivExact, type AdaptivePoolParams,
} from '../../src/kernels/adaptive_pool.ts';
import {
  globalAvgPoolBackwardKernel, globalAvgPoolBackwardPackProblem, globalAvgPoolKernel, globalAvgPoolPackProblem, packGroup,
} from '../../src/kernels/global_avgpool.ts';
import { GAP_SOFTWARE_INVOCATIONS, adaptiveMaxWindow, globalAvgPoolBackwardGeom, globalAvgPoolGeom } from '../../src/policy/pool_choice.ts';
import { BASELINE_CAPS } from '../../src/kernels/kernel.ts';
import type { RowLayout } from '../../src/kernels/stream.ts';
import { launch } from '../../src/tensor/launch.ts';
import { torchCases, checkTorchCase, caseName } from './pool_torch_ref.ts';

beforeAll(async () => {
  await initGpu();
});

/** Reference: bin i of an axis = [floor(i * in / out), ceil((i + 1) * in / out)). Returns y and
 * dL/dx for dL/dy = gy (avg: share / bin size to every element; max: all to the first maximum). */
function reference(op: 'avg' | 'max', x: Float32Array, shape: number[], oh: number, ow: number, gy: Float32Array) {
  const [h, w] = shape.slice(-2);
  const n = numelOf(shape.slice(0, -2));
  const y = new Float32Array(n * oh * ow);
  const gx = new Float64Array(n * h * w);
  for (let pl = 0; pl < n; pl++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++) {
        const rows = [Math.floor((i * h) / oh), Math.ceil(((i + 1) * h) / oh)];
        const cols = [Math.floor((j * w) / ow), Math.ceil(((j + 1) * w) / ow)];
        const cells: number[] = [];
        for (let r = rows[0]; r < rows[1]; r++) for (let c = cols[0]; c < cols[1]; c++) cells.push(pl * h * w + r * w + c);
        const o = (pl * oh + i) * ow + j;
        if (op === 'avg') {
          y[o] = cells.reduce((a, k) => a + x[k], 0) / cells.length;
          for (const k of cells) gx[k] += gy[o] / cells.length;
        } else {
          const best = cells.reduce((b, k) => (x[k] > x[b] ? k : b), cells[0]);
          y[o] = x[best];
          gx[best] += gy[o];
        }
      }
  return { y, gx };
}

interface Case {
  shape: number[];
  out: [number, number];
}
const cases: Case[] = [
  { shape: [2, 3, 7, 5], out: [3, 4] }, // shrink, non-divisible, overlapping bins
  { shape: [1, 2, 3, 4], out: [5, 7] }, // grow (bins repeat elements)
  { shape: [1, 1, 9, 2], out: [4, 5] }, // shrink one axis, grow the other
  { shape: [3, 6, 6], out: [2, 3] }, // unbatched, divisible (runs as a window pool)
  { shape: [1, 4, 13, 11], out: [13, 11] }, // identity
  { shape: [2, 3, 1, 1], out: [2, 3] }, // from a single element
  { shape: [2, 5, 7, 7], out: [1, 1] }, // global average pooling (49 per plane)
  { shape: [1, 3, 8, 12], out: [1, 1] }, // global, H * W % 4 == 0 (vec4 loads)
  { shape: [1, 1, 1, 1], out: [1, 1] },
  { shape: [2, 3, 9, 10], out: [1, 2] },
  { shape: [2, 3, 13, 13], out: [6, 6] }, // AlexNet's head: bins [2i, 2i + 3), max runs as a 3 x 3 s2 window pool
];

describe('adaptive pooling', () => {
  for (const op of ['avg', 'max'] as const)
    for (const c of cases) {
      it(`${op}: matches the reference and the CPU twin: ${JSON.stringify(c.shape)} -> ${c.out}`, async () => {
        const data = randArray(numelOf(c.shape), 3);
        const f = (x: wt.Tensor) => (op === 'avg' ? adaptiveAvgPool2d : adaptiveMaxPool2d)(x, c.out);
        const g = await fwdBwd('gpu', data, c.shape, f);
        const cpu = await fwdBwd('cpu', data, c.shape, f);
        const ref = reference(op, data, c.shape, c.out[0], c.out[1], randArray(g.y.length, 99));
        const tol = op === 'max' ? 0 : 1e-6;
        expectClose(cpu.y, ref.y, tol, tol, 'cpu fwd vs reference');
        expectClose(g.y, ref.y, op === 'max' ? 0 : 1e-5, op === 'max' ? 0 : 1e-6, 'gpu fwd vs reference');
        expectClose(cpu.gx, ref.gx, 1e-6, 1e-7, 'cpu bwd vs reference');
        expectClose(g.gx, cpu.gx, 1e-5, 1e-6, 'bwd gpu vs cpu');
      });
    }

  it('runs every launch layout like the CPU twin', async () => {
    const layouts: RowLayout[] = [
      { mode: 'flat', wg: 128 },
      { mode: 'rows', wg: 8, rows: 8 },
      { mode: 'rows', wg: 16, rows: 3 },
    ];
    for (const op of ['avg', 'max'] as const)
      for (const [n, h, w, oh, ow] of [[6, 7, 5, 3, 4], [2, 3, 4, 5, 7], [3, 9, 2, 4, 5], [2, 6, 6, 2, 3]]) {
        const base: AdaptivePoolParams = { op, n, h, w, oh, ow, withIdx: op === 'max' };
        const x = randArray(n * h * w, 5);
        const gy = randArray(n * oh * ow, 6);
        const fwdArgs = (d: 'cpu' | 'gpu') => [wt.tensor(x, [n * h * w], { device: d }), { shape: [n * oh * ow] }, ...(op === 'max' ? [{ shape: [n * oh * ow], dtype: 'int32' as const }] : [])];
        const ref = launch(adaptivePoolKernel, base, fwdArgs('cpu'));
        const bwdArgs = (d: 'cpu' | 'gpu', idx: wt.Tensor | undefined) => [wt.tensor(gy, [n * oh * ow], { device: d }), ...(idx ? [idx] : []), { shape: [n * h * w] }];
        const [gref] = launch(adaptivePoolBackwardKernel, base, bwdArgs('cpu', ref[1]));
        for (const layout of layouts) {
          const outs = launch(adaptivePoolKernel, { ...base, layout }, fwdArgs('gpu'));
          for (let i = 0; i < outs.length; i++) expectClose(await outs[i].toArray(), await ref[i].toArray(), 1e-5, 1e-6, `${op} fwd ${i} ${layout.mode}`);
          const idx = op === 'max' ? wt.tensor(await ref[1].toArray(), [n * oh * ow], { dtype: 'int32' }) : undefined;
          const [gx] = launch(adaptivePoolBackwardKernel, { ...base, layout }, bwdArgs('gpu', idx));
          expectClose(await gx.toArray(), await gref.toArray(), 1e-5, 1e-6, `${op} bwd ${layout.mode}`);
          if (op === 'avg') {
            const [gs] = launch(adaptiveAvgGradScaleKernel, { ...base, layout }, [wt.tensor(gy, [n * oh * ow]), { shape: [n * oh * ow] }]);
            const [gsc] = launch(adaptiveAvgGradScaleKernel, base, [wt.tensor(gy, [n * oh * ow], { device: 'cpu' }), { shape: [n * oh * ow] }]);
            expectClose(await gs.toArray(), await gsc.toArray(), 1e-6, 1e-7, `avg grad scale ${layout.mode}`);
          }
        }
      }
  });

  it('bin edges stay exact at the limits of the f32-division path and past them (u32 division)', async () => {
    // (h + 2) * (oh + 2) == 2^24: the largest f32-division case along this axis
    for (const [shape, out, fast] of [
      [[1, 1, 4094, 1], [4094, 1], true],
      [[1, 2, 4094, 3], [4093, 2], true],
      [[1, 1, 3, 4094], [2, 4091], true],
      [[1, 1, 1, 2 ** 22], [1, 3], false],
    ] as [number[], [number, number], boolean][]) {
      const [h, w] = shape.slice(-2);
      expect(floatDivExact({ h, w, oh: out[0], ow: out[1] })).toBe(fast);
      const data = randArray(numelOf(shape), 9);
      for (const op of ['avg', 'max'] as const) {
        const f = (x: wt.Tensor) => (op === 'avg' ? adaptiveAvgPool2d : adaptiveMaxPool2d)(x, out);
        const g = await fwdBwd('gpu', data, shape, f);
        const cpu = await fwdBwd('cpu', data, shape, f);
        expectClose(g.y, cpu.y, 1e-5, 1e-6, `${op} fwd ${shape} -> ${out}`);
        expectClose(g.gx, cpu.gx, 1e-5, 1e-6, `${op} bwd ${shape} -> ${out}`);
      }
    }
  });

  it('global average pooling: every (workgroup, lanes) geometry and both backward layouts match the twin', async () => {
    let packedFwd = 0;
    let packedBwd = 0;
    for (const [n, h, w] of [[37, 7, 7], [5, 56, 56], [9, 3, 5], [3, 1, 1], [70, 2, 2], [12, 3, 3], [6, 5, 2], [5, 2, 3], [8, 1, 5], [4, 7, 7], [1, 3, 7]]) {
      const x = randArray(n * h * w, n + h);
      const [yc] = launch(globalAvgPoolKernel, { n, h, w, wg: 8, lanes: 1 }, [wt.tensor(x, [n * h * w], { device: 'cpu' }), { shape: [n] }]);
      const want = await yc.toArray();
      // [wg, lanes, perLane]: perLane 3 and 5 leave the last invocation a partial run of planes
      for (const [wg, lanes, perLane] of [[8, 1, 1], [8, 8, 1], [8, 2, 1], [64, 1, 1], [64, 16, 1], [256, 8, 1], [256, 256, 1], [8, 1, 3], [64, 1, 5]]) {
        const [y] = launch(globalAvgPoolKernel, { n, h, w, wg, lanes, perLane }, [wt.tensor(x, [n * h * w]), { shape: [n] }]);
        expectClose(await y.toArray(), want, 1e-5, 1e-6, `gap fwd [${n},${h},${w}] wg${wg} lanes${lanes} perLane${perLane}`);
      }
      // packed groups of 2 or 4 planes read as vec4s (plane sizes >= 4, not a multiple of 4)
      if (globalAvgPoolPackProblem({ h, w }) === null) {
        for (const [wg, perLane] of [[8, 1], [64, 1], [8, 3]]) {
          packedFwd++;
          const [y] = launch(globalAvgPoolKernel, { n, h, w, wg, lanes: 1, packed: true, perLane }, [wt.tensor(x, [n * h * w]), { shape: [n] }]);
          expectClose(await y.toArray(), want, 1e-5, 1e-6, `gap fwd packed [${n},${h},${w}] wg${wg} perLane${perLane}`);
        }
      } else expect(() => launch(globalAvgPoolKernel, { n, h, w, wg: 8, lanes: 1, packed: true }, [wt.tensor(x, [n * h * w]), { shape: [n] }])).toThrow(/global_avgpool: packing needs/);
      const gy = randArray(n, 8);
      const [gc] = launch(globalAvgPoolBackwardKernel, { n, h, w }, [wt.tensor(gy, [n], { device: 'cpu' }), { shape: [n * h * w] }]);
      for (const layout of [{ mode: 'flat', wg: 128 }, { mode: 'rows', wg: 8, rows: 8 }, { mode: 'rows', wg: 16, rows: 3 }] as RowLayout[]) {
        const [gx] = launch(globalAvgPoolBackwardKernel, { n, h, w, layout }, [wt.tensor(gy, [n]), { shape: [n * h * w] }]);
        expectClose(await gx.toArray(), await gc.toArray(), 1e-6, 1e-7, `gap bwd [${n},${h},${w}] ${layout.mode}`);
        if (globalAvgPoolBackwardPackProblem({ n, h, w }) === null) {
          packedBwd++;
          // perLane 3: runs of groups per invocation, the last one partial for most n
          for (const perLane of [1, 3]) {
            const [gp] = launch(globalAvgPoolBackwardKernel, { n, h, w, layout, packed: true, perLane }, [wt.tensor(gy, [n]), { shape: [n * h * w] }]);
            expectClose(await gp.toArray(), await gc.toArray(), 1e-6, 1e-7, `gap bwd packed [${n},${h},${w}] ${layout.mode} perLane${perLane}`);
          }
        }
      }
      if (globalAvgPoolBackwardPackProblem({ n, h, w }) !== null)
        expect(() => launch(globalAvgPoolBackwardKernel, { n, h, w, packed: true }, [wt.tensor(gy, [n]), { shape: [n * h * w] }])).toThrow(/global_avgpool_bwd: packing needs/);
    }
    // fwd: [37,7,7] [9,3,5] [12,3,3] [6,5,2] [5,2,3] [8,1,5] [4,7,7] [1,3,7]; bwd: those with n % G == 0
    expect([packedFwd, packedBwd]).toEqual([24, 12]);
    expect(() => launch(globalAvgPoolKernel, { n: 1, h: 2, w: 2, wg: 8, lanes: 3 }, [wt.zeros([4]), { shape: [1] }])).toThrow(/lanes 3 must be a power of two/);
    expect(() => launch(globalAvgPoolKernel, { n: 4, h: 2, w: 2, wg: 8, lanes: 2, perLane: 2 }, [wt.zeros([16]), { shape: [4] }])).toThrow(/perLane must be .* got perLane 2 with lanes 2/);
    expect(() => launch(globalAvgPoolKernel, { n: 4, h: 2, w: 2, wg: 8, lanes: 1, perLane: 0 }, [wt.zeros([16]), { shape: [4] }])).toThrow(/perLane must be a positive integer/);
    expect(() => launch(globalAvgPoolBackwardKernel, { n: 4, h: 2, w: 2, perLane: 2 }, [wt.zeros([4]), { shape: [16] }])).toThrow(/global_avgpool_bwd: perLane must be .* got perLane 2 with packed false/);
    expect(() => launch(globalAvgPoolBackwardKernel, { n: 4, h: 7, w: 7, packed: true, perLane: 1.5 }, [wt.zeros([4]), { shape: [196] }])).toThrow(/perLane must be a positive integer/);
  });

  it('global average pooling geometry policy: lanes a power of two dividing the workgroup; software runs of planes', () => {
    for (const n of [1, 37, 65536])
      for (const [h, w] of [[1, 1], [3, 4], [7, 7], [16, 16], [56, 56], [400, 1000]])
        for (const caps of [BASELINE_CAPS, { ...BASELINE_CAPS, software: true }]) {
          const { wg, lanes, packed, perLane } = globalAvgPoolGeom(n, h, w, caps);
          expect(packed).toBe(!!caps.software && (h * w) % 4 !== 0 && h * w >= 4);
          expect(wg % lanes).toBe(0);
          expect(lanes & (lanes - 1)).toBe(0);
          // about GAP_SOFTWARE_INVOCATIONS invocations on software, never fewer than one item each
          const items = Math.ceil(n / (packed ? packGroup(h * w) : 1));
          expect(perLane).toBe(caps.software ? Math.max(1, Math.floor(items / GAP_SOFTWARE_INVOCATIONS)) : 1);
        }
    expect(globalAvgPoolGeom(65536, 7, 7, BASELINE_CAPS)).toEqual({ wg: 256, lanes: 8, perLane: 1, packed: false });
    expect(globalAvgPoolGeom(65536, 7, 7, { ...BASELINE_CAPS, software: true })).toEqual({ wg: 8, lanes: 1, perLane: 32, packed: true });
    // the backward: runs of packed groups on software, sized like the forward's; hardware one plane at a time
    expect(globalAvgPoolBackwardGeom(65536, 7, 7, { ...BASELINE_CAPS, software: true })).toEqual({ packed: true, perLane: 32 });
    expect(globalAvgPoolBackwardGeom(36, 7, 7, { ...BASELINE_CAPS, software: true })).toEqual({ packed: true, perLane: 1 });
    expect(globalAvgPoolBackwardGeom(37, 7, 7, { ...BASELINE_CAPS, software: true })).toEqual({ packed: false, perLane: 1 });
    expect(globalAvgPoolBackwardGeom(65536, 7, 7, BASELINE_CAPS)).toEqual({ packed: false, perLane: 1 });
  });

  for (const c of torchCases.filter((t) => t.op.startsWith('adaptive')))
    it(`matches PyTorch: ${caseName(c)}`, async () => {
      await checkTorchCase(c, 'gpu');
      await checkTorchCase(c, 'cpu');
    });

  it('gradchecks on float64 CPU', () => {
    const d = randArray(2 * 7 * 5, 11);
    const x = () => f64(d, [1, 2, 7, 5]);
    for (const out of [[3, 4], [9, 6], [1, 1], [2, 5]] as [number, number][]) {
      expect(wt.testing.gradcheck((t) => adaptiveAvgPool2d(t, out), [x()])).toBe(true);
      expect(wt.testing.gradcheck((t) => adaptiveMaxPool2d(t, out), [x()])).toBe(true);
    }
  });

  it('adaptiveUniformWindow: the bins as one window size and stride exactly when they are', () => {
    for (let inSize = 1; inSize <= 40; inSize++)
      for (let outSize = 1; outSize <= 45; outSize++) {
        const bins = Array.from({ length: outSize }, (_, i) => [Math.floor((i * inSize) / outSize), Math.ceil(((i + 1) * inSize) / outSize)]);
        const fits = (k: number, s: number) => bins.every(([a, b], i) => a === i * s && b === i * s + k);
        const win = adaptiveUniformWindow(inSize, outSize);
        if (win) expect(fits(win.k, win.s), `${inSize} -> ${outSize}: k ${win.k} s ${win.s}`).toBe(true);
        else {
          // no window fits: bin 0 is [0, k), bin 1 starts at s
          const k = bins[0][1];
          const s = outSize > 1 ? bins[1][0] : k;
          expect(s >= 1 && fits(k, s), `${inSize} -> ${outSize} has the window k ${k} s ${s}`).toBe(false);
        }
      }
    expect(adaptiveUniformWindow(13, 6)).toEqual({ k: 3, s: 2 });
    expect(adaptiveUniformWindow(12, 4)).toEqual({ k: 3, s: 3 });
    expect(adaptiveUniformWindow(9, 1)).toEqual({ k: 9, s: 9 });
    expect(adaptiveUniformWindow(5, 3)).toBeNull(); // bins [0, 2), [1, 4), [3, 5)
    expect(adaptiveUniformWindow(3, 5)).toBeNull(); // growing repeats elements
    expect(adaptiveMaxWindow(13, 5, 6, 4)).toEqual({ kh: 3, kw: 2, sh: 2, sw: 1 });
    expect(adaptiveMaxWindow(13, 5, 6, 3)).toBeNull();
  });

  it('max over uniform bins runs as a window max pool; other bins run the adaptive kernels', () => {
    const x = wt.zeros([1, 2, 13, 13], { requiresGrad: true });
    expect(adaptiveMaxPool2d(x, [6, 6])._node?.name).toBe('maxPool2d');
    expect(adaptiveMaxPool2d(x, [5, 6])._node?.name).toBe('adaptiveMaxPool2d');
    expect(adaptiveAvgPool2d(x, [6, 6])._node?.name).toBe('adaptiveAvgPool2d');
  });

  it('max: ties go to the first maximum, NaN propagates', async () => {
    const x = wt.tensor(new Float32Array(2 * 4 * 4).fill(1), [1, 2, 4, 4], { requiresGrad: true });
    const y = adaptiveMaxPool2d(x, [2, 2]);
    y.backward(wt.ones([1, 2, 2, 2]));
    const expected = new Float32Array(32);
    for (const c of [0, 16]) for (const i of [0, 2, 8, 10]) expected[c + i] = 1;
    expect(Array.from(await x.grad!.toArray())).toEqual(Array.from(expected));
    // overlapping bins: 5 x 5 -> 2 x 2 runs as a 3 x 3 s2 window pool ([0, 3), [2, 5)), 5 x 5 ->
    // 3 x 3 the adaptive kernels ([0, 2), [1, 4), [3, 5)): each bin's first element takes its gradient
    for (const [o, firsts] of [[2, [0, 2]], [3, [0, 1, 3]]] as const) {
      const x5 = wt.tensor(new Float32Array(25).fill(1), [1, 1, 5, 5], { requiresGrad: true });
      adaptiveMaxPool2d(x5, o).backward(wt.ones([1, 1, o, o]));
      const e5 = new Float32Array(25);
      for (const r of firsts) for (const c of firsts) e5[r * 5 + c] += 1;
      expect(Array.from(await x5.grad!.toArray())).toEqual(Array.from(e5));
    }
    const withNan = wt.tensor([1, NaN, 3, 2], [1, 1, 2, 2]);
    expect(Number.isNaN((await adaptiveMaxPool2d(withNan, 1).toArray())[0])).toBe(true);
    expect(Number.isNaN((await adaptiveAvgPool2d(withNan, 1).toArray())[0])).toBe(true);
  });

  it('null in outputSize keeps that input size; the modules match the functions', async () => {
    const x = wt.tensor(randArray(2 * 3 * 6 * 5, 4), [2, 3, 6, 5]);
    expect(adaptiveAvgPool2d(x, [null, 2]).shape).toEqual([2, 3, 6, 2]);
    expect(adaptiveMaxPool2d(x, [3, null]).shape).toEqual([2, 3, 3, 5]);
    const gap = new AdaptiveAvgPool2d(1);
    expect(Array.from(await gap.call(x).toArray())).toEqual(Array.from(await adaptiveAvgPool2d(x, [1, 1]).toArray()));
    expect(gap.call(x).shape).toEqual([2, 3, 1, 1]);
    const amp = new AdaptiveMaxPool2d([2, null]);
    expect(amp.call(x).shape).toEqual([2, 3, 2, 5]);
    expect(gap.toString()).toContain('AdaptiveAvgPool2d(outputSize=1)');
    expect(amp.toString()).toContain('AdaptiveMaxPool2d(outputSize=(2, null))');
    expect(Object.keys(gap.stateDict())).toEqual([]);
  });

  it('rejects bad arguments before any GPU work, naming the op and the values', () => {
    const x = wt.zeros([1, 1, 4, 4]);
    expect(() => adaptiveAvgPool2d(x, 0)).toThrow(/adaptiveAvgPool2d: expected outputSize to be a positive integer or a pair of them .* got 0/);
    expect(() => adaptiveMaxPool2d(x, [2, 1.5])).toThrow(/adaptiveMaxPool2d: expected outputSize .* got \[2,1.5\]/);
    expect(() => adaptiveAvgPool2d(x, [2, 2, 2] as unknown as number)).toThrow(/adaptiveAvgPool2d: expected outputSize/);
    expect(() => adaptiveAvgPool2d(wt.zeros([4, 4]), 2)).toThrow(/adaptiveAvgPool2d: expected x of shape \[B, C, H, W\] or \[C, H, W\], got \[4,\s?4\]/);
    expect(() => adaptiveAvgPool2d(wt.zeros([1, 1, 0, 4]), 2)).toThrow(/adaptiveAvgPool2d: expected a non-empty input plane, got x \[1,\s?1,\s?0,\s?4\]/);
    expect(() => adaptiveMaxPool2d(wt.zeros([1, 1, 4, 4], { dtype: 'int32' }), 2)).toThrow(/adaptiveMaxPool2d: expected a float tensor/);
    expect(() => new AdaptiveAvgPool2d(-1)).toThrow(/AdaptiveAvgPool2d: expected outputSize/);
    expect(() => new AdaptiveMaxPool2d([0, 1])).toThrow(/AdaptiveMaxPool2d: expected outputSize/);
  });
});
