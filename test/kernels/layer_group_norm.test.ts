// layerNorm and groupNorm (torch.nn.functional.layer_norm / group_norm): reference numbers from
// PyTorch 1.13 (float64; the script is in the comment above them), a float64 transcription of the
// definitions, GPU = CPU on odd shapes (batch 1, long rows, many short rows, S = 1, one channel per
// group, weight only / bias only / none), the chunked layer-norm weight-gradient path, gradcheck,
// and errors.
import { describe, it, expect, beforeAll } from 'vitest';
import * as wt from 'webgpu-tensor';
import { groupNorm, layerNorm } from '../../src/autograd/row_norm_fn.ts';
import {
  type RowNormGeom, type RowNormLayout, type RowNormParams, layerNormColumnGroups, layerNormParamGradKernel, rowNormKernel,
} from '../../src/kernels/row_norm.ts';
import type { KernelDef } from '../../src/kernels/kernel.ts';
import { withCaps } from './norm_caps_util.ts';
import { layerNormParamChunks } from '../../src/policy/norm_choice.ts';
import { deviceCaps } from '../../src/backend/device.ts';
import { initGpu, randArray, expectClose } from '../helpers.ts';
import { f64, numelOf } from './layer_util.ts';

beforeAll(async () => {
  await initGpu();
});

// PyTorch (float64), seq(n, f) = [f(i) for i in range(n)], loss = sum(y * gp):
//   ln: x = seq(24, sin(0.7 i) * 3 + 1) [2, 3, 4], w = seq(12, 1 + 0.05 i), b = seq(12, 0.1 i - 0.3) [3, 4],
//       y = F.layer_norm(x, [3, 4], w, b), gp = seq(24, cos(0.3 i))
//   gn: x = seq(60, sin(0.45 i) * 2 + (i % 4) * 0.5) [2, 6, 5], w = seq(6, 1 - 0.1 i), b = seq(6, 0.2 i),
//       y = F.group_norm(x, 3, w, b), gp = seq(60, cos(0.17 i))
const ln = {
  y: [
    -0.500481732, 0.573520504, 1.25639834, 1.21355096, 0.444205897, -0.688474263, -1.60891493, -1.80008534,
    -1.06633299, 0.344768226, 1.83289242, 2.71741837, 0.874307815, 0.195840986, -0.808154975, -1.61910194,
    -1.76724227, -1.07309419, 0.237524705, 1.6133997, 2.42753854, 2.28363531, 1.22979775, -0.233838977,
  ],
  gx: [
    0.592631991, 0.503649088, 0.409538909, 0.333112234, 0.271520654, 0.199867556, 0.0869169944, -0.0847724212,
    -0.30421221, -0.530316601, -0.704651777, -0.773284416, -0.814973854, -0.65353418, -0.421682533, -0.183611036,
    0.00640014509, 0.12495053, 0.184736625, 0.222072784, 0.273201189, 0.351199665, 0.434998936, 0.476241729,
  ],
  gw: [
    -1.25355215, 0.430112956, 1.33333136, 0.952743705, -0.032213437, -0.43523956, 0.30312065, 1.57299611, 2.14697809,
    1.32010017, -0.412082608, -1.76563888,
  ],
  gb: [
    0.103241584, 0.229404185, 0.335074794, 0.410814169, 0.449856738, 0.448714944, 0.407490781, 0.32986668,
    0.222776571, 0.0957864944, -0.0397599046, -0.17175467,
  ],
};
const gn = {
  y: [
    -0.910123042, 0.0664061543, 0.91946711, 1.55017483, 0.478254324, 0.700005478, 0.570806325, 0.332423675,
    -1.18690678, -1.31009013, -0.568880877, -0.317702878, -0.858976854, -0.266471278, 0.408157126, 1.19455904,
    0.845168522, 1.21968474, 1.42656461, 1.46741349, 1.33398395, 1.10439378, 0.880957437, 0.76916547, -0.373261399,
    0.291010815, 0.756536984, 1.37700761, 1.0584353, 1.75430994, 1.02060913, 1.55730703, 0.597352042, 0.648492358,
    0.511083495, 0.447313754, -0.882514875, -0.979780113, -0.895631828, -0.590746592, -1.18840854, -0.492994581,
    0.290433319, 1.06245301, 0.58957555, 1.18532372, 1.40966434, 1.44372547, 0.335921925, 0.146938132, 0.641480073,
    0.580941747, -0.102427215, 0.104519896, 0.453517389, 1.09343041, 0.901621794, 1.32159883, 1.6805239, 1.93779848,
  ],
  gx: [
    0.398353731, 0.251055142, 0.100826163, -0.0375778161, 0.0449887136, -0.0967258825, -0.164229292, -0.22439047,
    -0.0917171814, -0.180583107, 0.119773858, 0.0711912647, -0.0771116682, -0.0703642288, -0.044400141, 0.0423593793,
    -0.0454078485, -0.0133994067, 0.00549472945, 0.0118640618, -0.349132321, -0.299966184, -0.235108984,
    -0.162528322, -0.0137961814, 0.100752625, 0.146964836, 0.185973925, 0.29615269, 0.330687917, -0.157752539,
    -0.020317072, -0.0118178652, 0.065335051, 0.113339467, 0.0785016419, -0.0158704974, -0.0170209911, -0.0183319634,
    -0.0160652312, 0.146854128, 0.179426755, 0.210367774, 0.229151663, 0.0833753373, 0.0366182199, -0.0150528717,
    -0.0944758749, -0.335571914, -0.440693217, 0.0766909126, 0.0314502519, 0.0124474834, -0.0239485505,
    -0.0547298717, -0.0165117441, -0.00916473985, -0.0146369616, -0.00931583965, 0.00771905947,
  ],
  gw: [
    4.30881856, -4.01654803, -0.542222827, -3.83770575, 3.05959917, -2.37568204,
  ],
  gb: [
    7.80877319, 6.66159874, 0.984312593, -5.3623393, -8.06241971, -5.27978295,
  ],
};

