// conv2d kernels (forward, input gradient, weight gradient), both GEMM designs ('lanes' and the
// hardware 'tiled' one, forced so it runs on lavapipe too) against the CPU twins on awkward
// geometries: kernel larger than the stride, stride not dividing the input, batch 1, channels not a
// multiple of 4, 1x1 kernels, kernels covering the whole input, batch splits of the weight gradient.
import { describe, it, expect, beforeAll } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu, randArray, expectClose, gpuVsCpu } from '../helpers.ts';
import { im2colKernel, weightFlipKernel } from '../../src/kernels/im2col.ts';
import { launch } from '../../src/tensor/launch.ts';
import { conv2dKernel, type Conv2dGeom } from '../../src/kernels/conv2d.ts';
import { col2imKernel, conv2dColGradKernel } from '../../src/kernels/conv2d_col.ts';
import {
  conv2dInputGradKernel,
  conv2dWeightGradKernel,
  inputGradClasses,
  weightTransposeKernel,
} from '../../src/kernels/conv2d_backward.ts';
import type { GemmVariant } from '../../src/kernels/gemm.ts';

beforeAll(async () => {
  await initGpu();
});

function geom(batch: number, cin: number, h: number, w: number, cout: number, k: number | [number, number], s: number | [number, number], p: number | [number, number]): Conv2dGeom {
  const [kh, kw] = typeof k === 'number' ? [k, k] : k;
  const [sh, sw] = typeof s === 'number' ? [s, s] : s;
  const [ph, pw] = typeof p === 'number' ? [p, p] : p;
  return { batch, cin, h, w, cout, kh, kw, sh, sw, ph, pw, dh: 1, dw: 1, groups: 1, oh: Math.floor((h + 2 * ph - kh) / sh) + 1, ow: Math.floor((w + 2 * pw - kw) / sw) + 1 };
}

const geoms: [string, Conv2dGeom][] = [
  ['3x3 s1 p1, odd sizes', geom(2, 3, 9, 11, 5, 3, 1, 1)],
  ['kernel > stride, stride not dividing input', geom(1, 1, 13, 12, 17, [5, 4], [3, 2], [1, 2])],
  ['conv1-like 11x11 s4 p1', geom(1, 1, 31, 29, 9, 11, 4, 1)],
  ['channels multiple of 4 (vector loads), 2x2 s2', geom(3, 8, 8, 8, 12, 2, 2, 0)],
  ['1x1 kernel', geom(2, 5, 6, 7, 3, 1, 1, 0)],
  ['kernel covers the padded input', geom(1, 2, 5, 5, 4, 7, 1, 1)],
  ['kernel smaller than stride (input pixels without taps)', geom(2, 3, 10, 9, 6, 2, 3, 0)],
  ['OH*OW multiple of 4, 17 channels', geom(2, 17, 6, 6, 20, 3, 1, 1)],
];

const sizes = (g: Conv2dGeom) => ({
  x: g.batch * g.cin * g.h * g.w,
  w: g.cout * g.cin * g.kh * g.kw,
  y: g.batch * g.cout * g.oh * g.ow,
});

/** Run fn on both devices with the same data; compare. */
async function both(what: string, fn: (d: 'cpu' | 'gpu') => wt.Tensor, rtol = 1e-4, atol = 1e-5): Promise<void> {
  const g = fn('gpu');
  const c = fn('cpu');
  expectClose(await g.toArray(), await c.toArray(), rtol, atol, what);
  g.dispose();
  c.dispose();
}

