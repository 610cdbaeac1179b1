// Depthwise convolution kernels (depthwise_conv.ts): GPU vs CPU twins on awkward geometries (odd and
// non-square maps, batch 1, strides, padding past the window, dilation, rectangular windows, 1x1 and
// 7x7), both row layouts, both weight-gradient walks, batch splits; the twins against the grouped
// GEMM kernels' twins; the routing in conv2d; errors.
import { describe, it, expect, beforeAll } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu, randArray, expectClose } from '../helpers.ts';
import { launch } from '../../src/tensor/launch.ts';
import { type Conv2dGeom, conv2dKernel, convOutSize } from '../../src/kernels/conv2d.ts';
import { conv2dInputGradKernel, conv2dWeightGradKernel, inputGradClasses, weightTransposeKernel } from '../../src/kernels/conv2d_backward.ts';
import {
  DEPTHWISE_MAX_TAPS, depthwiseConvKernel, depthwiseInputGradKernel, depthwiseProblem, depthwiseSplits, depthwiseWeightGradKernel,
} from '../../src/kernels/depthwise_conv.ts';
import { depthwiseWeightGradGeom, useDepthwise } from '../../src/policy/conv_choice.ts';
import { BASELINE_CAPS } from '../../src/kernels/kernel.ts';
import type { RowLayout } from '../../src/kernels/stream.ts';
import { conv2d } from '../../src/autograd/conv.ts';

beforeAll(async () => {
  await initGpu();
});

type P2 = number | [number, number];
const two = (v: P2): [number, number] => (typeof v === 'number' ? [v, v] : v);
function geom(batch: number, c: number, h: number, w: number, k: P2, s: P2, p: P2, d: P2): Conv2dGeom {
  const [[kh, kw], [sh, sw], [ph, pw], [dh, dw]] = [k, s, p, d].map(two);
  return { batch, cin: c, h, w, cout: c, kh, kw, sh, sw, ph, pw, dh, dw, groups: c, oh: convOutSize(h, kh, sh, ph, dh), ow: convOutSize(w, kw, sw, pw, dw) };
}

const geoms: [string, Conv2dGeom][] = [
  ['3x3 s1 p1, odd non-square map, 3 channels', geom(2, 3, 9, 11, 3, 1, 1, 1)],
  ['3x3 s2 p1, batch 1, odd map', geom(1, 5, 13, 12, 3, 2, 1, 1)],
  ['5x3 window, stride (1, 3), padding (4, 0), dilation (2, 1)', geom(2, 4, 9, 10, [5, 3], [1, 3], [4, 0], [2, 1])],
  ['1x1', geom(3, 2, 5, 7, 1, 1, 0, 1)],
  ['7x7 s1 p3 (49 taps, the most), 6 channels', geom(1, 6, 8, 9, 7, 1, 3, 1)],
  ['3x3 dilation 3 s2 p2 (inputs no tap reaches)', geom(2, 3, 12, 11, 3, 2, 2, 3)],
  ['2x2 s3, no padding (inputs between windows)', geom(2, 2, 10, 11, 2, 3, 0, 1)],
];
const layouts: RowLayout[] = [
  { mode: 'flat', wg: 64 },
  { mode: 'rows', wg: 8, rows: 8 },
  { mode: 'rows', wg: 4, rows: 3 },
];

const n = (g: Conv2dGeom) => ({ x: g.batch * g.cin * g.h * g.w, w: g.cin * g.kh * g.kw, y: g.batch * g.cin * g.oh * g.ow });
const on = (a: Float32Array, device: 'cpu' | 'gpu') => wt.tensor(a, [a.length], { device });

