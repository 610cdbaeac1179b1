// GEMM variants (kind 'flops', 2 per multiply-add): square matmul 1024^3 (small) or 4096^3 (full)
// through every variant `wt.kernels.gemmCandidates` lists for that shape on this adapter (the
// untuned default first: lanes / tiled designs, the tiled tile configurations, split-K where the
// grid is small), each run with `wt.kernels.gemmWith`. The shape column names the variant.
import * as wt from 'webgpu-tensor';
import type { BenchEntry } from '../harness.ts';

export function entries(small: boolean): BenchEntry[] {
  const n = small ? 1024 : 4096;
  return wt.kernels.gemmCandidates({ m: n, n, k: n }).map((choice) => ({
    name: 'matmul.variant',
    shape: `${n}x${n}x${n} ${wt.kernels.gemmChoiceName(choice)}`,
    kind: 'flops',
    work: 2 * n ** 3,
    setup() {
      const a = wt.randn([n, n]);
      const b = wt.randn([n, n]);
      return {
        run: () => wt.kernels.gemmWith(a, b, choice).dispose(),
        dispose: () => [a, b].forEach((x) => x.dispose()),
      };
    },
  }));
}