describe('conv2d kernels: GPU vs CPU twins', () => {
  for (const variant of ['lanes', 'tiled'] as GemmVariant[])
    for (const [name, g] of geoms)
      it(`${variant}: ${name}`, async () => {
        const n = sizes(g);
        const X = randArray(n.x, 1);
        const W = randArray(n.w, 2);
        const B = randArray(g.cout, 3);
        const G = randArray(n.y, 4);
        const t = (a: Float32Array, d: 'cpu' | 'gpu') => wt.tensor(a, [a.length], { device: d });
        for (const [bias, relu] of [[false, false], [true, true]])
          await both(`${variant} fwd bias=${bias} relu=${relu}`, (d) =>
            launch(conv2dKernel, { ...g, bias, relu, variant }, bias ? [t(X, d), t(W, d), t(B, d), { shape: [n.y] }] : [t(X, d), t(W, d), { shape: [n.y] }])[0],
          );
        // the input-gradient kernels read the weight transposed: [Cin*KH*KW, Cout]
        const wT = (d: 'cpu' | 'gpu') => launch(weightTransposeKernel, { rows: g.cout, cols: n.w / g.cout }, [t(W, d), { shape: [n.w] }])[0];
        await both(`${variant} weight transpose`, wT, 0, 0);
        await both(`${variant} input grad`, (d) => {
          const dx = wt.full([n.x], NaN, { device: d }); // every element must be written
          const w = wT(d);
          const gy = t(G, d);
          for (const cls of inputGradClasses(g)) launch(conv2dInputGradKernel, { ...g, cls, variant }, [w, gy, dx]);
          return dx;
        });
        // the column-gradient + col2im path (used for Cin < 8), whole batch and one image per chunk
        const colPath = (d: 'cpu' | 'gpu', chunk: number) => {
          const dx = wt.full([n.x], NaN, { device: d });
          const w = wT(d);
          const gy = t(G, d);
          for (let b0 = 0; b0 < g.batch; b0 += chunk) {
            const nb = Math.min(chunk, g.batch - b0);
            const col = launch(conv2dColGradKernel, { ...g, b0, nb, variant }, [w, gy, { shape: [nb * g.cin * g.kh * g.kw * g.oh * g.ow] }])[0];
            for (const cls of inputGradClasses(g)) launch(col2imKernel, { ...g, b0, nb, cls }, [col, dx]);
          }
          return dx;
        };
        for (const chunk of [g.batch, 1]) await both(`${variant} column input grad chunk=${chunk}`, (d) => colPath(d, chunk));
        // both input-gradient paths agree (CPU twins: independent formulations)
        const classes = wt.full([n.x], NaN, { device: 'cpu' });
        for (const cls of inputGradClasses(g)) launch(conv2dInputGradKernel, { ...g, cls, variant }, [wT('cpu'), t(G, 'cpu'), classes]);
        expectClose(await colPath('cpu', g.batch).toArray(), await classes.toArray(), 1e-5, 1e-5, 'class vs column input grad');
        for (const bPer of [g.batch, 1])
          await both(`${variant} weight grad bPer=${bPer}`, (d) =>
            launch(conv2dWeightGradKernel, { ...g, bPer, variant }, [t(X, d), t(G, d), { shape: [Math.ceil(g.batch / bPer) * n.w] }])[0],
          );
      });

  it('the residue classes of the input gradient cover every pixel exactly once', () => {
    for (const [, g] of geoms) {
      const seen = new Uint8Array(g.h * g.w);
      for (const c of inputGradClasses(g))
        for (let q = 0; q < c.qh * c.qw; q++) seen[(c.ih0 + g.sh * Math.floor(q / c.qw)) * g.w + c.iw0 + g.sw * (q % c.qw)]++;
      expect(seen.every((v) => v === 1)).toBe(true);
    }
  });

  it('forward twin matches a direct definition (independent reference)', async () => {
    const g = geom(1, 2, 5, 6, 3, [3, 2], [2, 1], [1, 0]);
    const n = sizes(g);
    const X = randArray(n.x, 7);
    const W = randArray(n.w, 8);
    const y = launch(conv2dKernel, { ...g, bias: false, relu: false, variant: 'tiled' }, [wt.tensor(X, [n.x], { device: 'cpu' }), wt.tensor(W, [n.w], { device: 'cpu' }), { shape: [n.y] }])[0];
    const ref = new Float32Array(n.y);
    for (let co = 0; co < g.cout; co++)
      for (let oy = 0; oy < g.oh; oy++)
        for (let ox = 0; ox < g.ow; ox++) {
          let s = 0;
          for (let ci = 0; ci < g.cin; ci++)
            for (let i = 0; i < g.kh; i++)
              for (let j = 0; j < g.kw; j++) {
                const iy = oy * g.sh - g.ph + i;
                const ix = ox * g.sw - g.pw + j;
                const xv = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w ? X[(ci * g.h + iy) * g.w + ix] : 0;
                s += xv * W[((co * g.cin + ci) * g.kh + i) * g.kw + j];
              }
          ref[(co * g.oh + oy) * g.ow + ox] = s;
        }
    expectClose(await y.toArray(), ref, 1e-6, 1e-6, 'direct');
  });
});

describe('im2col and weight flip (small-map path) vs CPU twins', () => {
  const cases: [string, Conv2dGeom][] = [
    ['3x3 map p1, batch 1', geom(1, 9, 3, 3, 4, 3, 1, 1)],
    ['7x7 map k5 p2', geom(3, 5, 7, 7, 6, 5, 1, 2)],
    ['rectangular, stride 2, uneven padding', geom(2, 3, 5, 6, 4, [3, 2], 2, [2, 0])],
  ];
  for (const [name, g] of cases) {
    for (const kMajor of [false, true])
      it(`im2col ${kMajor ? 'K-major' : 'pixel-major'}: ${name}`, async () => {
        const xs = [g.batch, g.cin, g.h, g.w];
        const data = randArray(xs.reduce((a, b) => a * b, 1), 5);
        const P = g.batch * g.oh * g.ow;
        const K = g.cin * g.kh * g.kw;
        await gpuVsCpu(
          (d) => launch(im2colKernel, { ...g, kMajor }, [wt.tensor(data, xs, { device: d }), { shape: kMajor ? [K, P] : [P, K] }])[0],
          0, 0, name,
        );
      });
    it(`weight flip: ${name}`, async () => {
      const ws = [g.cout, g.cin, g.kh, g.kw];
      const data = randArray(ws.reduce((a, b) => a * b, 1), 6);
      await gpuVsCpu((d) => launch(weightFlipKernel, g, [wt.tensor(data, ws, { device: d }), { shape: [g.cin, g.cout, g.kh, g.kw] }])[0], 0, 0, name);
    });
  }
});
