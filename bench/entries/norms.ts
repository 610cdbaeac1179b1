// Normalisation kernels, timed as the library's dispatch sequences into preallocated outputs
// (kind 'bytes': the bytes each pass must move, counting every pass over the activation; the
// per-channel / per-row vectors are negligible). Batch norm on a ResNet stage-1 activation
// [32, 64, 56, 56], layer norm on transformer rows [8192, 768], group norm on [32, 64, 56, 56] in
// 32 groups; the batch shrinks on a software adapter so each entry stays well under a few seconds.
import * as wt from 'webgpu-tensor';
import type { BenchEntry } from '../harness.ts';

const {
  runKernel, batchNormStatsKernel, batchNormStatsMergeKernel, channelGradSumsKernel, channelSumsMergeKernel, batchNormKernel,
  batchNormPlan, rowNormKernel, rowNormLayout, layerNormParamGradKernel, layerNormParamGradChunks,
} = wt.kernels;

const F = 4; // bytes per f32

function entry(name: string, shape: string, work: number, make: () => { run(): void; tensors: wt.Tensor[] }): BenchEntry {
  return {
    name,
    shape,
    kind: 'bytes',
    work,
    setup() {
      const { run, tensors } = make();
      return { run, dispose: () => tensors.forEach((t) => t.dispose()) };
    },
  };
}

