// avgPool2d: GPU vs CPU twin vs an independent reference (explicit zero padding and a mask of real
// elements) on awkward shapes, ceil mode, countIncludePad, divisorOverride; both launch layouts;
// PyTorch's numbers; gradcheck in float64; argument errors; the AvgPool2d module.
import { describe, it, expect, beforeAll } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu, randArray, expectClose } from '../helpers.ts';
import { fwdBwd, f64, numelOf } from './layer_util.ts';
import { avgPool2d, type AvgPoolOptions } from '../../src/autograd/avg_pool.ts';
import { AvgPool2d } from '../../src/nn/pool_layers.ts';
import {
  avgPoolKernel, avgPoolBackwardKernel, avgPoolBackwardTileProblem, avgPoolBackwardVec4Problem, avgPoolBackwardWindowProblem, avgPoolVec4Problem, type AvgPoolParams,
} from '../../src/kernels/avgpool.ts';
import { poolOut } from '../../src/kernels/maxpool.ts';
import type { RowLayout } from '../../src/kernels/stream.ts';
import { launch } from '../../src/tensor/launch.ts';
import {
  AVG_SOFTWARE_ROWS_STRIDE1, SLIDE_COLS_STRIDE1, avgPoolBackwardChoice, avgPoolForwardChoice, avgPoolSlide, avgPoolBackwardTile, avgPoolBackwardVec4, avgPoolBackwardWindow, avgPoolOuts, avgPoolRows, avgPoolVec4,
} from '../../src/policy/pool_choice.ts';
import { BASELINE_CAPS } from '../../src/kernels/kernel.ts';
import { torchCases, checkTorchCase, caseName } from './pool_torch_ref.ts';

beforeAll(async () => {
  await initGpu();
});

type K = [number, number];
interface Case {
  shape: number[];
  k: K;
  s: K;
  p: K;
  ceil?: boolean;
  cip?: boolean;
  div?: number;
}

/** Output size written out from PyTorch's formula (independent of poolOut). */
function outSize(n: number, k: number, s: number, p: number, ceil: boolean): number {
  let o = ceil ? Math.ceil((n + 2 * p - k) / s) + 1 : Math.floor((n + 2 * p - k) / s) + 1;
  if (ceil && (o - 1) * s >= n + p) o--;
  return o;
}

/** Reference: a zero-padded copy plus a 0/1 mask of real elements; window sums over the padded
 * grid (clipped to it: ceil-mode windows may run past), divided as PyTorch divides. Also returns
 * dL/dx for dL/dy = gy by scattering each output's share over its window. */
function reference(x: Float32Array, shape: number[], c: Case, gy?: Float32Array) {
  const [h, w] = shape.slice(-2);
  const n = numelOf(shape.slice(0, -2));
  const H = h + 2 * c.p[0];
  const W = w + 2 * c.p[1];
  const oh = outSize(h, c.k[0], c.s[0], c.p[0], !!c.ceil);
  const ow = outSize(w, c.k[1], c.s[1], c.p[1], !!c.ceil);
  const y = new Float32Array(n * oh * ow);
  const gx = new Float64Array(n * h * w);
  for (let pl = 0; pl < n; pl++) {
    const pad = new Float64Array(H * W);
    const mask = new Float64Array(H * W);
    for (let i = 0; i < h; i++)
      for (let j = 0; j < w; j++) {
        pad[(i + c.p[0]) * W + j + c.p[1]] = x[pl * h * w + i * w + j];
        mask[(i + c.p[0]) * W + j + c.p[1]] = 1;
      }
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++) {
        const cells: number[] = [];
        for (let a = 0; a < c.k[0]; a++)
          for (let b = 0; b < c.k[1]; b++) {
            const Y = oy * c.s[0] + a;
            const X = ox * c.s[1] + b;
            if (Y < H && X < W) cells.push(Y * W + X);
          }
        const sum = cells.reduce((acc, i) => acc + pad[i], 0);
        const real = cells.reduce((acc, i) => acc + mask[i], 0);
        const div = c.div ?? (c.cip === false ? real : cells.length);
        const o = (pl * oh + oy) * ow + ox;
        y[o] = sum / div;
        if (gy)
          for (const i of cells)
            if (mask[i]) gx[pl * h * w + (Math.floor(i / W) - c.p[0]) * w + (i % W) - c.p[1]] += gy[o] / div;
      }
  }
  return { y, gx, oh, ow };
}

