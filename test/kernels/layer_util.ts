// Helpers shared by the layer-kernel tests: run an op forward + backward on one device and return
// the output and input gradient, so GPU and CPU runs can be compared.
import * as wt from 'webgpu-tensor';
import { randArray } from '../helpers.ts';

export interface FwdBwd {
  y: Float32Array | Float64Array;
  gx: Float32Array | Float64Array;
}

/** y = f(x) on `device` for x = data; backward with a fixed pseudo-random output gradient. */
export async function fwdBwd(
  device: 'cpu' | 'gpu',
  data: Float32Array,
  shape: number[],
  f: (x: wt.Tensor) => wt.Tensor,
): Promise<FwdBwd> {
  const x = wt.tensor(data, shape, { device, requiresGrad: true });
  const y = f(x);
  const g = wt.tensor(randArray(y.size, 99), y.shape, { device });
  y.backward(g);
  const out = { y: (await y.toArray()) as Float32Array, gx: (await x.grad!.toArray()) as Float32Array };
  [x, y, g].forEach((t) => t.dispose());
  return out;
}

/** A float64 CPU leaf for gradcheck. */
export function f64(data: ArrayLike<number>, shape: number[]): wt.Tensor {
  return wt.tensor(Float64Array.from(data), shape, { device: 'cpu', dtype: 'float64', requiresGrad: true });
}

export const numelOf = (s: number[]) => s.reduce((a, b) => a * b, 1);
