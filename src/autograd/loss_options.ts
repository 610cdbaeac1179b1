// Option checking shared by the loss functions: an options object with known keys only
// (checkOptions, src/backend/options.ts), the reduction ('mean' | 'sum' | 'none', PyTorch's names
// and default), and optional tensors that must sit beside the input.
import { Tensor } from '../tensor/tensor.ts';
export { checkOptions } from '../backend/options.ts';
import { fmt } from '../tensor/shape.ts';

/** How a loss reduces its per-element losses: 'mean' (the default), 'sum', or 'none' (the
 * unreduced losses), as PyTorch's `reduction` argument. */
export type Reduction = 'mean' | 'sum' | 'none';

const REDUCTIONS: readonly Reduction[] = ['mean', 'sum', 'none'];

export function checkReduction(op: string, v: unknown): Reduction {
  if (v === undefined) return 'mean';
  if (!REDUCTIONS.includes(v as Reduction))
    throw new Error(`${op}: reduction must be 'mean', 'sum' or 'none', got ${describe(v)}`);
  return v as Reduction;
}

/** An optional float tensor option (null / undefined: absent) on `like`'s device and dtype. */
export function checkTensorOption(op: string, name: string, v: unknown, like: Tensor): Tensor | null {
  if (v === undefined || v === null) return null;
  if (!(v instanceof Tensor)) throw new Error(`${op}: ${name} must be a Tensor, got ${describe(v)}`);
  v.check(op);
  if (v.dtype === 'int32') throw new Error(`${op}: ${name} must be a float tensor, got int32 ${fmt(v.shape)}`);
  if (v.device !== like.device)
    throw new Error(`${op}: the input is on ${like.device} but ${name} is on ${v.device}; move it with .to('${like.device}')`);
  if (v.dtype !== like.dtype) throw new Error(`${op}: ${name} is ${v.dtype} but the input is ${like.dtype}`);
  return v;
}

/** ignoreIndex: an int32 integer (default -100, PyTorch's). */
export function checkIgnoreIndex(op: string, v: unknown): number {
  if (v === undefined) return -100;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31)
    throw new Error(`${op}: ignoreIndex must be an int32 integer, got ${describe(v)}`);
  return v;
}

/** labelSmoothing: a number in [0, 1] (default 0). */
export function checkLabelSmoothing(op: string, v: unknown): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !(v >= 0 && v <= 1))
    throw new Error(`${op}: labelSmoothing must be a number in [0, 1], got ${describe(v)}`);
  return v;
}

/** A module's weight argument: a float Tensor or null (its shape is checked at forward). */
export function checkWeightArg(op: string, name: string, v: unknown): Tensor | null {
  if (v === undefined || v === null) return null;
  if (!(v instanceof Tensor)) throw new Error(`${op}: ${name} must be a Tensor or null, got ${describe(v)}`);
  v.check(op);
  if (v.dtype === 'int32') throw new Error(`${op}: ${name} must be a float tensor, got int32 ${fmt(v.shape)}`);
  return v;
}

/** A short description of any value for error messages. */
export function describe(v: unknown): string {
  if (v instanceof Tensor) return `a tensor ${fmt(v.shape)}`;
  if (typeof v === 'string') return `'${v}'`;
  if (Array.isArray(v)) return `an array`;
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  return String(v);
}
