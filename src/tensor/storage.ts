// Where a tensor's numbers live, and the finalizer that reclaims tensors dropped without dispose().
import type { GpuStorage } from '../backend/pool.ts';
import type { NumArray } from '../kernels/kernel.ts';

/** Where a tensor's numbers live. */
export type Device = 'cpu' | 'gpu';
/** float64 exists on the CPU backend only (gradient checks). int32 holds labels and indices. */
export type DType = 'float32' | 'float64' | 'int32';

export type Storage = { kind: 'gpu'; gpu: GpuStorage } | { kind: 'cpu'; data: NumArray };

/** Releases a GPU storage when a tensor that still held it is garbage-collected. */
export const finalizer = new FinalizationRegistry<GpuStorage>((s) => s.release());

// scopes live in scope.ts; these are re-exported for the modules that import them with the storage types
export { type Disposable, track, keep, tidy } from './scope.ts';