export function entries(small: boolean): BenchEntry[] {
  const [n, c, h, w] = [small ? 8 : 32, 64, 56, 56];
  const s = h * w;
  const act = n * c * s;
  const actShape = `${n}x${c}x${h}x${w}`;
  const [rows, d] = [small ? 2048 : 8192, 768];
  const ln = rows * d;
  const eps = 1e-5;
  const groups = 32;
  const vec = (v: number) => wt.full([c], v);
  return [
    // stats (read x) + normalise (read x, write y), running statistics and counter updated
    entry('batchNorm.fwd.train', actShape, 3 * act * F, () => {
      const [x, y, mean, invstd, rm, rv, wgt, b] = [wt.randn([n, c, h, w]), wt.zeros([n, c, h, w]), vec(0), vec(1), vec(0), vec(1), vec(1), vec(0)];
      const nbt = wt.zeros([], { dtype: 'int32' });
      const { walk, chunks } = batchNormPlan(n, c, s);
      const fin = { eps, update: 'momentum' as const, momentum: 0.1 };
      const part = wt.zeros([c * chunks * 3]);
      return {
        run: () => {
          if (chunks === 1) runKernel(batchNormStatsKernel, { n, c, s, walk, chunks, ...fin }, [x, mean, invstd, rm, rv]);
          else {
            runKernel(batchNormStatsKernel, { n, c, s, walk, chunks, ...fin, update: 'none' }, [x, part]);
            runKernel(batchNormStatsMergeKernel, { c, chunks, ...fin }, [part, mean, invstd, rm, rv]);
          }
          const p = { mode: 'fwd' as const, n, c, s, eps, weight: true, bias: true, stat: 'invstd' as const, count: true };
          runKernel(batchNormKernel, p, [x, mean, invstd, wgt, b, y, nbt]);
        },
        tensors: [x, y, mean, invstd, rm, rv, wgt, b, nbt, part],
      };
    }),
    // normalise with the running statistics (read x, write y)
    entry('batchNorm.fwd.eval', actShape, 2 * act * F, () => {
      const [x, y, rm, rv, wgt, b] = [wt.randn([n, c, h, w]), wt.zeros([n, c, h, w]), vec(0), vec(1), vec(1), vec(0)];
      const p = { mode: 'fwd' as const, n, c, s, eps, weight: true, bias: true, stat: 'var' as const, count: false };
      return { run: () => runKernel(batchNormKernel, p, [x, rm, rv, wgt, b, y]), tensors: [x, y, rm, rv, wgt, b] };
    }),
    // gradient sums (read g, x) + dx (read g, x, write dx)
    entry('batchNorm.bwd', actShape, 5 * act * F, () => {
      const [g, x, gx, mean, invstd, wgt, sg, sgx] = [wt.randn([n, c, h, w]), wt.randn([n, c, h, w]), wt.zeros([n, c, h, w]), vec(0), vec(1), vec(1), vec(0), vec(0)];
      const { walk, chunks } = batchNormPlan(n, c, s);
      const part = wt.zeros([c * chunks * 2]);
      const gp = { n, c, s, walk, chunks, eps, stat: 'invstd' as const };
      return {
        run: () => {
          if (chunks === 1) runKernel(channelGradSumsKernel, gp, [g, x, mean, invstd, sg, sgx]);
          else {
            runKernel(channelGradSumsKernel, gp, [g, x, mean, invstd, part]);
            runKernel(channelSumsMergeKernel, { c, chunks }, [part, sg, sgx]);
          }
          const p = { mode: 'bwd' as const, n, c, s, eps, weight: true, bias: false, stat: 'invstd' as const, count: false };
          runKernel(batchNormKernel, p, [g, x, mean, invstd, wgt, sg, sgx, gx]);
        },
        tensors: [g, x, gx, mean, invstd, wgt, sg, sgx, part],
      };
    }),
    // one kernel: row moments, then the normalised row (read x once from memory, write y)
    entry('layerNorm.fwd', `${rows}x${d}`, 2 * ln * F, () => {
      const [x, y, wgt, b, mean, rstd] = [wt.randn([rows, d]), wt.zeros([rows, d]), wt.ones([d]), wt.zeros([d]), wt.zeros([rows]), wt.zeros([rows])];
      const p = { mode: 'fwd' as const, r: rows, d, affine: 'elem' as const, weight: true, bias: true, eps, layout: rowNormLayout(rows) };
      return { run: () => runKernel(rowNormKernel, p, [x, wgt, b, y, mean, rstd]), tensors: [x, y, wgt, b, mean, rstd] };
    }),
    // dx (read g, x, write dx) + dweight, dbias (read g, x; partial sums added by a reduction)
    entry('layerNorm.bwd', `${rows}x${d}`, 5 * ln * F, () => {
      const [g, x, gx, wgt, mean, rstd] = [wt.randn([rows, d]), wt.randn([rows, d]), wt.zeros([rows, d]), wt.ones([d]), wt.zeros([rows]), wt.ones([rows])];
      const chunks = layerNormParamGradChunks(rows, d);
      const [dw, db] = [wt.zeros([chunks, d]), wt.zeros([chunks, d])];
      const rp = { mode: 'bwd' as const, r: rows, d, affine: 'elem' as const, weight: true, bias: true, eps, layout: rowNormLayout(rows) };
      return {
        run: () => {
          runKernel(rowNormKernel, rp, [g, x, mean, rstd, wgt, gx]);
          runKernel(layerNormParamGradKernel, { r: rows, d, chunks, weight: true, bias: true }, [g, x, mean, rstd, dw, db]);
          if (chunks > 1) [wt.sum(dw, 0), wt.sum(db, 0)].forEach((t) => t.dispose());
        },
        tensors: [g, x, gx, wgt, mean, rstd, dw, db],
      };
    }),
    entry('groupNorm.fwd', `${actShape} g${groups}`, 2 * act * F, () => {
      const [x, y, wgt, b, mean, rstd] = [wt.randn([n, c, h, w]), wt.zeros([n, c, h, w]), vec(1), vec(0), wt.zeros([n * groups]), wt.zeros([n * groups])];
      const r = n * groups;
      const p = { mode: 'fwd' as const, r, d: (c / groups) * s, affine: 'chan' as const, weight: true, bias: true, groups, s, eps, layout: rowNormLayout(r) };
      return { run: () => runKernel(rowNormKernel, p, [x, wgt, b, y, mean, rstd]), tensors: [x, y, wgt, b, mean, rstd] };
    }),
  ];
}
