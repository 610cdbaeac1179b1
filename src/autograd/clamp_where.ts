// clamp(x, min?, max?) (the pointwise table's two-scalar `clamp` entry, one dispatch each way) and
// where(cond, a, b) (src/kernels/where.ts, broadcasting among all three), as torch.clamp and
// torch.where.
import type { Tensor } from '../tensor/tensor.ts';
import { launch, sameDevice } from '../tensor/launch.ts';
import { requireFloat, sumTo } from '../tensor/raw.ts';
import { broadcastShapes, broadcastStrides, fmt, sameShape } from '../tensor/shape.ts';
import { tidy } from '../tensor/storage.ts';
import { whereKernel } from '../kernels/where.ts';
import { Function } from './function.ts';
import { UnaryFn, type Operand } from './pointwise.ts';

function bound(name: string, v: unknown): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || Number.isNaN(v)) throw new Error(`clamp: ${name} must be a number (or omitted), got ${String(v)}`);
  return v;
}

/**
 * Elementwise min(max(x, min), max), as torch.clamp: either bound may be omitted (not both); when
 * min > max every element becomes max; NaN stays NaN. The gradient is 1 where min <= x <= max and
 * 0 elsewhere (and at NaN).
 */
export function clamp(x: Tensor, min?: number | null, max?: number | null): Tensor {
  requireFloat('clamp', x);
  const lo = bound('min', min);
  const hi = bound('max', max);
  if (lo === null && hi === null) throw new Error("clamp: at least one of 'min' and 'max' must be given");
  return new UnaryFn('clamp', lo ?? -Infinity, hi ?? Infinity).apply(x);
}

/** where(cond, a, b) without recording: one dispatch. */
export function whereRaw(cond: Tensor, a: Operand, b: Operand): Tensor {
  const ta = typeof a === 'number' ? null : a;
  const tb = typeof b === 'number' ? null : b;
  const shape = [ta, tb].reduce<number[]>((s, t) => (t ? broadcastShapes('where', s, t.shape) : s), [...cond.shape]);
  const strides = (t: Tensor | null) => (t ? broadcastStrides(t.shape, shape) : []);
  const same = [cond, ta, tb].every((t) => !t || sameShape(t.shape, shape));
  const p = {
    shape,
    cStrides: strides(cond),
    aStrides: strides(ta),
    bStrides: strides(tb),
    same,
    condInt: cond.dtype === 'int32',
    aScalar: ta ? null : (a as number),
    bScalar: tb ? null : (b as number),
  };
  const floatLike = ta ?? tb;
  const args = [cond, ...(ta ? [ta] : []), ...(tb ? [tb] : []), { shape, dtype: floatLike?.dtype ?? (cond.dtype === 'float64' ? 'float64' : 'float32') } as const];
  return launch(whereKernel, p, args, cond.device)[0];
}

class Where extends Function {
  name = 'where';
  constructor(
    readonly aScalar: number | null,
    readonly bScalar: number | null,
  ) {
    super();
  }
  private operands(ts: Tensor[]): [Tensor, Operand, Operand] {
    const [cond, ...rest] = ts;
    const a = this.aScalar ?? rest.shift()!;
    const b = this.bScalar ?? rest.shift()!;
    return [cond, a, b];
  }
  forward(...ts: Tensor[]) {
    const [cond, a, b] = this.operands(ts);
    this.save(cond);
    return whereRaw(cond, a, b);
  }
  backward(g: Tensor) {
    const [cond, a, b] = this.operands(this.inputs);
    const out: (Tensor | null)[] = [null];
    let k = 1;
    if (typeof a !== 'number') out.push(this.needsGrad[k++] ? tidy(() => sumTo(whereRaw(cond, g, 0), a.shape)) : null);
    if (typeof b !== 'number') out.push(this.needsGrad[k++] ? tidy(() => sumTo(whereRaw(cond, 0, g), b.shape)) : null);
    return out;
  }
}

/**
 * a where cond is nonzero, else b (torch.where), broadcasting among all three. cond is a float
 * (0/1 from a comparison, or any values: nonzero and NaN count as true) or int32 tensor; a and b
 * are float tensors of one dtype, or numbers. The gradient flows to a where cond holds and to b
 * elsewhere (summed over broadcast dims); cond gets none.
 */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  const op = 'where';
  if (!cond || typeof cond !== 'object' || typeof (cond as Tensor).check !== 'function')
    throw new Error(`${op}: expected cond to be a Tensor, got ${typeof cond}`);
  cond.check(op);
  const ts: Tensor[] = [cond];
  for (const [name, v] of [['a', a], ['b', b]] as const) {
    if (typeof v === 'number') continue;
    if (!v || typeof v !== 'object' || typeof (v as Tensor).check !== 'function')
      throw new Error(`${op}: expected ${name} to be a Tensor or a number, got ${v === null ? 'null' : typeof v}`);
    ts.push(v);
  }
  const vals = ts.slice(1);
  if (vals.length) requireFloat(op, ...vals);
  if (cond.dtype === 'float64' && vals.some((t) => t.dtype !== 'float64'))
    throw new Error(`${op}: cond is float64 but a/b are ${vals.map((t) => t.dtype).join(', ')}`);
  sameDevice(op, ts);
  let shape: number[] = [...cond.shape];
  for (const t of vals) {
    try {
      shape = broadcastShapes(op, shape, t.shape);
    } catch {
      throw new Error(`${op}: shapes cond ${fmt(cond.shape)}, ${vals.map((v) => fmt(v.shape)).join(', ')} cannot broadcast`);
    }
  }
  return new Where(typeof a === 'number' ? a : null, typeof b === 'number' ? b : null).apply(...ts);
}