const seq = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));

interface Grads {
  y: ArrayLike<number>;
  gx: ArrayLike<number>;
  gw: ArrayLike<number> | null;
  gb: ArrayLike<number> | null;
}

/** f(x, w, b) forward and backward (output gradient gp) on `device`; w / b null leave them out. */
async function run(
  device: 'cpu' | 'gpu',
  f: (x: wt.Tensor, w: wt.Tensor | null, b: wt.Tensor | null) => wt.Tensor,
  x: [Float32Array, number[]],
  w: [Float32Array, number[]] | null,
  b: [Float32Array, number[]] | null,
  gp: Float32Array,
): Promise<Grads> {
  const mk = (a: [Float32Array, number[]] | null) => (a ? wt.tensor(a[0], a[1], { device, requiresGrad: true }) : null);
  const [xt, wt_, bt] = [mk(x)!, mk(w), mk(b)];
  const y = f(xt, wt_, bt);
  y.backward(wt.tensor(gp, y.shape, { device }));
  return {
    y: await y.toArray(), gx: await xt.grad!.toArray(),
    gw: wt_ ? await wt_.grad!.toArray() : null, gb: bt ? await bt.grad!.toArray() : null,
  };
}

/** Float64 reference: rows [R, D] normalised, affine index per element via wIdx. */
function rowsReference(x: ArrayLike<number>, r: number, d: number, gp: ArrayLike<number>, wAt: (row: number, j: number) => number,
  bAt: (row: number, j: number) => number, eps = 1e-5) {
  const y = new Float64Array(r * d);
  const gx = new Float64Array(r * d);
  const xhat = new Float64Array(r * d);
  for (let row = 0; row < r; row++) {
    const o = row * d;
    let mean = 0;
    for (let j = 0; j < d; j++) mean += x[o + j];
    mean /= d;
    let v = 0;
    for (let j = 0; j < d; j++) v += (x[o + j] - mean) ** 2;
    const rs = 1 / Math.sqrt(v / d + eps);
    let A = 0;
    let B = 0;
    for (let j = 0; j < d; j++) {
      xhat[o + j] = (x[o + j] - mean) * rs;
      y[o + j] = xhat[o + j] * wAt(row, j) + bAt(row, j);
      const gw = gp[o + j] * wAt(row, j);
      A += gw;
      B += gw * xhat[o + j];
    }
    for (let j = 0; j < d; j++) gx[o + j] = rs * (gp[o + j] * wAt(row, j) - A / d - (xhat[o + j] * B) / d);
  }
  return { y, gx, xhat };
}

const both = ['cpu', 'gpu'] as const;

