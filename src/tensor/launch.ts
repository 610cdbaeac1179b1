// Runs one kernel on whichever backend its tensors live on: the WGSL through the runtime, or the
// CPU twin on typed arrays. Ops validate their arguments before calling this.
import { runtime } from '../backend/webgpu.ts';
import type { FaultSite } from '../backend/faults.ts';
import type { KernelDef, NumArray } from '../kernels/kernel.ts';
import { fmt, numel, type Shape } from './shape.ts';
import { Tensor } from './tensor.ts';
import type { DType, Device } from './storage.ts';

/** An output to allocate. */
export interface Out {
  shape: Shape;
  dtype?: DType;
}

function cpuArray(dtype: DType, n: number): NumArray {
  return dtype === 'int32' ? new Int32Array(n) : dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
}

/** Check that tensors are live and share one device (and one float dtype); returns the device. */
export function sameDevice(op: string, ts: Tensor[]): Device {
  let dev: Device | null = null;
  for (const t of ts) {
    t.check(op);
    if (dev && t.device !== dev)
      throw new Error(`${op}: tensors are on different devices (${dev} and ${t.device}); move them with .to('${dev}')`);
    dev = t.device;
  }
  return dev ?? 'cpu';
}

/** Allocate a tensor of `shape` on `device` (uninitialised on the GPU, zeros on the CPU). */
export function empty(shape: Shape, dtype: DType, device: Device, label = 'tensor'): Tensor {
  const n = numel(shape);
  if (device === 'cpu') return new Tensor({ kind: 'cpu', data: cpuArray(dtype, n) }, shape, dtype);
  if (dtype === 'float64') throw new Error(`${label}: float64 is CPU-only; WebGPU has no f64 (use float32 on the GPU)`);
  return new Tensor({ kind: 'gpu', gpu: runtime(label).pool.take(n * 4, label) }, shape, dtype);
}

/** A contiguous range of a tensor's elements bound as one operand (a binding offset on the GPU,
 * a subarray on the CPU). `start` times 4 bytes must be a multiple of the device's
 * minStorageBufferOffsetAlignment (see chunked.ts). */
export interface Slice {
  tensor: Tensor;
  start: number;
  length: number;
}

/** A kernel's fault record operand (src/backend/faults.ts): on the GPU the runtime's record of
 * `fault`, raised at the next readback; on the CPU a scratch record, raised as soon as the CPU twin
 * returns. */
export interface FaultArg {
  fault: FaultSite;
}

type Arg = Tensor | Out | Slice | FaultArg;

function isSlice(a: Arg): a is Slice {
  return !(a instanceof Tensor) && 'tensor' in a;
}

function isFault(a: Arg): a is FaultArg {
  return !(a instanceof Tensor) && 'fault' in a;
}

/**
 * Run `k` with `args` in binding order: an existing Tensor binds its storage (read, or written in
 * place when the kernel says 'rw'); a Slice binds part of one; an `Out` allocates a new tensor.
 * Returns the new tensors (disposed again if the launch fails). `device` is needed only when no
 * argument is a Tensor.
 */
export function launch<P>(k: KernelDef<P>, p: P, args: Arg[], device?: Device, floatDtype?: DType): Tensor[] {
  const ins = args.flatMap((a) => (a instanceof Tensor ? [a] : isSlice(a) ? [a.tensor] : []));
  const dev = ins.length ? sameDevice(k.name, ins) : (device ?? 'cpu');
  const fdt: DType = floatDtype ?? ins.find((t) => t.dtype !== 'int32')?.dtype ?? 'float32';
  const outs: Tensor[] = [];
  try {
    const all = args.map((a) => {
      if (a instanceof Tensor || isSlice(a) || isFault(a)) return a;
      const t = empty(a.shape, a.dtype ?? fdt, dev, k.name);
      outs.push(t);
      return t;
    });
    const sizes = all.flatMap((a) => (a instanceof Tensor ? [a.size] : isFault(a) ? [] : [a.length]));
    if (sizes.some((n) => n === 0)) return outs;
    if (dev === 'cpu') {
      const records = new Map<FaultArg, Int32Array>();
      k.cpu(p, all.map((a) => {
        if (a instanceof Tensor) return a.data;
        if (isFault(a)) return records.set(a, new Int32Array(4)).get(a)!;
        return a.tensor.data.subarray(a.start, a.start + a.length);
      }));
      for (const [a, r] of records)
        if (r[0] > 0) throw new Error(a.fault.describe({ count: r[0], index: r[1], value: r[2], extra: r[3] }));
    } else {
      const rt = runtime(k.name);
      rt.run(k, p, all.map((a) => {
        if (a instanceof Tensor) return a.gpu;
        if (isFault(a)) return rt.fault(a.fault);
        return { storage: a.tensor.gpu, offset: a.start * 4, bytes: a.length * 4 };
      }));
    }
    // an existing tensor written in place ('rw' binding) gets a new version
    const access = k.bindings(p);
    all.forEach((a, i) => {
      if (isFault(a)) return;
      const t = a instanceof Tensor ? a : a.tensor;
      if (access[i] === 'rw' && !outs.includes(t)) t._version++;
    });
    return outs;
  } catch (e) {
    for (const t of outs) t.dispose();
    throw e;
  }
}

/** Wrap host data as a tensor on `device`. */
export function fromArray(data: NumArray, shape: Shape, dtype: DType, device: Device): Tensor {
  const n = numel(shape);
  if (data.length !== n) throw new Error(`tensor: ${data.length} values do not fill shape ${fmt(shape)} (${n} elements)`);
  if (device === 'cpu') {
    const a = cpuArray(dtype, n);
    a.set(data);
    return new Tensor({ kind: 'cpu', data: a }, shape, dtype);
  }
  const t = empty(shape, dtype, 'gpu', 'upload');
  if (n === 0) return t;
  const arr = dtype === 'int32' ? (data instanceof Int32Array ? data : Int32Array.from(data)) : data instanceof Float32Array ? data : Float32Array.from(data);
  runtime('upload').write(t.gpu, arr);
  return t;
}
