// batchNorm (torch.nn.functional.batch_norm): forward, running statistics and gradients against a
// float64 transcription of PyTorch's definition, GPU = CPU on odd shapes (batch 1, [N, C], odd
// lengths, vec4 planes, chunked reductions), the chunked reduction path against the direct one,
// f32 accuracy of the statistics over 128*56*56 elements per channel, gradcheck, and errors.
import { describe, it, expect, beforeAll } from 'vitest';
import * as wt from 'webgpu-tensor';
import { batchNorm } from '../../src/autograd/batch_norm_fn.ts';
import { batchNormStatsKernel, batchNormStatsMergeKernel, channelGradSumsKernel, channelSumsMergeKernel } from '../../src/kernels/channel_stats.ts';
import { batchNormKernel } from '../../src/kernels/batch_norm.ts';
import { channelReducePlan } from '../../src/policy/norm_choice.ts';
import { BASELINE_CAPS, type KernelDef } from '../../src/kernels/kernel.ts';
import { initGpu, randArray, expectClose } from '../helpers.ts';
import { withCaps } from './norm_caps_util.ts';
import { f64, numelOf } from './layer_util.ts';

beforeAll(async () => {
  await initGpu();
});

interface Ref {
  y: Float64Array;
  rm: Float64Array;
  rv: Float64Array;
  gx: Float64Array;
  gw: Float64Array;
  gb: Float64Array;
}

/** PyTorch's batch norm in float64: y, running stats after one step (momentum m), and the
 * gradients for output gradient g (training: batch statistics; eval: the running ones). */
function reference(x: ArrayLike<number>, shape: number[], w: ArrayLike<number>, b: ArrayLike<number>, g: ArrayLike<number>,
  training: boolean, rm0: ArrayLike<number>, rv0: ArrayLike<number>, m = 0.1, eps = 1e-5): Ref {
  const [n, c] = shape;
  const s = numelOf(shape.slice(2));
  const M = n * s;
  const at = (ni: number, ci: number, si: number) => (ni * c + ci) * s + si;
  const r: Ref = {
    y: new Float64Array(x.length), gx: new Float64Array(x.length), rm: Float64Array.from(rm0), rv: Float64Array.from(rv0),
    gw: new Float64Array(c), gb: new Float64Array(c),
  };
  for (let ci = 0; ci < c; ci++) {
    let mean = rm0[ci];
    let v = rv0[ci];
    if (training) {
      mean = 0;
      for (let ni = 0; ni < n; ni++) for (let si = 0; si < s; si++) mean += x[at(ni, ci, si)];
      mean /= M;
      v = 0;
      for (let ni = 0; ni < n; ni++) for (let si = 0; si < s; si++) v += (x[at(ni, ci, si)] - mean) ** 2;
      v /= M;
      r.rm[ci] = (1 - m) * rm0[ci] + m * mean;
      r.rv[ci] = (1 - m) * rv0[ci] + (m * v * M) / (M - 1);
    }
    const inv = 1 / Math.sqrt(v + eps);
    let sg = 0;
    let sgx = 0;
    for (let ni = 0; ni < n; ni++)
      for (let si = 0; si < s; si++) {
        const i = at(ni, ci, si);
        const xh = (x[i] - mean) * inv;
        r.y[i] = xh * w[ci] + b[ci];
        sg += g[i];
        sgx += g[i] * xh;
      }
    r.gb[ci] = sg;
    r.gw[ci] = sgx;
    for (let ni = 0; ni < n; ni++)
      for (let si = 0; si < s; si++) {
        const i = at(ni, ci, si);
        const xh = (x[i] - mean) * inv;
        r.gx[i] = training ? (w[ci] * inv * (M * g[i] - sg - xh * sgx)) / M : w[ci] * inv * g[i];
      }
  }
  return r;
}

interface Run {
  y: ArrayLike<number>;
  rm: ArrayLike<number>;
  rv: ArrayLike<number>;
  nbt: ArrayLike<number>;
  gx: ArrayLike<number>;
  gw: ArrayLike<number> | null;
  gb: ArrayLike<number> | null;
}