describe('layerNorm', () => {
  it("matches PyTorch's numbers (y, dx, dweight, dbias) on both devices", async () => {
    for (const device of both) {
      const r = await run(device, (x, w, b) => layerNorm(x, [3, 4], w, b), [seq(24, (i) => Math.sin(0.7 * i) * 3 + 1), [2, 3, 4]],
        [seq(12, (i) => 1 + 0.05 * i), [3, 4]], [seq(12, (i) => 0.1 * i - 0.3), [3, 4]], seq(24, (i) => Math.cos(0.3 * i)));
      expectClose(r.y, ln.y, 1e-5, 1e-6, `${device} y`);
      expectClose(r.gx, ln.gx, 1e-4, 1e-5, `${device} dx`);
      expectClose(r.gw!, ln.gw, 1e-4, 1e-5, `${device} dweight`);
      expectClose(r.gb!, ln.gb, 1e-4, 1e-5, `${device} dbias`);
    }
  });

  const cases: [number[], number[], boolean, boolean][] = [
    // x shape, normalizedShape, weight, bias
    [[5, 7], [7], true, true], // odd row
    [[2, 3, 8], [3, 8], true, true], // vec4 rows over two dims
    [[1, 12], [12], true, false], // one row, weight only
    [[3, 1000], [1000], false, true], // long rows, bias only
    [[700, 6], [6], true, true], // many short rows: chunked weight gradients on the GPU
    [[4, 5, 3], [5, 3], false, false], // no affine
    [[6], [6], true, true], // no leading dims
  ];
  for (const [shape, ns, hasW, hasB] of cases)
    it(`${JSON.stringify(shape)} over ${JSON.stringify(ns)}${hasW ? ' +w' : ''}${hasB ? ' +b' : ''}: reference, GPU = CPU`, async () => {
      const n = numelOf(shape);
      const d = numelOf(ns);
      const xd = randArray(n, 51, -2, 4);
      const gp = randArray(n, 52);
      const w = hasW ? ([randArray(d, 53, 0.5, 1.5), ns] as [Float32Array, number[]]) : null;
      const b = hasB ? ([randArray(d, 54), ns] as [Float32Array, number[]]) : null;
      const ref = rowsReference(xd, n / d, d, gp, (_, j) => (w ? w[0][j] : 1), (_, j) => (b ? b[0][j] : 0));
      const f = (x: wt.Tensor, wt_: wt.Tensor | null, bt: wt.Tensor | null) => layerNorm(x, ns, wt_, bt);
      for (const device of both) {
        const r = await run(device, f, [xd, shape], w, b, gp);
        expectClose(r.y, ref.y, 1e-4, 1e-5, `${device} y`);
        expectClose(r.gx, ref.gx, 1e-3, 1e-4, `${device} dx`);
        if (w) {
          const gw = new Float64Array(d);
          for (let i = 0; i < n; i++) gw[i % d] += gp[i] * ref.xhat[i];
          expectClose(r.gw!, gw, 1e-3, 1e-4, `${device} dweight`);
        }
        if (b) {
          const gb = new Float64Array(d);
          for (let i = 0; i < n; i++) gb[i % d] += gp[i];
          expectClose(r.gb!, gb, 1e-3, 1e-4, `${device} dbias`);
        }
      }
    });

  it("both row layouts ('group': a workgroup per row, 'lane': an invocation per row) match the CPU twin", async () => {
    // layer norm rows (vec4 and scalar), group norm rows (vec4 and scalar channels)
    const geoms: RowNormGeom[] = [
      { r: 37, d: 24, affine: 'elem', weight: true, bias: true, eps: 1e-5 },
      { r: 20, d: 1030, affine: 'elem', weight: true, bias: false, eps: 1e-5 },
      { r: 18, d: 3 * 16, affine: 'chan', weight: true, bias: true, groups: 3, s: 16, eps: 1e-5 },
      { r: 10, d: 2 * 9, affine: 'chan', weight: false, bias: true, groups: 5, s: 9, eps: 1e-5 },
    ];
    for (const g of geoms) {
      const c = g.affine === 'chan' ? g.groups! * (g.d / g.s!) : g.d;
      const shape = [g.r * g.d];
      const args = (device: 'cpu' | 'gpu') => ({
        x: wt.tensor(randArray(g.r * g.d, 91, -1, 3), shape, { device }),
        gy: wt.tensor(randArray(g.r * g.d, 92), shape, { device }),
        w: wt.tensor(randArray(c, 93, 0.5, 1.5), [c], { device }),
        b: wt.tensor(randArray(c, 94), [c], { device }),
      });
      const runOn = async (device: 'cpu' | 'gpu', layout: RowNormLayout, kernel: KernelDef<RowNormParams>) => {
        const { x, gy, w, b } = args(device);
        const wb = [...(g.weight ? [w] : []), ...(g.bias ? [b] : [])];
        const [y, mean, rstd] = wt.kernels.runKernel(kernel, { ...g, mode: 'fwd', layout }, [x, ...wb, { shape }, { shape: [g.r] }, { shape: [g.r] }]);
        const [gx] = wt.kernels.runKernel(kernel, { ...g, mode: 'bwd', layout }, [gy, x, mean, rstd, ...(g.weight ? [w] : []), { shape }]);
        return Promise.all([y, mean, rstd, gx].map(async (t) => Array.from(await t.toArray())));
      };
      const cpu = await runOn('cpu', 'group', rowNormKernel);
      // this adapter's geometry in both layouts, and the hardware one (256 lanes per row)
      for (const [layout, k, tag] of [['group', rowNormKernel, ''], ['lane', rowNormKernel, ''], ['group', withCaps(rowNormKernel), ' hw']] as const) {
        const gpu = await runOn('gpu', layout, k);
        ['y', 'mean', 'rstd', 'dx'].forEach((what, i) => expectClose(gpu[i], cpu[i], 1e-4, 1e-5, `${layout}${tag} ${g.affine} r${g.r} d${g.d} ${what}`));
      }
    }
  });

  it('the weight-gradient chunking is exercised on this adapter for many short rows', () => {
    const caps = deviceCaps();
    expect(layerNormParamChunks(700, layerNormColumnGroups({ d: 6 }, caps), caps)).toBeGreaterThan(1);
  });

  it('the weight-gradient kernel in the hardware geometry (256 columns per workgroup, chunks) matches the CPU twin', async () => {
    for (const [r, d, chunks] of [[300, 12, 5], [7, 1030, 1], [130, 9, 2]]) {
      const run = async (device: 'cpu' | 'gpu') => {
        const k = device === 'gpu' ? withCaps(layerNormParamGradKernel) : layerNormParamGradKernel;
        const t = (n: number, seed: number, lo = -1, hi = 1) => wt.tensor(randArray(n, seed, lo, hi), [n], { device });
        const outs = wt.kernels.runKernel(k, { r, d, chunks, weight: true, bias: true }, [
          t(r * d, 101), t(r * d, 102), t(r, 103), t(r, 104, 0.5, 2), { shape: [chunks * d] }, { shape: [chunks * d] },
        ]);
        return Promise.all(outs.map(async (o) => Array.from(await o.toArray())));
      };
      const [gpu, cpu] = [await run('gpu'), await run('cpu')];
      expectClose(gpu[0], cpu[0], 1e-4, 1e-5, `r${r} d${d} dw`);
      expectClose(gpu[1], cpu[1], 1e-4, 1e-5, `r${r} d${d} db`);
    }
  });

  it('gradchecks on float64 CPU: x, weight, bias', () => {
    const x = f64(randArray(24, 61, -2, 2), [2, 3, 4]);
    const w = f64(randArray(12, 62, 0.5, 1.5), [3, 4]);
    const b = f64(randArray(12, 63), [3, 4]);
    expect(wt.testing.gradcheck((x, w, b) => layerNorm(x, [3, 4], w, b), [x, w, b])).toBe(true);
    expect(wt.testing.gradcheck((x) => layerNorm(x, 3), [f64(randArray(15, 64, -2, 2), [5, 3])])).toBe(true);
  });

  it('rejects bad arguments', () => {
    const x = wt.zeros([2, 4, 3]);
    expect(() => layerNorm(x, [4])).toThrow('layerNorm: given normalizedShape [4], expected input with shape [*, 4], got [2,4,3]');
    expect(() => layerNorm(x, [])).toThrow(/layerNorm: normalizedShape must be a positive integer or a non-empty list/);
    expect(() => layerNorm(x, 0)).toThrow(/layerNorm: normalizedShape must be a positive integer/);
    expect(() => layerNorm(x, [2, 4, 3, 1])).toThrow(/expected input with shape \[\*, 2, 4, 3, 1\]/);
    expect(() => layerNorm(x, 3, wt.zeros([4]))).toThrow('layerNorm: expected weight of shape [3], got [4]');
    expect(() => layerNorm(x, 3, null, null, NaN)).toThrow('layerNorm: expected eps to be a finite number >= 0, got NaN');
  });
});

