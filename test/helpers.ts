// Shared test helpers: GPU init (a missing adapter fails, never skips), seeded random data,
// and closeness checks that report the worst index.
import * as wt from 'webgpu-tensor';
import { Generator } from '../src/tensor/random.ts';
import type { NumArray } from '../src/kernels/kernel.ts';

export async function initGpu(): Promise<wt.DeviceInfo> {
  // autotuning off: every test runs the built-in kernel choices, whatever the cache holds
  return wt.init({ autotune: 'off' });
}

export function randArray(n: number, seed = 1, lo = -1, hi = 1): Float32Array {
  const g = new Generator(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * g.random();
  return a;
}

/** Throws naming the worst element when |a - b| > atol + rtol * |b| anywhere. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-4, atol = 1e-5, what = ''): void {
  if (actual.length !== expected.length)
    throw new Error(`${what}: length ${actual.length} != expected ${expected.length}`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const b = expected[i];
    if (Number.isNaN(a) && Number.isNaN(b)) continue;
    if (a === b) continue;
    const excess = Math.abs(a - b) - (atol + rtol * Math.abs(b));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0)
    throw new Error(
      `${what}: element ${worst}: got ${actual[worst]}, expected ${expected[worst]} (rtol ${rtol}, atol ${atol}); ` +
        `${actual.length} elements`,
    );
}

/** Run the same function on a GPU tensor and on a CPU tensor of the same data; compare. */
export async function gpuVsCpu(
  make: (device: 'cpu' | 'gpu') => wt.Tensor,
  rtol = 1e-4,
  atol = 1e-5,
  what = '',
): Promise<void> {
  const g = make('gpu');
  const c = make('cpu');
  if (g.shape.join() !== c.shape.join()) throw new Error(`${what}: shape ${g.shape} vs cpu ${c.shape}`);
  expectClose(await g.toArray(), await c.toArray(), rtol, atol, what);
}

export type { NumArray };