async function run(device: 'cpu' | 'gpu', shape: number[], xd: Float32Array, gd: Float32Array, training: boolean, affine: boolean,
  rm0: Float32Array, rv0: Float32Array): Promise<Run> {
  const c = shape[1];
  const x = wt.tensor(xd, shape, { device, requiresGrad: true });
  const w = affine ? wt.tensor(randArray(c, 5, 0.5, 1.5), [c], { device, requiresGrad: true }) : null;
  const b = affine ? wt.tensor(randArray(c, 6), [c], { device, requiresGrad: true }) : null;
  const rm = wt.tensor(rm0, [c], { device });
  const rv = wt.tensor(rv0, [c], { device });
  const nbt = wt.zeros([], { device, dtype: 'int32' });
  const y = batchNorm(x, rm, rv, w, b, training, 0.1, 1e-5, nbt);
  y.backward(wt.tensor(gd, shape, { device }));
  return {
    y: await y.toArray(), rm: await rm.toArray(), rv: await rv.toArray(), nbt: await nbt.toArray(), gx: await x.grad!.toArray(),
    gw: w ? await w.grad!.toArray() : null, gb: b ? await b.grad!.toArray() : null,
  };
}

const shapes: number[][] = [
  [7, 5], // [N, C]: one column per channel
  [2, 3], // smallest training batch
  [3, 4, 7], // [N, C, L], odd L
  [1, 3, 5, 5], // batch 1, odd plane
  [2, 3, 4, 4], // vec4 planes
  [5, 2, 3, 1], // H*W = 3
  [4, 64, 7, 7], // ResNet's last stage
  [16, 3, 32, 32], // few channels, many elements: chunked reductions on the GPU
  [40000, 2], // [N, C] with a long column: chunked
];

