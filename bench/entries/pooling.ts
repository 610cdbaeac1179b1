// Pooling kernels beyond max pooling (layers.ts has that), timed as raw dispatches into
// preallocated outputs (kind 'bytes': distinct bytes read + written per run; the gather backwards
// re-read g, which caches absorb). Shapes: ResNet's early feature maps [8, 64, 56, 56] with
// 3x3 s1 p1 (Inception/DenseNet-style branch pooling) and 2x2 s2 (DenseNet transitions); global
// average pooling of ResNet's last map at d2l's batch 128, [128, 512, 7, 7]; an adaptive 13x13 -> 6x6 (AlexNet's head),
// average and max.
// On a software adapter the batches shrink so each entry stays well under a few seconds there.
import * as wt from 'webgpu-tensor';
import type { BenchEntry } from '../harness.ts';

const {
  runKernel, poolOut, avgPoolKernel, avgPoolBackwardKernel, adaptivePoolKernel, adaptivePoolBackward, adaptiveAvgByRows, adaptiveAvgRowsKernel, adaptiveAvgRowsParams,
  adaptiveAvgStreamKernel, adaptiveAvgStreamParams,
  globalAvgPoolKernel, globalAvgPoolBackwardKernel, globalAvgPoolParams, globalAvgPoolBackwardParams, avgPoolForwardChoice, avgPoolBackwardChoice,
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

/** Forward and backward entries of avgPool2d with a k x k window, stride s, padding p. */
function avgEntries(batch: number, c: number, h: number, w: number, k: number, s: number, p: number): BenchEntry[] {
  const oh = poolOut(h, k, s, p);
  const ow = poolOut(w, k, s, p);
  const n = batch * c;
  const params = { n, h, w, oh, ow, kh: k, kw: k, sh: s, sw: s, ph: p, pw: p, countIncludePad: true, divisorOverride: 0 };
  const [act, out] = [n * h * w, n * oh * ow];
  const shape = `${batch}x${c}x${h}x${w} k${k}s${s}p${p}`;
  return [
    entry(`avgpool.fwd`, `${shape} -> ${oh}x${ow}`, (act + out) * F, () => {
      const [x, y] = [wt.randn([act]), wt.zeros([out])];
      // the library's variant for this adapter
      const p = { ...params, ...avgPoolForwardChoice(params) };
      return { run: () => runKernel(avgPoolKernel, p, [x, y]), tensors: [x, y] };
    }),
    entry(`avgpool.bwd`, `${shape} <- ${oh}x${ow}`, (act + out) * F, () => {
      const [g, gx] = [wt.randn([out]), wt.zeros([act])];
      // the library's variant for this adapter
      const p = { ...params, ...avgPoolBackwardChoice(params) };
      return { run: () => runKernel(avgPoolBackwardKernel, p, [g, gx]), tensors: [g, gx] };
    }),
  ];
}

export function entries(small: boolean): BenchEntry[] {
  const b = small ? 2 : 8;
  const gb = small ? 8 : 128;
  const [gc, gh] = [512, 7];
  const gn = gb * gc;
  const ab = small ? 8 : 128;
  const an = ab * 256;
  const adaptive = { op: 'avg' as const, n: an, h: 13, w: 13, oh: 6, ow: 6 };
  return [
    ...avgEntries(b, 64, 56, 56, 3, 1, 1),
    ...avgEntries(b, 64, 56, 56, 2, 2, 0),
    entry('globalAvgPool.fwd', `${gb}x${gc}x${gh}x${gh} -> ${gb}x${gc}`, (gn * gh * gh + gn) * F, () => {
      const [x, y] = [wt.randn([gn * gh * gh]), wt.zeros([gn])];
      // the library's geometry for this adapter
      const p = globalAvgPoolParams(gn, gh, gh);
      return { run: () => runKernel(globalAvgPoolKernel, p, [x, y]), tensors: [x, y] };
    }),
    entry('globalAvgPool.bwd', `${gb}x${gc}x${gh}x${gh} <- ${gb}x${gc}`, (gn * gh * gh + gn) * F, () => {
      const [g, gx] = [wt.randn([gn]), wt.zeros([gn * gh * gh])];
      return { run: () => runKernel(globalAvgPoolBackwardKernel, globalAvgPoolBackwardParams(gn, gh, gh), [g, gx]), tensors: [g, gx] };
    }),
    entry('adaptiveAvgPool.fwd', `${ab}x256x13x13 -> 6x6`, (an * 169 + an * 36) * F, () => {
      const [x, y] = [wt.randn([an * 169]), wt.zeros([an * 36])];
      // the library's kernel for this adapter: streamed, by rows for narrow planes, else the generic one
      const stream = adaptiveAvgStreamParams(an, 13, 13, 6, 6);
      const rows = adaptiveAvgRowsParams(an, 13, 13, 6, 6);
      const run = stream
        ? () => runKernel(adaptiveAvgStreamKernel, stream, [x, y])
        : adaptiveAvgByRows(adaptive)
          ? () => runKernel(adaptiveAvgRowsKernel, rows, [x, y])
          : () => runKernel(adaptivePoolKernel, adaptive, [x, y]);
      return { run, tensors: [x, y] };
    }),
    // the library's function (bins [2i, 2i + 3): a 3x3 stride-2 max pool, no argmax without grad), new y each run
    entry('adaptiveMaxPool.fwd', `${ab}x256x13x13 -> 6x6`, (an * 169 + an * 36) * F, () => {
      const x = wt.randn([ab, 256, 13, 13]);
      return { run: () => wt.noGrad(() => wt.adaptiveMaxPool2d(x, [6, 6])).dispose(), tensors: [x] };
    }),
    // the library's backward (streamed or by rows: one dispatch; generic: g / bin sizes, then the gather), new gx each run
    entry('adaptiveAvgPool.bwd', `${ab}x256x13x13 <- 6x6`, (an * 169 + (adaptiveAvgStreamParams(an, 13, 13, 6, 6) || adaptiveAvgByRows(adaptive) ? 1 : 3) * an * 36) * F, () => {
      const g = wt.randn([an * 36]);
      return { run: () => adaptivePoolBackward(g, null, adaptive, [an * 169]).dispose(), tensors: [g] };
    }),
  ];
}