describe('depthwise convolution kernels: GPU vs CPU twins', () => {
  for (const [name, g] of geoms)
    it(name, async () => {
      const s = n(g);
      const [x, w, b, gy] = [randArray(s.x, 1), randArray(s.w, 2), randArray(g.cin, 3), randArray(s.y, 4)];
      // bias with the hardware and software layouts, ReLU without bias on a third
      for (const [bias, relu, ls] of [[true, false, layouts.slice(0, 2)], [false, true, layouts.slice(2)]] as const) {
        const args = (d: 'cpu' | 'gpu') => [on(x, d), on(w, d), ...(bias ? [on(b, d)] : []), { shape: [s.y] }];
        const [ref] = launch(depthwiseConvKernel, { ...g, bias, relu }, args('cpu'));
        for (const layout of ls) {
          const [y] = launch(depthwiseConvKernel, { ...g, bias, relu, layout }, args('gpu'));
          expectClose(await y.toArray(), await ref.toArray(), 1e-5, 1e-6, `forward ${layout.mode}${layout.wg} bias ${bias} relu ${relu}`);
        }
      }
      const [dxRef] = launch(depthwiseInputGradKernel, g, [on(w, 'cpu'), on(gy, 'cpu'), { shape: [s.x] }]);
      for (const layout of [layouts[0], layouts[2]]) {
        const [dx] = launch(depthwiseInputGradKernel, { ...g, layout }, [on(w, 'gpu'), on(gy, 'gpu'), { shape: [s.x] }]);
        expectClose(await dx.toArray(), await dxRef.toArray(), 1e-5, 1e-6, `input grad ${layout.mode}${layout.wg}`);
      }
      // one split on the CPU; on the GPU both walks, workgroups of 1 to 64 and splits of the batch, summed over the splits
      const [dwRef] = launch(depthwiseWeightGradKernel, { ...g, wg: 1, walk: 'rows', bPer: g.batch }, [on(x, 'cpu'), on(gy, 'cpu'), { shape: [s.w] }]);
      const runs = [['rows', 8, 1], ['rows', 1, g.batch], ['flat', 64, 1]] as const;
      for (const [walk, wg, bPer] of runs) {
            const p = { ...g, wg, walk, bPer };
            const S = depthwiseSplits(p);
            const [part] = launch(depthwiseWeightGradKernel, p, [on(x, 'gpu'), on(gy, 'gpu'), { shape: [S * s.w] }]);
            const parts = (await part.toArray()) as Float32Array;
            const sum = new Float32Array(s.w);
            for (let i = 0; i < S * s.w; i++) sum[i % s.w] += parts[i];
            expectClose(sum, await dwRef.toArray(), 1e-4, 1e-5, `weight grad ${walk} wg ${wg} bPer ${bPer}`);
      }
    });

  it('the twins agree with the grouped GEMM kernels twins (float64)', async () => {
    for (const [name, g] of geoms) {
      const s = n(g);
      const f64 = (len: number, seed: number) => wt.tensor(Float64Array.from(randArray(len, seed)), [len], { device: 'cpu', dtype: 'float64' });
      const [x, w, b, gy] = [f64(s.x, 5), f64(s.w, 6), f64(g.cin, 7), f64(s.y, 8)];
      const out = (len: number) => ({ shape: [len], dtype: 'float64' as const });
      const gemm = { variant: 'lanes' as const };
      const [y] = launch(depthwiseConvKernel, { ...g, bias: true }, [x, w, b, out(s.y)]);
      const [yRef] = launch(conv2dKernel, { ...g, bias: true, relu: false, ...gemm } as never, [x, w, b, out(s.y)]);
      expectClose(await y.toArray(), await yRef.toArray(), 1e-12, 1e-12, `${name}: forward`);
      const [dx] = launch(depthwiseInputGradKernel, g, [w, gy, out(s.x)]);
      const [wtT] = launch(weightTransposeKernel, { rows: g.cout, cols: g.kh * g.kw }, [w, out(s.w)]);
      const dxRef = wt.zeros([s.x], { device: 'cpu', dtype: 'float64' });
      for (const cls of inputGradClasses(g)) launch(conv2dInputGradKernel, { ...g, cls, ...gemm } as never, [wtT, gy, dxRef]);
      expectClose(await dx.toArray(), await dxRef.toArray(), 1e-12, 1e-12, `${name}: input grad`);
      const [dw] = launch(depthwiseWeightGradKernel, { ...g, wg: 1, walk: 'rows', bPer: g.batch }, [x, gy, out(s.w)]);
      const [dwRef] = launch(conv2dWeightGradKernel, { ...g, bPer: g.batch, ...gemm } as never, [x, gy, out(s.w)]);
      expectClose(await dw.toArray(), await dwRef.toArray(), 1e-12, 1e-12, `${name}: weight grad`);
    }
  });

  it('conv2d routes depthwise layers here, other groupings to the GEMMs; the weight gradient splits small channel counts', () => {
    expect(useDepthwise(geom(2, 32, 8, 8, 3, 1, 1, 1))).toBe(true);
    expect(useDepthwise({ ...geom(2, 4, 8, 8, 3, 1, 1, 1), cout: 8 })).toBe(false); // multiplier 2
    expect(useDepthwise({ ...geom(2, 4, 8, 8, 3, 1, 1, 1), groups: 2 })).toBe(false);
    expect(useDepthwise(geom(2, 1, 8, 8, 3, 1, 1, 1))).toBe(false); // one channel: a plain convolution
    expect(useDepthwise(geom(1, 4, 16, 16, 8, 1, 0, 1))).toBe(false); // 64 taps
    expect(depthwiseProblem(geom(1, 4, 16, 16, 8, 1, 0, 1))).toContain(`at most ${DEPTHWISE_MAX_TAPS} taps, got 8x8`);
    const sw = { ...BASELINE_CAPS, software: true };
    expect(depthwiseWeightGradGeom(geom(64, 144, 8, 8, 3, 1, 1, 1), sw)).toEqual({ wg: 8, walk: 'rows', bPer: 64 });
    expect(depthwiseWeightGradGeom(geom(8, 4, 8, 8, 3, 1, 1, 1), sw)).toEqual({ wg: 8, walk: 'rows', bPer: 2 });
    expect(depthwiseWeightGradGeom(geom(64, 144, 8, 8, 3, 1, 1, 1), BASELINE_CAPS)).toEqual({ wg: 64, walk: 'flat', bPer: 16 });
    expect(depthwiseWeightGradGeom(geom(0, 4, 8, 8, 3, 1, 1, 1), BASELINE_CAPS).bPer).toBeGreaterThanOrEqual(1);
  });

  it('conv2d with groups = channels: forward and gradients match the CPU, split weight gradient included', async () => {
    // 2 channels x 16 images: the GPU weight gradient runs in batch splits (added by a reduction)
    for (const [xs, ws, o] of [
      [[16, 2, 7, 9], [2, 1, 3, 3], { padding: 1, groups: 2, relu: true }],
      [[1, 6, 10, 7], [6, 1, 5, 3], { stride: [2, 1], padding: [2, 1], dilation: [1, 2], groups: 6 }],
    ] as const) {
      const res: ArrayLike<number>[][] = [];
      for (const device of ['gpu', 'cpu'] as const) {
        const mk = (s: readonly number[], seed: number) => wt.tensor(randArray(s.reduce((a, b) => a * b, 1), seed), [...s], { device, requiresGrad: true });
        const [x, w, b] = [mk(xs, 1), mk(ws, 2), mk([ws[0]], 3)];
        const y = conv2d(x, w, b, o as never);
        y.backward(wt.tensor(randArray(y.shape.reduce((a, c) => a * c, 1), 4), y.shape, { device }));
        res.push([await y.toArray(), await x.grad!.toArray(), await w.grad!.toArray(), await b.grad!.toArray()]);
      }
      res[0].forEach((v, i) => expectClose(v, res[1][i], 1e-4, 1e-5, `${JSON.stringify(xs)} ${['y', 'dx', 'dw', 'db'][i]}`));
    }
  });

  it('kernel params it cannot run are refused, naming the kernel', () => {
    const x = wt.zeros([2 * 4 * 8 * 8]);
    const w = wt.zeros([4 * 4 * 3 * 3]);
    const g = { ...geom(2, 4, 8, 8, 3, 1, 1, 1), cout: 16 };
    expect(() => launch(depthwiseConvKernel, g, [x, w, { shape: [2 * 16 * 64] }])).toThrow(/depthwise_conv: needs groups = in channels = out channels >= 2, got groups 4, 4 -> 16/);
    const g1 = geom(2, 4, 8, 8, 3, 1, 1, 1);
    expect(() => launch(depthwiseWeightGradKernel, { ...g1, wg: 6, walk: 'rows', bPer: 2 }, [x, x, { shape: [36] }])).toThrow(/workgroup size must be a power of two, got 6/);
  });
});