const opts = (c: Case): AvgPoolOptions => ({ stride: c.s, padding: c.p, ceilMode: c.ceil, countIncludePad: c.cip, divisorOverride: c.div });

const cases: Case[] = [
  { shape: [2, 3, 13, 11], k: [3, 3], s: [1, 1], p: [1, 1] }, // 3x3 s1 p1, odd sizes
  { shape: [1, 1, 5, 5], k: [2, 2], s: [2, 2], p: [0, 0] }, // batch 1, leftover row/col dropped
  { shape: [2, 4, 9, 8], k: [3, 3], s: [2, 2], p: [1, 1], cip: false }, // padding not counted
  { shape: [1, 2, 7, 6], k: [3, 2], s: [2, 1], p: [1, 0], ceil: true }, // rectangular, ceil mode
  { shape: [3, 8, 9], k: [4, 4], s: [3, 3], p: [2, 2], ceil: true, cip: false }, // unbatched
  { shape: [2, 2, 10, 7], k: [3, 3], s: [2, 2], p: [0, 0], ceil: true }, // ceil past the input, no padding
  { shape: [1, 3, 6, 6], k: [3, 3], s: [2, 2], p: [1, 1], ceil: true }, // ceil past the padding
  { shape: [1, 2, 5, 7], k: [3, 3], s: [1, 2], p: [1, 1], div: 5 }, // divisorOverride
  { shape: [1, 1, 4, 4], k: [5, 5], s: [2, 2], p: [0, 0], ceil: true }, // ceil mode admits a kernel > input
  { shape: [1, 1, 1, 1], k: [1, 1], s: [1, 1], p: [0, 0] },
  { shape: [2, 5, 27, 27], k: [2, 2], s: [2, 2], p: [0, 0] },
  // widths of a multiple of 4 (the vec4 forward on software adapters)
  { shape: [2, 3, 12, 12], k: [3, 3], s: [1, 1], p: [1, 1] }, // vec4 loads and stores
  { shape: [1, 2, 8, 20], k: [2, 2], s: [2, 2], p: [0, 0] }, // OW 10: scalar stores, a partial last group
  { shape: [2, 2, 7, 16], k: [3, 3], s: [1, 1], p: [0, 0], cip: false }, // no padding: unchecked loads
  { shape: [1, 1, 9, 8], k: [3, 3], s: [3, 3], p: [1, 1], ceil: true, cip: false }, // stride 3: 12 columns per 4 outputs
  { shape: [2, 3, 9, 12], k: [3, 3], s: [3, 3], p: [0, 0] }, // tiling, kw not dividing 4
  { shape: [1, 2, 7, 8], k: [3, 3], s: [3, 3], p: [0, 0], ceil: true, cip: false }, // tiling, a ceil-mode window past the input
  // tiling windows covering the input exactly with OW % 4 == 0 (the tiled backward)
  { shape: [2, 3, 6, 16], k: [2, 2], s: [2, 2], p: [0, 0] },
  { shape: [1, 2, 9, 12], k: [3, 3], s: [3, 3], p: [0, 0], div: 7 }, // kw not dividing 4, divisorOverride
  { shape: [1, 2, 5, 8], k: [1, 2], s: [1, 2], p: [0, 0] }, // rectangular, 1-row windows
  // stride 1 (the window-sum backward): per-window divisors, a rectangular window with an override
  { shape: [1, 2, 6, 8], k: [3, 3], s: [1, 1], p: [1, 1], cip: false },
  { shape: [2, 1, 5, 9], k: [2, 3], s: [1, 1], p: [1, 1], div: 4 },
];

