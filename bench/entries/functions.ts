// Softmax / log-softmax (forward and backward, as raw dispatches into preallocated outputs, with the
// layout the library picks on this adapter) on [batch, classes] logits, and cat of GoogLeNet-style
// feature maps (inception 3a's four branches at 28x28, along channels). Kind 'bytes': the bytes a
// kernel must move at least (softmax forward reads x and writes y; backward reads y and dL/dy and
// writes dL/dx; cat reads every input and writes the output).
import * as wt from 'webgpu-tensor';
import type { BenchEntry } from '../harness.ts';
import { type RowPassParams, rowPassKernel } from '../lib/floor-kernels.ts';

const { runKernel, softmaxKernel, softmaxParams, catRaw } = wt.kernels;

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

function softmaxEntries(log: boolean, [b, c]: [number, number]): BenchEntry[] {
  const name = log ? 'logSoftmax' : 'softmax';
  const n = b * c;
  return [
    entry(`${name}.fwd`, `${b}x${c}`, 2 * n * F, () => {
      const x = wt.randn([b, c], { std: 4 });
      const y = wt.zeros([b, c]);
      const p = softmaxParams([b, c], 1, log, 'fwd');
      return { run: () => runKernel(softmaxKernel, p, [x, y]), tensors: [x, y] };
    }),
    entry(`${name}.bwd`, `${b}x${c}`, 3 * n * F, () => {
      const x = wt.randn([b, c]);
      const y = wt.zeros([b, c]);
      runKernel(softmaxKernel, softmaxParams([b, c], 1, log, 'fwd'), [x, y]);
      const g = wt.randn([b, c]);
      const gx = wt.zeros([b, c]);
      const p = softmaxParams([b, c], 1, log, 'bwd');
      return { run: () => runKernel(softmaxKernel, p, [y, g, gx]), tensors: [x, y, g, gx] };
    }),
  ];
}

/** Floors of the softmax entries on [b, c] (bench/lib/floor-kernels.ts): the forward's two bare
 * passes (row max; exp) and the backward's (row dot; scale), with the softmax entries' work, so
 * their "% along" is the most the softmax entries could show on this adapter. Only for the
 * layout that walks contiguous rows in vec4s (one workgroup per row). */
function floorEntries([b, c]: [number, number]): BenchEntry[] {
  const layout = softmaxParams([b, c], 1, false, 'fwd').layout;
  if (layout.mode !== 'group' || c % 4 !== 0) return [];
  const pass = (op: RowPassParams['op']): RowPassParams => ({ op, rows: b, r: c, wg: layout.wg });
  const n = b * c;
  return [
    entry('softmax.fwd.floor', `${b}x${c} max+exp`, 2 * n * F, () => {
      const [x, m, y] = [wt.randn([b, c], { std: 4 }), wt.zeros([b]), wt.zeros([b, c])];
      const run = () => {
        runKernel(rowPassKernel, pass('max'), [x, m]);
        runKernel(rowPassKernel, pass('exp'), [x, y]);
      };
      return { run, tensors: [x, m, y] };
    }),
    entry('softmax.bwd.floor', `${b}x${c} dot+scale`, 3 * n * F, () => {
      const [y, g, d, gx] = [wt.rand([b, c]), wt.randn([b, c]), wt.zeros([b]), wt.zeros([b, c])];
      const run = () => {
        runKernel(rowPassKernel, pass('dot'), [y, g, d]);
        runKernel(rowPassKernel, pass('scale'), [y, g, d, gx]);
      };
      return { run, tensors: [y, g, d, gx] };
    }),
  ];
}

export function entries(small: boolean): BenchEntry[] {
  const shapes: [number, number][] = [[128, 10], [64, 1000], [32, 32768]];
  const out: BenchEntry[] = [];
  for (const log of [false, true]) for (const s of shapes) out.push(...softmaxEntries(log, s));
  out.push(...floorEntries(shapes[shapes.length - 1]));
  // GoogLeNet inception 3a: 1x1 (64), 3x3 (128), 5x5 (32) and pool-proj (32) branches, 28x28
  const batch = small ? 4 : 8;
  const chans = [64, 128, 32, 32];
  const total = batch * chans.reduce((a, c) => a + c, 0) * 28 * 28;
  out.push(
    entry('cat', `${batch}x[${chans.join(',')}]x28x28 dim 1`, 2 * total * F, () => {
      const xs = chans.map((c) => wt.randn([batch, c, 28, 28]));
      return { run: () => catRaw(xs, 1).dispose(), tensors: xs };
    }),
  );
  return out;
}
