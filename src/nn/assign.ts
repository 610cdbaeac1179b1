// Writing values into an existing tensor's storage in place (init, loadStateDict, optimizer state),
// so everything holding that tensor (an optimizer, a view from stateDict) sees the new values.
import { runtime } from '../backend/webgpu.ts';
import type { NumArray } from '../kernels/kernel.ts';
import { empty, fromArray } from '../tensor/launch.ts';
import { fmt } from '../tensor/shape.ts';
import type { Tensor } from '../tensor/tensor.ts';
import type { Device } from '../tensor/storage.ts';

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
const isFloat = (t: Tensor) => t.dtype !== 'int32';

/** Overwrite `dst` with host values (converted to dst's dtype). Bumps dst's version. */
export function writeArray(op: string, dst: Tensor, values: NumArray | number[]): void {
  dst.check(op);
  if (values.length !== dst.size)
    throw new Error(`${op}: expected ${dst.size} values for ${dst.describe()}, got ${values.length}`);
  if (dst.device === 'cpu') dst.data.set(values);
  else if (dst.size > 0) {
    const arr = dst.dtype === 'int32' ? (values instanceof Int32Array ? values : Int32Array.from(values))
      : values instanceof Float32Array ? values : Float32Array.from(values);
    runtime(op).write(dst.gpu, arr);
  }
  dst._version++;
}

/**
 * Overwrite `dst` with `src`'s values: same shape, both float or both int32. CPU->CPU and
 * CPU->GPU are host copies/uploads; GPU->GPU is a buffer copy ordered with queued kernels.
 * GPU->CPU needs an async readback, so it is refused: load the source onto the CPU instead.
 */
export function copyInto(op: string, dst: Tensor, src: Tensor, what = ''): void {
  dst.check(op);
  src.check(op);
  const name = what ? ` for '${what}'` : '';
  if (!sameShape(dst.shape, src.shape))
    throw new Error(`${op}: shape mismatch${name}: source has ${fmt(src.shape)}, destination has ${fmt(dst.shape)}`);
  if (isFloat(dst) !== isFloat(src))
    throw new Error(`${op}: dtype mismatch${name}: source is ${src.dtype}, destination is ${dst.dtype}`);
  if (src.device === 'cpu') return writeArray(op, dst, src.data);
  if (dst.device === 'cpu')
    throw new Error(`${op}: cannot copy a GPU tensor${name} into a CPU tensor synchronously; load or move it to the CPU first`);
  if (dst.gpu !== src.gpu && dst.size > 0) runtime(op).copy(src.gpu, 0, dst.gpu, 0, dst.size * 4);
  dst._version++;
}

/** A new tensor on `device` holding `src`'s values (float64 becomes float32 on the GPU). */
export function copyTo(op: string, src: Tensor, device: Device): Tensor {
  src.check(op);
  const dtype = src.dtype === 'float64' && device === 'gpu' ? 'float32' : src.dtype;
  if (src.device === 'cpu') return fromArray(src.data, src.shape, dtype, device);
  if (device === 'cpu')
    throw new Error(`${op}: cannot copy a GPU tensor to the CPU synchronously; load or move it to the CPU first`);
  const t = empty(src.shape, src.dtype, 'gpu', op);
  copyInto(op, t, src);
  return t;
}