describe('avgPool2d', () => {
  for (const c of cases) {
    const name = `${JSON.stringify(c.shape)} k${c.k} s${c.s} p${c.p}${c.ceil ? ' ceil' : ''}${c.cip === false ? ' noPadCount' : ''}${c.div ? ` div${c.div}` : ''}`;
    it(`matches the reference and the CPU twin: ${name}`, async () => {
      const data = randArray(numelOf(c.shape), 3);
      const f = (x: wt.Tensor) => avgPool2d(x, c.k, opts(c));
      const g = await fwdBwd('gpu', data, c.shape, f);
      const cpu = await fwdBwd('cpu', data, c.shape, f);
      const ref = reference(data, c.shape, c, randArray(g.y.length, 99));
      expectClose(cpu.y, ref.y, 1e-6, 1e-7, 'cpu fwd vs reference');
      expectClose(g.y, ref.y, 1e-5, 1e-6, 'gpu fwd vs reference');
      expectClose(cpu.gx, ref.gx, 1e-6, 1e-7, 'cpu bwd vs reference');
      expectClose(g.gx, cpu.gx, 1e-5, 1e-6, 'bwd gpu vs cpu');
    });
  }

  it('runs every launch layout and outputs-per-invocation like the CPU twin', async () => {
    let vec4Runs = 0;
    let bwdVec4Runs = 0;
    let rowsRuns = 0;
    let tileRuns = 0;
    let windowRuns = 0;
    const layouts: RowLayout[] = [
      { mode: 'flat', wg: 128 },
      { mode: 'rows', wg: 8, rows: 8 },
      { mode: 'rows', wg: 16, rows: 3 },
    ];
    for (const c of [cases[0], cases[3], cases[5], cases[7], ...cases.slice(11)]) {
      const [h, w] = c.shape.slice(-2);
      const n = numelOf(c.shape.slice(0, -2));
      const oh = poolOut(h, c.k[0], c.s[0], c.p[0], c.ceil);
      const ow = poolOut(w, c.k[1], c.s[1], c.p[1], c.ceil);
      const base: AvgPoolParams = {
        n, h, w, oh, ow, kh: c.k[0], kw: c.k[1], sh: c.s[0], sw: c.s[1], ph: c.p[0], pw: c.p[1],
        countIncludePad: c.cip ?? true, divisorOverride: c.div ?? 0,
      };
      const x = randArray(n * h * w, 5);
      const gy = randArray(n * oh * ow, 6);
      const [yc] = launch(avgPoolKernel, base, [wt.tensor(x, [n * h * w], { device: 'cpu' }), { shape: [n * oh * ow] }]);
      const [gc] = launch(avgPoolBackwardKernel, base, [wt.tensor(gy, [n * oh * ow], { device: 'cpu' }), { shape: [n * h * w] }]);
      for (const layout of layouts) {
        // outputs per invocation: 1, and several sharing columns (4 on lavapipe at stride 1; 3 leaves a remainder)
        for (const outs of layout === layouts[2] ? [1] : [1, 3, 4]) {
          const [y] = launch(avgPoolKernel, { ...base, layout, outs }, [wt.tensor(x, [n * h * w]), { shape: [n * oh * ow] }]);
          expectClose(await y.toArray(), await yc.toArray(), 1e-5, 1e-6, `fwd ${layout.mode} outs ${outs} ${JSON.stringify(c)}`);
        }
        // the vec4 forward wherever its alignment holds (2 outputs at even strides, 4 at any)
        for (const outs of [2, 4]) {
          const p = { ...base, layout, outs, vec4: true };
          if (avgPoolVec4Problem(p)) continue;
          vec4Runs++;
          const [y] = launch(avgPoolKernel, p, [wt.tensor(x, [n * h * w]), { shape: [n * oh * ow] }]);
          expectClose(await y.toArray(), await yc.toArray(), 1e-5, 1e-6, `fwd vec4 ${layout.mode} outs ${outs} ${JSON.stringify(c)}`);
        }
        // several output rows per invocation (stride-1 windows share input rows; the library uses
        // it at stride 1 on software adapters (the rows layout) only, and stride-3 windows make large shaders that take seconds each to
        // compile on a cold lavapipe cache): scalar and vec4 loads, row counts dividing OH or not,
        // 4 and 8 outputs (two vec4 stores, a partial one)
        if (layout === layouts[1] && c.s[0] <= 2)
          for (const [outs, rows, vec4] of [[3, 2, false], [4, 3, false], [4, 4, true], [8, 3, true]] as const) {
            if (outs === 8 && c.s[1] !== 1) continue;
            const p = { ...base, layout, outs, rows, vec4 };
            if (vec4 && avgPoolVec4Problem(p)) continue;
            rowsRuns++;
            const [y] = launch(avgPoolKernel, p, [wt.tensor(x, [n * h * w]), { shape: [n * oh * ow] }]);
            expectClose(await y.toArray(), await yc.toArray(), 1e-5, 1e-6, `fwd ${layout.mode} outs ${outs} rows ${rows} vec4 ${vec4} ${JSON.stringify(c)}`);
          }
        const [gx] = launch(avgPoolBackwardKernel, { ...base, layout }, [wt.tensor(gy, [n * oh * ow]), { shape: [n * h * w] }]);
        expectClose(await gx.toArray(), await gc.toArray(), 1e-5, 1e-6, `bwd ${layout.mode} ${JSON.stringify(c)}`);
        if (!avgPoolBackwardVec4Problem(base)) {
          bwdVec4Runs++;
          const [gv] = launch(avgPoolBackwardKernel, { ...base, layout, bwdVec4: true }, [wt.tensor(gy, [n * oh * ow]), { shape: [n * h * w] }]);
          expectClose(await gv.toArray(), await gc.toArray(), 1e-5, 1e-6, `bwd vec4 ${layout.mode} ${JSON.stringify(c)}`);
        }
        // the stride-1 window-sum backward (software adapters: the rows layout): scalar and vec4 g
        // rows, several inputs and rows per invocation
        if (layout === layouts[1])
          for (const [outs, rows, vec4] of [[3, 2, false], [4, 4, true], [8, 3, true]] as const) {
            const p = { ...base, layout, bwdWindow: { outs, rows, vec4 } };
            if (avgPoolBackwardWindowProblem(p)) continue;
            windowRuns++;
            const [gw] = launch(avgPoolBackwardKernel, p, [wt.tensor(gy, [n * oh * ow]), { shape: [n * h * w] }]);
            expectClose(await gw.toArray(), await gc.toArray(), 1e-5, 1e-6, `bwd window ${layout.mode} outs ${outs} rows ${rows} vec4 ${vec4} ${JSON.stringify(c)}`);
          }
        if (!avgPoolBackwardTileProblem(base)) {
          tileRuns++;
          const [gt] = launch(avgPoolBackwardKernel, { ...base, layout, bwdTile: true }, [wt.tensor(gy, [n * oh * ow]), { shape: [n * h * w] }]);
          expectClose(await gt.toArray(), await gc.toArray(), 1e-5, 1e-6, `bwd tile ${layout.mode} ${JSON.stringify(c)}`);
        }
      }
    }
    expect(vec4Runs).toBe(39);
    expect(bwdVec4Runs).toBe(18);
    expect([rowsRuns, tileRuns, windowRuns]).toEqual([31, 12, 9]);
  });

  it('the sliding walk (rows of a multiple of 4) equals the CPU twin forward, and backward at stride 1, any lanes and bands', async () => {
    const walkCases: Case[] = [
      { shape: [2, 3, 12, 12], k: [3, 3], s: [1, 1], p: [1, 1] }, // the ResNet-style 3x3 p1, odd plane count
      { shape: [1, 2, 6, 8], k: [3, 3], s: [1, 1], p: [1, 1], cip: false }, // per-window divisors (both ways)
      { shape: [2, 1, 6, 8], k: [4, 5], s: [1, 1], p: [2, 2] }, // rectangular, kh even: OH 7 != H
      { shape: [1, 3, 5, 12], k: [5, 1], s: [1, 1], p: [2, 0], div: 3 }, // a 5-row ring, one column, override
      { shape: [3, 1, 9, 20], k: [1, 5], s: [1, 1], p: [0, 2] }, // one row, OW / 4 = 5 (a partial last lane)
      // strided (forward only): tiling, overlapping with per-window divisors, ceil mode past the
      // input (rows and columns), stride 3
      { shape: [2, 3, 12, 16], k: [2, 2], s: [2, 2], p: [0, 0] },
      { shape: [1, 2, 9, 16], k: [3, 3], s: [2, 2], p: [1, 1], cip: false },
      { shape: [1, 1, 8, 16], k: [3, 3], s: [2, 2], p: [0, 0], ceil: true },
      { shape: [1, 2, 8, 24], k: [3, 3], s: [3, 3], p: [1, 1] },
    ];
    let runs = 0;
    for (const c of walkCases) {
      const [h, w] = c.shape.slice(-2);
      const n = numelOf(c.shape.slice(0, -2));
      const oh = poolOut(h, c.k[0], c.s[0], c.p[0], c.ceil);
      const ow = poolOut(w, c.k[1], c.s[1], c.p[1], c.ceil);
      const base: AvgPoolParams = {
        n, h, w, oh, ow, kh: c.k[0], kw: c.k[1], sh: c.s[0], sw: c.s[1], ph: c.p[0], pw: c.p[1], countIncludePad: c.cip ?? true, divisorOverride: c.div ?? 0,
      };
      const stride1 = c.s[0] === 1 && c.s[1] === 1;
      const x = randArray(n * h * w, 15);
      const gy = randArray(n * oh * ow, 16);
      const [yc] = launch(avgPoolKernel, base, [wt.tensor(x, [n * h * w], { device: 'cpu' }), { shape: [n * oh * ow] }]);
      const [gc] = launch(avgPoolBackwardKernel, base, [wt.tensor(gy, [n * oh * ow], { device: 'cpu' }), { shape: [n * h * w] }]);
      // lanes of 1 to 3 vec4s; bands of 1 row, 2 rows (a remainder), whole planes
      for (const slide of stride1 ? [{ cols: 1, band: 1 }, { cols: 2, band: 2 }, { cols: 3, band: 64 }] : [{ cols: 1, band: 2 }, { cols: 2, band: 64 }]) {
        runs++;
        const what = `slide ${JSON.stringify(slide)} ${JSON.stringify(c)}`;
        const [y] = launch(avgPoolKernel, { ...base, slide }, [wt.tensor(x, [n * h * w]), { shape: [n * oh * ow] }]);
        expectClose(await y.toArray(), await yc.toArray(), 1e-5, 1e-6, `fwd ${what}`);
        if (!stride1) continue;
        const [gx] = launch(avgPoolBackwardKernel, { ...base, slide }, [wt.tensor(gy, [n * oh * ow]), { shape: [n * h * w] }]);
        expectClose(await gx.toArray(), await gc.toArray(), 1e-5, 1e-6, `bwd ${what}`);
      }
    }
    expect(runs).toBe(23);
    // the policy: software adapters, stride 1, rows of a multiple of 4 both ways; whole planes
    // unless there are fewer than SLIDE_MIN_GROUPS of them
    const soft = { ...BASELINE_CAPS, software: true };
    const g = { n: 512, h: 56, w: 56, oh: 56, ow: 56, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1 };
    expect(avgPoolForwardChoice(g, soft)).toEqual({ slide: { cols: SLIDE_COLS_STRIDE1, band: 56 } });
    expect(avgPoolBackwardChoice(g, soft)).toEqual({ slide: { cols: SLIDE_COLS_STRIDE1, band: 56 } });
    expect(avgPoolSlide({ ...g, n: 2 }, soft)).toEqual({ cols: SLIDE_COLS_STRIDE1, band: 7 });
    expect(avgPoolSlide(g, BASELINE_CAPS)).toBeUndefined();
    expect(avgPoolSlide({ ...g, w: 54, ow: 54 }, soft)).toBeUndefined();
    expect(avgPoolSlide({ ...g, sh: 2, oh: 28 }, soft, 'bwd')).toBeUndefined();
    const s2 = { ...g, kh: 2, kw: 2, sh: 2, sw: 2, ph: 0, pw: 0, oh: 28, ow: 28 };
    expect(avgPoolForwardChoice(s2, soft)).toEqual({ slide: { cols: 1, band: 28 } }); // one vec4 per lane at stride 2
    expect(avgPoolBackwardChoice(s2, soft)).toEqual({ bwdTile: true });
    expect(avgPoolForwardChoice({ ...g, w: 54, ow: 54 }, soft)).toEqual({ outs: 4, rows: AVG_SOFTWARE_ROWS_STRIDE1, vec4: false });
    expect(() => avgPoolKernel.wgsl({ ...g, w: 54, ow: 54, countIncludePad: true, divisorOverride: 0, slide: { cols: 2, band: 4 } }, soft)).toThrow(
      /avgpool: the sliding forward needs input and output rows of a multiple of 4, got 54 and 54/,
    );
    expect(() => avgPoolBackwardKernel.wgsl({ ...g, sh: 2, oh: 28, countIncludePad: true, divisorOverride: 0, slide: { cols: 2, band: 4 } }, soft)).toThrow(
      /avgpool_bwd: the sliding backward needs stride 1, got 2x1/,
    );
  });

  it('policy: several outputs per invocation only on software adapters, at stride 1 or with rows of a multiple of 4', () => {
    const g = { n: 1, h: 8, w: 8, oh: 8, ow: 8, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1 };
    const soft = { ...BASELINE_CAPS, software: true };
    expect(avgPoolOuts(g, soft)).toBe(4);
    expect(avgPoolOuts(g, BASELINE_CAPS)).toBe(1);
    expect(avgPoolOuts({ ...g, w: 9, ow: 4, sw: 2 }, soft)).toBe(1);
    expect(avgPoolOuts({ ...g, kw: 1, pw: 0 }, soft)).toBe(4); // width 8: the vec4 forward
    expect(avgPoolOuts({ ...g, w: 9, kw: 1, pw: 0 }, soft)).toBe(1);
    expect(avgPoolVec4(g, soft)).toBe(true);
    expect(avgPoolVec4({ ...g, w: 10 }, soft)).toBe(false);
    expect(avgPoolVec4(g, BASELINE_CAPS)).toBe(false);
    const tiling = { ...g, sh: 2, sw: 2, kh: 2, kw: 2, ph: 0, pw: 0, oh: 4, ow: 4 };
    expect(avgPoolBackwardVec4(tiling, soft)).toBe(true);
    expect(avgPoolBackwardVec4(tiling, BASELINE_CAPS)).toBe(false);
    expect(avgPoolBackwardVec4(g, soft)).toBe(false); // overlapping windows
    expect(avgPoolBackwardVec4({ ...tiling, w: 10, ow: 5 }, soft)).toBe(false);
    expect(() => avgPoolBackwardKernel.wgsl({ ...g, countIncludePad: true, divisorOverride: 0, bwdVec4: true }, soft)).toThrow(/avgpool_bwd: the vec4 backward needs a tiling window/);
    // output rows per invocation: stride-1 windows taller than a row, several outputs per row
    expect(avgPoolRows(g, soft)).toBe(AVG_SOFTWARE_ROWS_STRIDE1);
    expect(avgPoolRows(g, BASELINE_CAPS)).toBe(1);
    expect(avgPoolRows({ ...g, sh: 2, oh: 4 }, soft)).toBe(1);
    expect(() => avgPoolKernel.wgsl({ ...g, countIncludePad: true, divisorOverride: 0, rows: 2 }, soft)).toThrow(/avgpool: several output rows per invocation \(rows 2\) need outs > 1/);
    // the window-sum backward: software adapters, stride 1; vec4 g rows where OW % 4 == 0
    expect(avgPoolBackwardWindow(g, soft)).toEqual({ outs: 4, rows: AVG_SOFTWARE_ROWS_STRIDE1, vec4: true });
    expect(avgPoolBackwardWindow({ ...g, w: 9, ow: 9 }, soft)).toEqual({ outs: 4, rows: AVG_SOFTWARE_ROWS_STRIDE1, vec4: false });
    expect(avgPoolBackwardWindow(g, BASELINE_CAPS)).toBeUndefined();
    expect(avgPoolBackwardWindow({ ...g, sw: 2, ow: 4 }, soft)).toBeUndefined();
    expect(avgPoolBackwardWindow({ ...g, kh: 1, kw: 1, ph: 0, pw: 0 }, soft)).toBeUndefined();
    expect(() => avgPoolBackwardKernel.wgsl({ ...g, w: 9, ow: 9, countIncludePad: true, divisorOverride: 0, bwdWindow: { outs: 4, rows: 2, vec4: true } }, soft)).toThrow(
      /avgpool_bwd: the window-sum backward needs the output width \(g rows\) 9 is not a multiple of 4/,
    );
    // the tiled backward: windows covering the input exactly, OW % 4 == 0
    expect(avgPoolBackwardTile(tiling, soft)).toBe(true);
    expect(avgPoolBackwardTile(tiling, BASELINE_CAPS)).toBe(false);
    expect(avgPoolBackwardTile({ ...tiling, h: 9, w: 9 }, soft)).toBe(false); // a leftover row and column
    expect(avgPoolBackwardTile({ ...tiling, w: 12, ow: 6 }, soft)).toBe(false);
    expect(() => avgPoolBackwardKernel.wgsl({ ...tiling, w: 12, ow: 6, countIncludePad: true, divisorOverride: 0, bwdTile: true }, soft)).toThrow(
      /avgpool_bwd: the tiled backward needs the output width 6 to be a multiple of 4/,
    );
    expect(() => avgPoolKernel.wgsl({ ...g, countIncludePad: true, divisorOverride: 0, w: 10, vec4: true, outs: 4 }, soft)).toThrow(/avgpool: the vec4 forward needs the input width 10/);
  });

  for (const c of torchCases.filter((t) => t.op === 'avgPool2d'))
    it(`matches PyTorch: ${caseName(c)}`, async () => {
      await checkTorchCase(c, 'gpu');
      await checkTorchCase(c, 'cpu');
    });

  it('gradchecks on float64 CPU (padding, ceil mode, countIncludePad, divisorOverride)', () => {
    const d = randArray(2 * 7 * 7, 11);
    const x = () => f64(d, [1, 2, 7, 7]);
    expect(wt.testing.gradcheck((t) => avgPool2d(t, 3, { stride: 2, padding: 1 }), [x()])).toBe(true);
    expect(wt.testing.gradcheck((t) => avgPool2d(t, 3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false }), [x()])).toBe(true);
    expect(wt.testing.gradcheck((t) => avgPool2d(t, [2, 3], { stride: [1, 2], ceilMode: true }), [x()])).toBe(true);
    expect(wt.testing.gradcheck((t) => avgPool2d(t, 3, { stride: 1, padding: 1, divisorOverride: 7 }), [x()])).toBe(true);
  });

  it('takes PyTorch positional arguments or an options object', async () => {
    const x = wt.tensor(randArray(2 * 9 * 9, 7), [1, 2, 9, 9]);
    const a = await avgPool2d(x, 3, 2, 1, { ceilMode: true, countIncludePad: false }).toArray();
    const b = await avgPool2d(x, 3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false }).toArray();
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(avgPool2d(x, 3).shape).toEqual([1, 2, 3, 3]); // stride defaults to the kernel
    expect(avgPool2d(x, 2, null, 1).shape).toEqual([1, 2, 5, 5]);
  });

  it('averages a constant to the constant away from padding, and counts padding by default', async () => {
    const x = wt.full([1, 1, 4, 4], 2);
    expect(Array.from(await avgPool2d(x, 2).toArray())).toEqual([2, 2, 2, 2]);
    // corner window of 3x3 p1 holds 4 real elements of 9
    expect((await avgPool2d(x, 3, { stride: 1, padding: 1 }).toArray())[0]).toBeCloseTo(8 / 9, 6);
    expect((await avgPool2d(x, 3, { stride: 1, padding: 1, countIncludePad: false }).toArray())[0]).toBeCloseTo(2, 6);
  });

  it('rejects bad arguments before any GPU work, naming the op and the values', () => {
    const x = wt.zeros([1, 1, 4, 4]);
    expect(() => avgPool2d(wt.zeros([4, 4]), 2)).toThrow(/avgPool2d: expected x of shape \[B, C, H, W\] or \[C, H, W\], got \[4,\s?4\]/);
    expect(() => avgPool2d(x, 0)).toThrow(/avgPool2d: expected kernelSize to be an integer >= 1 or a pair of them, got 0/);
    expect(() => avgPool2d(x, [2, 2, 2] as unknown as number)).toThrow(/avgPool2d: expected kernelSize .* got \[2,2,2\]/);
    expect(() => avgPool2d(x, 2, { stride: 0 })).toThrow(/avgPool2d: expected stride to be an integer >= 1 .* got 0/);
    expect(() => avgPool2d(x, 2, { padding: -1 })).toThrow(/avgPool2d: expected padding to be an integer >= 0 .* got -1/);
    expect(() => avgPool2d(x, 3, { padding: 2 })).toThrow(/avgPool2d: padding \(2, 2\) must be at most half the kernel size \(3, 3\)/);
    expect(() => avgPool2d(x, 5)).toThrow(/avgPool2d: input \[1,\s?1,\s?4,\s?4\] is smaller than the kernel \(5, 5\) with padding \(0, 0\)/);
    expect(() => avgPool2d(x, 2, { divisorOverride: 0 })).toThrow(/avgPool2d: expected divisorOverride to be a non-zero integer or null, got 0/);
    expect(() => avgPool2d(x, 2, { ceilMode: 1 as unknown as boolean })).toThrow(/avgPool2d: expected ceilMode to be a boolean, got 1/);
    expect(() => avgPool2d(x, 2, { countIncludePad: 'no' as unknown as boolean })).toThrow(/avgPool2d: expected countIncludePad to be a boolean/);
    expect(() => avgPool2d(x, 2, { strides: 2 } as AvgPoolOptions)).toThrow(
      "avgPool2d: unknown option 'strides' (accepted: stride, padding, ceilMode, countIncludePad, divisorOverride)",
    );
    expect(() => avgPool2d(x, 2, 2, 0, { stride: 1 } as AvgPoolOptions)).toThrow(
      "avgPool2d: unknown option 'stride' (accepted: ceilMode, countIncludePad, divisorOverride)",
    );
    expect(() => avgPool2d(x, 2, { stride: 2 }, 0)).toThrow(/avgPool2d: with an options object as the third argument/);
    expect(() => avgPool2d(wt.zeros([1, 1, 4, 4], { dtype: 'int32' }), 2)).toThrow(/avgPool2d: expected a float tensor/);
  });

  it('AvgPool2d module: torch arguments, forward, repr, no state', async () => {
    const x = wt.tensor(randArray(2 * 3 * 8 * 7, 2), [2, 3, 8, 7]);
    const m = new AvgPool2d(3, 2, 1, { ceilMode: true, countIncludePad: false });
    const m2 = new AvgPool2d(3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false });
    const want = await avgPool2d(x, 3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false }).toArray();
    expect(Array.from(await m.call(x).toArray())).toEqual(Array.from(want));
    expect(Array.from(await m2.call(x).toArray())).toEqual(Array.from(want));
    expect(new AvgPool2d(2).stride).toEqual([2, 2]);
    expect(m.toString()).toContain('AvgPool2d(kernelSize=3, stride=2, padding=1, ceilMode=true, countIncludePad=false)');
    expect(Object.keys(m.stateDict())).toEqual([]);
    expect(() => new AvgPool2d(3, 1, 2)).toThrow(/AvgPool2d: padding 2 must be at most half the kernel size 3/);
    expect(() => new AvgPool2d(3, { divisorOverride: 1.5 })).toThrow(/AvgPool2d: expected divisorOverride to be a non-zero integer/);
    expect(() => new AvgPool2d(3, { dilation: 2 } as AvgPoolOptions)).toThrow(/AvgPool2d: unknown option 'dilation'/);
  });
});