describe('groupNorm', () => {
  it("matches PyTorch's numbers (y, dx, dweight, dbias) on both devices", async () => {
    for (const device of both) {
      const r = await run(device, (x, w, b) => groupNorm(x, 3, w, b), [seq(60, (i) => Math.sin(0.45 * i) * 2 + (i % 4) * 0.5), [2, 6, 5]],
        [seq(6, (i) => 1 - 0.1 * i), [6]], [seq(6, (i) => 0.2 * i), [6]], seq(60, (i) => Math.cos(0.17 * i)));
      expectClose(r.y, gn.y, 1e-5, 1e-6, `${device} y`);
      expectClose(r.gx, gn.gx, 1e-4, 1e-5, `${device} dx`);
      expectClose(r.gw!, gn.gw, 1e-4, 1e-5, `${device} dweight`);
      expectClose(r.gb!, gn.gb, 1e-4, 1e-5, `${device} dbias`);
    }
  });

  const cases: [number[], number, boolean, boolean][] = [
    // x shape, groups, weight, bias
    [[1, 6, 5], 3, true, true], // batch 1, odd S
    [[3, 4, 2, 2], 2, true, true], // vec4 channels
    [[2, 6], 3, true, true], // S = 1
    [[2, 8, 3, 3], 8, true, false], // one channel per group (instance norm), weight only
    [[2, 4, 5, 4], 1, false, true], // one group (layer norm over C, H, W), bias only
    [[3, 6, 7], 2, false, false], // no affine
    [[2, 32, 14, 14], 8, true, true],
  ];
  for (const [shape, groups, hasW, hasB] of cases)
    it(`${JSON.stringify(shape)} in ${groups} groups${hasW ? ' +w' : ''}${hasB ? ' +b' : ''}: reference, GPU = CPU`, async () => {
      const n = numelOf(shape);
      const [nb, c] = shape;
      const s = numelOf(shape.slice(2));
      const cpg = c / groups;
      const xd = randArray(n, 71, -2, 4);
      const gp = randArray(n, 72);
      const w = hasW ? ([randArray(c, 73, 0.5, 1.5), [c]] as [Float32Array, number[]]) : null;
      const b = hasB ? ([randArray(c, 74), [c]] as [Float32Array, number[]]) : null;
      const ch = (row: number, j: number) => (row % groups) * cpg + Math.floor(j / s);
      const ref = rowsReference(xd, nb * groups, cpg * s, gp, (row, j) => (w ? w[0][ch(row, j)] : 1), (row, j) => (b ? b[0][ch(row, j)] : 0));
      const f = (x: wt.Tensor, wt_: wt.Tensor | null, bt: wt.Tensor | null) => groupNorm(x, groups, wt_, bt);
      const gw = new Float64Array(c);
      const gb = new Float64Array(c);
      for (let i = 0; i < n; i++) {
        const ci = Math.floor(i / s) % c;
        gw[ci] += gp[i] * ref.xhat[i];
        gb[ci] += gp[i];
      }
      for (const device of both) {
        const r = await run(device, f, [xd, shape], w, b, gp);
        expectClose(r.y, ref.y, 1e-4, 1e-5, `${device} y`);
        expectClose(r.gx, ref.gx, 1e-3, 1e-4, `${device} dx`);
        if (w) expectClose(r.gw!, gw, 1e-3, 1e-4, `${device} dweight`);
        if (b) expectClose(r.gb!, gb, 1e-3, 1e-4, `${device} dbias`);
      }
    });

  it('gradchecks on float64 CPU: x, weight, bias', () => {
    const x = f64(randArray(48, 81, -2, 2), [2, 4, 3, 2]);
    const w = f64(randArray(4, 82, 0.5, 1.5), [4]);
    const b = f64(randArray(4, 83), [4]);
    expect(wt.testing.gradcheck((x, w, b) => groupNorm(x, 2, w, b), [x, w, b])).toBe(true);
    expect(wt.testing.gradcheck((x, w) => groupNorm(x, 4, w), [f64(randArray(12, 84, -2, 2), [3, 4]), w])).toBe(true);
  });

  it('rejects bad arguments', () => {
    const x = wt.zeros([2, 4, 3]);
    expect(() => groupNorm(x, 3)).toThrow('groupNorm: expected the number of channels (4) to be divisible by numGroups (3), got input of shape [2,4,3]');
    expect(() => groupNorm(x, 0)).toThrow('groupNorm: numGroups must be a positive integer, got 0');
    expect(() => groupNorm(wt.zeros([4]), 2)).toThrow('groupNorm: expected x of shape [N, C, *] (2 or more dims), got [4]');
    expect(() => groupNorm(x, 2, wt.zeros([3]))).toThrow('groupNorm: expected weight of shape [4], got [3]');
    expect(() => groupNorm(x, 2, null, wt.zeros([4], { device: 'cpu' }))).toThrow(/groupNorm: tensors are on different devices/);
  });
});
