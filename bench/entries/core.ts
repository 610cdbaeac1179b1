// Bench entries for the foundation kernels: unary, binary (flat and broadcast), reductions,
// argmax and the strided copy behind transpose. All memory-bound: reported in GB/s, counting each
// element read or written once.
import * as wt from 'webgpu-tensor';
import type { BenchEntry } from '../harness.ts';

type T = wt.Tensor;

/** Elements of the flat operands: 32 Mi (128 MiB) on hardware, within the binding limit. */
function flatN(small: boolean): number {
  if (small) return 1 << 22;
  const cap = wt.deviceInfo().limits.maxStorageBufferBindingSize ?? 128 << 20;
  return Math.min(1 << 25, Math.floor(cap / 4));
}

function entry(name: string, shape: number[][], bytes: number, make: (xs: T[]) => () => unknown): BenchEntry {
  return {
    name,
    shape: shape.map((s) => s.join('x')).join(', '),
    kind: 'bytes',
    work: bytes,
    setup() {
      const xs = shape.map((s) => wt.randn(s));
      const f = make(xs);
      return {
        run: () => void f(),
        dispose: () => xs.forEach((x) => x.dispose()),
      };
    },
  };
}

export function entries(small: boolean): BenchEntry[] {
  const n = flatN(small);
  // a 2-D matrix of n elements: [R, C]
  const C = small ? 2048 : 4096;
  const R = n / C;
  const F = 4; // bytes per f32
  return [
    entry('relu', [[n]], 2 * F * n, ([x]) => () => wt.relu(x)),
    entry('exp', [[n]], 2 * F * n, ([x]) => () => wt.exp(x)),
    entry('mul.scalar', [[n]], 2 * F * n, ([x]) => () => wt.mul(x, 1.5)),
    entry('add', [[n], [n]], 3 * F * n, ([a, b]) => () => wt.add(a, b)),
    entry('add.bcast', [[R, C], [C]], F * (2 * R * C + C), ([a, b]) => () => wt.add(a, b)),
    entry('mul.bcast.col', [[R, C], [R, 1]], F * (2 * R * C + R), ([a, b]) => () => wt.mul(a, b)),
    entry('sum.rows', [[R, C]], F * (R * C + R), ([x]) => () => wt.sum(x, 1)),
    entry('sum.cols', [[R, C]], F * (R * C + C), ([x]) => () => wt.sum(x, 0)),
    entry('sum.all', [[n]], F * n, ([x]) => () => wt.sum(x)),
    entry('max.rows', [[R, C]], F * (R * C + R), ([x]) => () => wt.max(x, 1)),
    entry('argmax.rows', [[R, C]], F * (R * C + R), ([x]) => () => wt.argmax(x, 1)),
    entry('transpose', [[R, C]], 2 * F * R * C, ([x]) => () => wt.transpose(x)),
  ];
}