describe('batchNorm', () => {
  for (const shape of shapes)
    for (const training of [true, false])
      it(`${training ? 'training' : 'eval'} ${JSON.stringify(shape)}: PyTorch's definition, GPU = CPU (y, running stats, dx, dw, db)`, async () => {
        const n = numelOf(shape);
        const c = shape[1];
        const xd = randArray(n, 3, -2, 3);
        const gd = randArray(n, 4);
        const rm0 = randArray(c, 7, -0.5, 0.5);
        const rv0 = randArray(c, 8, 0.5, 2);
        const w = randArray(c, 5, 0.5, 1.5);
        const b = randArray(c, 6);
        const ref = reference(xd, shape, w, b, gd, training, rm0, rv0);
        const cpu = await run('cpu', shape, xd, gd, training, true, rm0, rv0);
        const gpu = await run('gpu', shape, xd, gd, training, true, rm0, rv0);
        for (const [what, r] of [['cpu', cpu], ['gpu', gpu]] as const) {
          expectClose(r.y, ref.y, 1e-4, 1e-5, `${what} y`);
          expectClose(r.rm, ref.rm, 1e-5, 1e-6, `${what} running_mean`);
          expectClose(r.rv, ref.rv, 1e-5, 1e-6, `${what} running_var`);
          expectClose(r.gx, ref.gx, 1e-3, 1e-4, `${what} dx`);
          // sums over up to 80000 f32 terms
          expectClose(r.gw!, ref.gw, 1e-3, 2e-3, `${what} dweight`);
          expectClose(r.gb!, ref.gb, 1e-3, 2e-3, `${what} dbias`);
          expect(Array.from(r.nbt)).toEqual([training ? 1 : 0]);
        }
        expectClose(gpu.y, cpu.y, 1e-4, 1e-5, 'y gpu vs cpu');
        expectClose(gpu.gx, cpu.gx, 1e-3, 1e-4, 'dx gpu vs cpu');
      });

  it('without affine: y and dx match the reference (weight 1, bias 0) on both devices', async () => {
    const shape = [3, 5, 6];
    const n = numelOf(shape);
    const xd = randArray(n, 11, -1, 2);
    const gd = randArray(n, 12);
    const rm0 = new Float32Array(5);
    const rv0 = new Float32Array(5).fill(1);
    for (const training of [true, false]) {
      const ref = reference(xd, shape, new Float32Array(5).fill(1), new Float32Array(5), gd, training, rm0, rv0);
      for (const dev of ['cpu', 'gpu'] as const) {
        const r = await run(dev, shape, xd, gd, training, false, rm0, rv0);
        expectClose(r.y, ref.y, 1e-4, 1e-5, `${dev} y`);
        expectClose(r.gx, ref.gx, 1e-3, 1e-4, `${dev} dx`);
      }
    }
  });

  it('training without running statistics leaves nothing to update; eval needs them', async () => {
    const x = wt.tensor(randArray(24, 2), [4, 3, 2]);
    const y = batchNorm(x, null, null, null, null, true);
    const ref = reference(await x.toArray(), [4, 3, 2], [1, 1, 1], [0, 0, 0], new Float32Array(24), true, [0, 0, 0], [1, 1, 1]);
    expectClose(await y.toArray(), ref.y, 1e-4, 1e-5, 'y');
    expect(() => batchNorm(x, null, null)).toThrow(/batchNorm: runningMean and runningVar are required when not training/);
  });

  it('both walks, chunked (partials + merge) or direct, give the same statistics and gradient sums, GPU and CPU twin', async () => {
    // [N, C, S]: vec4 rows shorter and longer than a workgroup, scalar rows, [N, C], rows of two segments
    for (const [n, c, s] of [[6, 3, 20], [4, 2, 64], [5, 2, 9], [64, 1, 1], [3, 2, 2400]]) {
      const shape = [n, c, s];
      for (const device of ['gpu', 'cpu'] as const) {
        const x = wt.tensor(randArray(n * c * s, 21, -3, 5), shape, { device });
        const g = wt.tensor(randArray(n * c * s, 22), shape, { device });
        const results: [string, number[][]][] = [];
        for (const walk of ['rows', 'flat'] as const)
          for (const chunks of [1, 3]) {
            const rm = wt.tensor(randArray(c, 23), [c], { device });
            const rv = wt.ones([c], { device });
            const fin = { eps: 1e-5, update: 'momentum' as const, momentum: 0.3 };
            const geom = { n, c, s, walk, chunks };
            let mean: wt.Tensor;
            let invstd: wt.Tensor;
            if (chunks === 1) [mean, invstd] = wt.kernels.runKernel(batchNormStatsKernel, { ...geom, ...fin }, [x, { shape: [c] }, { shape: [c] }, rm, rv]);
            else {
              const [part] = wt.kernels.runKernel(batchNormStatsKernel, { ...geom, ...fin, update: 'none' }, [x, { shape: [c * chunks * 3] }]);
              [mean, invstd] = wt.kernels.runKernel(batchNormStatsMergeKernel, { c, chunks, ...fin }, [part, { shape: [c] }, { shape: [c] }, rm, rv]);
            }
            const gp = { ...geom, eps: 1e-5, stat: 'invstd' as const };
            let sg: wt.Tensor;
            let sgx: wt.Tensor;
            if (chunks === 1) [sg, sgx] = wt.kernels.runKernel(channelGradSumsKernel, gp, [g, x, mean, invstd, { shape: [c] }, { shape: [c] }]);
            else {
              const [part] = wt.kernels.runKernel(channelGradSumsKernel, gp, [g, x, mean, invstd, { shape: [c * chunks * 2] }]);
              [sg, sgx] = wt.kernels.runKernel(channelSumsMergeKernel, { c, chunks }, [part, { shape: [c] }, { shape: [c] }]);
            }
            results.push([`${walk} x${chunks}`, await Promise.all([mean, invstd, rm, rv, sg, sgx].map(async (t) => Array.from(await t.toArray())))]);
          }
        const names = ['mean', 'invstd', 'running_mean', 'running_var', 'sum g', 'sum g*xhat'];
        for (const [what, r] of results.slice(1))
          names.forEach((name, i) => expectClose(r[i], results[0][1][i], 1e-5, 1e-5, `${device} ${JSON.stringify(shape)} ${what} ${name}`));
      }
    }
  });

  it('the hardware geometry (256-lane workgroups, flat layout, its plan) gives the CPU twin\'s results on this adapter', async () => {
    const plans: string[] = [];
    for (const [n, c, s] of [[6, 3, 20], [40, 3, 1], [4, 5, 64 * 64], [9, 2, 49], [32, 2, 1024], [9000, 2, 1]]) {
      const shape = [n, c, s];
      const plan = channelReducePlan({ n, c, s }, BASELINE_CAPS);
      plans.push(`${plan.walk}${plan.chunks > 1 ? ' chunked' : ''}`);
      const run = async (device: 'cpu' | 'gpu') => {
        const k = <P>(def: KernelDef<P>) => (device === 'gpu' ? withCaps(def) : def);
        const x = wt.tensor(randArray(n * c * s, 24, -1, 3), shape, { device });
        const g = wt.tensor(randArray(n * c * s, 25), shape, { device });
        const [w, b] = [wt.tensor(randArray(c, 26, 0.5, 1.5), [c], { device }), wt.tensor(randArray(c, 27), [c], { device })];
        const [rm, rv] = [wt.zeros([c], { device }), wt.ones([c], { device })];
        const nbt = wt.zeros([], { device, dtype: 'int32' });
        const fin = { eps: 1e-5, update: 'momentum' as const, momentum: 0.1 };
        const geom = { n, c, s, ...plan };
        let mean: wt.Tensor;
        let invstd: wt.Tensor;
        if (plan.chunks === 1) [mean, invstd] = wt.kernels.runKernel(k(batchNormStatsKernel), { ...geom, ...fin }, [x, { shape: [c] }, { shape: [c] }, rm, rv]);
        else {
          const [part] = wt.kernels.runKernel(k(batchNormStatsKernel), { ...geom, ...fin, update: 'none' }, [x, { shape: [c * plan.chunks * 3] }]);
          [mean, invstd] = wt.kernels.runKernel(k(batchNormStatsMergeKernel), { c, chunks: plan.chunks, ...fin }, [part, { shape: [c] }, { shape: [c] }, rm, rv]);
        }
        const common = { n, c, s, eps: 1e-5, weight: true, stat: 'invstd' as const };
        const [y] = wt.kernels.runKernel(k(batchNormKernel), { ...common, mode: 'fwd', bias: true, count: true }, [x, mean, invstd, w, b, { shape }, nbt]);
        const gp = { ...geom, eps: 1e-5, stat: 'invstd' as const };
        let sg: wt.Tensor;
        let sgx: wt.Tensor;
        if (plan.chunks === 1) [sg, sgx] = wt.kernels.runKernel(k(channelGradSumsKernel), gp, [g, x, mean, invstd, { shape: [c] }, { shape: [c] }]);
        else {
          const [part] = wt.kernels.runKernel(k(channelGradSumsKernel), gp, [g, x, mean, invstd, { shape: [c * plan.chunks * 2] }]);
          [sg, sgx] = wt.kernels.runKernel(k(channelSumsMergeKernel), { c, chunks: plan.chunks }, [part, { shape: [c] }, { shape: [c] }]);
        }
        const [gx] = wt.kernels.runKernel(k(batchNormKernel), { ...common, mode: 'bwd', bias: false, count: false }, [g, x, mean, invstd, w, sg, sgx, { shape }]);
        const [gxe] = wt.kernels.runKernel(k(batchNormKernel), { ...common, mode: 'bwdEval', bias: false, count: false }, [g, rv, w, { shape }]);
        return Promise.all([mean, invstd, rm, rv, nbt, y, sg, sgx, gx, gxe].map(async (t) => Array.from(await t.toArray())));
      };
      const [gpu, cpu] = [await run('gpu'), await run('cpu')];
      ['mean', 'invstd', 'running_mean', 'running_var', 'nbt', 'y', 'sum g', 'sum g*xhat', 'dx', 'dx eval'].forEach((what, i) =>
        expectClose(gpu[i], cpu[i], 1e-4, 1e-4, `${JSON.stringify(shape)} ${plan.walk} x${plan.chunks} ${what}`));
    }
    expect(new Set(plans)).toEqual(new Set(['flat', 'rows', 'rows chunked', 'flat chunked']));
  });

  it('f32 statistics over N*H*W = 128*56*56 stay within 1e-6 (mean) and 1e-5 (variance) of float64', async () => {
    const [n, c, h, w] = [128, 2, 56, 56];
    const count = n * c * h * w;
    // offset data (mean 4, std ~0.6): the hard case for naive sums of squares
    const xd = randArray(count, 31, 3, 5);
    for (let i = 0; i < count; i += 7) xd[i] += 0.5;
    const x = wt.tensor(xd, [n, c, h, w]);
    const rm = wt.zeros([c]);
    const rv = wt.zeros([c]);
    // momentum 1: the running statistics become the batch mean and the unbiased variance
    batchNorm(x, rm, rv, null, null, true, 1).dispose();
    const gm = await rm.toArray();
    const gv = await rv.toArray();
    const M = n * h * w;
    for (let ci = 0; ci < c; ci++) {
      let s = 0;
      for (let ni = 0; ni < n; ni++) for (let i = 0; i < h * w; i++) s += xd[(ni * c + ci) * h * w + i];
      const mean = s / M;
      let q = 0;
      for (let ni = 0; ni < n; ni++) for (let i = 0; i < h * w; i++) q += (xd[(ni * c + ci) * h * w + i] - mean) ** 2;
      const v = q / (M - 1);
      expect(Math.abs(gm[ci] - mean) / Math.abs(mean)).toBeLessThan(1e-6);
      expect(Math.abs(gv[ci] - v) / v).toBeLessThan(1e-5);
    }
  });

  it('gradchecks on float64 CPU: x, weight and bias, training and eval', () => {
    for (const shape of [[3, 2, 2], [4, 3], [2, 2, 3, 1]]) {
      const c = shape[1];
      const n = numelOf(shape);
      const rm = wt.tensor(Float64Array.from(randArray(c, 41)), [c], { device: 'cpu', dtype: 'float64' });
      const rv = wt.tensor(Float64Array.from(randArray(c, 42, 0.5, 2)), [c], { device: 'cpu', dtype: 'float64' });
      const inputs = [f64(randArray(n, 43, -2, 2), shape), f64(randArray(c, 44, 0.5, 1.5), [c]), f64(randArray(c, 45), [c])];
      for (const training of [true, false])
        expect(wt.testing.gradcheck((x, w, b) => batchNorm(x, training ? null : rm, training ? null : rv, w, b, training), inputs)).toBe(true);
      // without affine, and weight only
      expect(wt.testing.gradcheck((x) => batchNorm(x, null, null, null, null, true), [inputs[0]])).toBe(true);
      expect(wt.testing.gradcheck((x, w) => batchNorm(x, null, null, w, null, true), inputs.slice(0, 2))).toBe(true);
    }
  });

  it('momentum null: cumulative average with the counter incremented on the device', async () => {
    // torch.nn.BatchNorm1d(3, momentum=None), three batches [5, 3]: x_k[i] = sin(0.5 i + k) (k + 1) + k
    const expected = { rm: [1.23753651, 1.24721888, 1.19637345], rv: [3.07367508, 2.92963317, 2.69825344] };
    for (const device of ['gpu', 'cpu'] as const) {
      const rm = wt.zeros([3], { device });
      const rv = wt.ones([3], { device });
      const nbt = wt.zeros([], { device, dtype: 'int32' });
      for (let k = 0; k < 3; k++) {
        const x = wt.tensor(Float32Array.from({ length: 15 }, (_, i) => Math.sin(0.5 * i + k) * (k + 1) + k), [5, 3], { device });
        batchNorm(x, rm, rv, null, null, true, null, 1e-5, nbt).dispose();
      }
      expect(Array.from(await nbt.toArray())).toEqual([3]);
      expectClose(await rm.toArray(), expected.rm, 1e-5, 1e-6, `${device} running_mean`);
      expectClose(await rv.toArray(), expected.rv, 1e-5, 1e-6, `${device} running_var`);
    }
  });

  it('rejects one value per channel in training, like PyTorch; eval accepts it', async () => {
    const rm = wt.zeros([3]);
    const rv = wt.ones([3]);
    expect(() => batchNorm(wt.zeros([1, 3]), rm, rv, null, null, true)).toThrow(
      'batchNorm: expected more than 1 value per channel when training, got input of shape [1,3]',
    );
    expect(() => batchNorm(wt.zeros([1, 3, 1, 1]), rm, rv, null, null, true)).toThrow(/more than 1 value per channel when training/);
    const y = batchNorm(wt.ones([1, 3]), rm, rv, null, null, false);
    expectClose(await y.toArray(), [1 / Math.sqrt(1 + 1e-5), 1 / Math.sqrt(1 + 1e-5), 1 / Math.sqrt(1 + 1e-5)], 1e-6, 1e-7, 'eval batch 1');
  });

  it('rejects bad arguments before any GPU work', () => {
    const x = wt.zeros([2, 3, 4]);
    const v3 = wt.zeros([3]);
    expect(() => batchNorm(wt.zeros([3]), v3, v3)).toThrow('batchNorm: expected x of shape [N, C, *] (2 or more dims), got [3]');
    expect(() => batchNorm(x, wt.zeros([4]), v3)).toThrow('batchNorm: expected runningMean of shape [3] (one per channel), got [4]');
    expect(() => batchNorm(x, v3, v3, wt.zeros([3, 1]))).toThrow('batchNorm: expected weight of shape [3] (one per channel), got [3,1]');
    expect(() => batchNorm(x, v3, null, null, null, true)).toThrow('batchNorm: runningMean and runningVar must both be given or both be null');
    expect(() => batchNorm(x, v3, v3, null, null, true, null)).toThrow('batchNorm: momentum null (cumulative average) needs numBatchesTracked');
    expect(() => batchNorm(x, v3, v3, null, null, true, 0.1, 1e-5, wt.zeros([]))).toThrow(/batchNorm: expected numBatchesTracked to be an int32 scalar/);
    expect(() => batchNorm(x, v3, v3, null, null, true, NaN)).toThrow('batchNorm: expected momentum to be a finite number, got NaN');
    expect(() => batchNorm(x, v3, v3, null, null, true, 0.1, -1)).toThrow('batchNorm: expected eps to be a finite number >= 0, got -1');
    expect(() => batchNorm(x, v3, wt.zeros([3], { device: 'cpu' }))).toThrow(/batchNorm: tensors are on different devices/);
    expect(() => batchNorm(x, v3, v3, null, null, 1 as unknown as boolean)).toThrow('batchNorm: expected training to be a boolean, got 1');
  });
});
