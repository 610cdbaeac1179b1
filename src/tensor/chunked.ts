// Launches over independent rows (elements, planes, batch items) that split into several
// dispatches when an operand is larger than the adapter's maxStorageBufferBindingSize: each chunk
// binds a slice of every row-indexed operand, starting at a multiple of the device's
// minStorageBufferOffsetAlignment (256 bytes), and the kernel sees a problem of `count` rows.
// When everything fits (and always on the CPU) this is exactly one `launch`.
import { bindingLimits } from '../backend/webgpu.ts';
import type { KernelDef } from '../kernels/kernel.ts';
import { type Out, type Slice, empty, launch, sameDevice } from './launch.ts';
import type { DType, Device } from './storage.ts';
import { Tensor } from './tensor.ts';

/** An operand of a row launch: a tensor or an output to allocate, with `perRow` elements per row
 * (rows stored one after another), or `perRow: 0` for an operand every chunk binds whole (a
 * broadcast operand, a parameter). */
export interface RowArg {
  arg: Tensor | Out;
  perRow: number;
}

const BYTES = 4;

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/**
 * Rows per chunk so every sliced operand (`perRow` elements per row) fits `maxBinding` bytes and
 * every chunk starts on an `align`-byte boundary; null when not even one aligned group of rows fits.
 */
export function rowsPerChunk(perRow: readonly number[], maxBinding: number, align: number): number | null {
  let step = 1;
  let fit = Infinity;
  for (const r of perRow) {
    if (r <= 0) continue;
    const rowBytes = r * BYTES;
    const m = align / gcd(rowBytes, align);
    step = (step * m) / gcd(step, m);
    fit = Math.min(fit, Math.floor(maxBinding / rowBytes));
  }
  const rows = Math.floor(fit / step) * step;
  return rows >= 1 ? rows : null;
}

/**
 * Run `k` over `rows` rows: one launch when every operand fits the binding limit, else one per
 * chunk of rows with `chunk(p, first, count)` describing the kernel's problem for rows
 * [first, first + count). Returns the outputs (allocated whole).
 */
export function launchRows<P>(
  k: KernelDef<P>,
  p: P,
  rows: number,
  chunk: (p: P, first: number, count: number) => P,
  args: RowArg[],
  device?: Device,
  floatDtype?: DType,
): Tensor[] {
  const ins = args.flatMap((a) => (a.arg instanceof Tensor ? [a.arg] : []));
  const dev = ins.length ? sameDevice(k.name, ins) : (device ?? 'cpu');
  const plain = args.map((a) => a.arg);
  if (dev === 'cpu') return launch(k, p, plain, device, floatDtype);
  const { maxBinding, offsetAlign } = bindingLimits();
  const bytesOf = (a: RowArg) => (a.arg instanceof Tensor ? a.arg.size : a.arg.shape.reduce((x, y) => x * y, 1)) * BYTES;
  if (args.every((a) => bytesOf(a) <= maxBinding)) return launch(k, p, plain, device, floatDtype);
  const per = rowsPerChunk(
    args.map((a) => a.perRow),
    maxBinding,
    offsetAlign,
  );
  if (per === null) {
    const worst = Math.max(...args.map((a) => a.perRow));
    throw new Error(
      `${k.name}: one row of an operand is ${worst * BYTES} bytes, so no chunk of rows fits the adapter's ` +
        `maxStorageBufferBindingSize ${maxBinding}; use smaller inputs`,
    );
  }
  const fdt: DType = floatDtype ?? ins.find((t) => t.dtype !== 'int32')?.dtype ?? 'float32';
  const outs: Tensor[] = [];
  try {
    const all = args.map((a) => {
      if (a.arg instanceof Tensor) return a.arg;
      const t = empty(a.arg.shape, a.arg.dtype ?? fdt, dev, k.name);
      outs.push(t);
      return t;
    });
    for (let first = 0; first < rows; first += per) {
      const count = Math.min(per, rows - first);
      const bound: (Tensor | Slice)[] = all.map((t, i) =>
        args[i].perRow === 0 ? t : { tensor: t, start: first * args[i].perRow, length: count * args[i].perRow },
      );
      launch(k, chunk(p, first, count), bound);
    }
    return outs;
  } catch (e) {
    for (const t of outs) t.dispose();
    throw e;
  }
}
