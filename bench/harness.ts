// The bench harness's contract: each kernel file under bench/entries/ exports
// `entries(small: boolean): BenchEntry[]`; bench/kernels.ts times them with a real sync.

export interface BenchEntry {
  /** Kernel / op name, e.g. 'matmul', 'conv1.fwd'. */
  name: string;
  /** Human-readable shape, e.g. '1024x1024x1024'. */
  shape: string;
  /** 'flops': compute-bound, reported in GFLOP/s; 'bytes': memory-bound, in GB/s. */
  kind: 'flops' | 'bytes';
  /** FLOPs (2 per multiply-add) or bytes moved per run. */
  work: number;
  /** Allocate inputs; returns run() that records the GPU work of one iteration (no awaits). */
  setup(): { run(): void; dispose(): void };
}
