// Everything generated from the pointwise op table (pointwise_table.ts): raw launchers, one
// autograd Function class for unary and one for binary entries, the functional API.
import type { Tensor } from '../tensor/tensor.ts';
import { launch, sameDevice } from '../tensor/launch.ts';
import { requireFloat, sumTo } from '../tensor/raw.ts';
import { broadcastShapes, broadcastStrides, numel, sameShape } from '../tensor/shape.ts';
import { tidy } from '../tensor/storage.ts';
import { type UnaryParams, unaryKernel } from '../kernels/unary.ts';
import { type BinaryParams, binaryKernel } from '../kernels/binary.ts';
import { launchRows } from '../tensor/chunked.ts';
import { Function } from './function.ts';
import {
  BINARY, UNARY, UNARY_INTERNAL, type BinaryEntry, type BinaryName, type GradOps, type UnaryEntry, type UnaryName,
} from './pointwise_table.ts';

export type { UnaryName, BinaryName } from './pointwise_table.ts';
/** The second operand of a binary op: a tensor (broadcast against the first) or a number. */
export type Operand = Tensor | number;

function unaryEntry(op: string): UnaryEntry {
  const e = (UNARY as Record<string, UnaryEntry>)[op] ?? (UNARY_INTERNAL as Record<string, UnaryEntry>)[op];
  if (!e) throw new Error(`pointwise: no unary op '${op}' in the table`);
  return e;
}
function binaryEntry(op: string): BinaryEntry {
  const e = (BINARY as Record<string, BinaryEntry>)[op];
  if (!e) throw new Error(`pointwise: no binary op '${op}' in the table`);
  return e;
}

/** y = op(x, s[, s2]): one dispatch of the unary kernel, not recorded. */
export function unary(op: UnaryName, x: Tensor, s?: number, s2?: number): Tensor {
  const e = unaryEntry(op);
  requireFloat(op, x);
  const p: UnaryParams = { op, expr: e.wgsl, helpers: e.helpers, f: e.cpu, n: x.size, s, s2 };
  return launchRows(unaryKernel, p, x.size, (q, _first, n) => ({ ...q, n }), [{ arg: x, perRow: 1 }, { arg: { shape: x.shape }, perRow: 1 }])[0];
}

/** Same-shape binary (or one operand a scalar uniform) over flat elements: chunks of `count`. */
const flatChunk = (p: BinaryParams, _first: number, count: number): BinaryParams => ({ ...p, shape: [count] });
/** Broadcasting binary split over the output's first dimension. */
const dim0Chunk = (p: BinaryParams, _first: number, count: number): BinaryParams => ({ ...p, shape: [count, ...p.shape.slice(1)] });

/** Elements per output row of dim 0 an operand spans, or 0 when it is broadcast along dim 0. */
function perRow(t: Tensor, strides: readonly number[], shape: readonly number[]): number {
  return strides[0] === 0 ? 0 : t.size / shape[0];
}

/** z = op(a, b) with broadcasting; one operand may be a number. One dispatch, not recorded. */
export function binary(op: BinaryName, a: Operand, b: Operand): Tensor {
  const e = binaryEntry(op);
  const k = { op, expr: e.wgsl, helpers: e.helpers, f: e.cpu };
  if (typeof a === 'number' || typeof b === 'number') {
    if (typeof a === 'number' && typeof b === 'number') throw new Error(`${op}: expected at least one Tensor, got two numbers`);
    const t = (typeof a === 'number' ? b : a) as Tensor;
    requireFloat(op, t);
    const scalar = typeof a === 'number' ? ('a' as const) : ('b' as const);
    const s = (typeof a === 'number' ? a : b) as number;
    const p: BinaryParams = { ...k, shape: t.shape, aStrides: [], bStrides: [], same: true, scalar, s };
    return launchRows(binaryKernel, p, t.size, flatChunk, [{ arg: t, perRow: 1 }, { arg: { shape: t.shape }, perRow: 1 }])[0];
  }
  requireFloat(op, a, b);
  sameDevice(op, [a, b]);
  const shape = broadcastShapes(op, a.shape, b.shape);
  const same = sameShape(a.shape, shape) && sameShape(b.shape, shape);
  const p: BinaryParams = { ...k, shape, aStrides: broadcastStrides(a.shape, shape), bStrides: broadcastStrides(b.shape, shape), same };
  if (same) {
    const n = a.size;
    return launchRows(binaryKernel, p, n, flatChunk, [{ arg: a, perRow: 1 }, { arg: b, perRow: 1 }, { arg: { shape }, perRow: 1 }])[0];
  }
  if (shape.length === 0) return launch(binaryKernel, p, [a, b, { shape }])[0];
  const out = numel(shape) / shape[0];
  const args = [{ arg: a, perRow: perRow(a, p.aStrides, shape) }, { arg: b, perRow: perRow(b, p.bStrides, shape) }, { arg: { shape }, perRow: out }];
  return launchRows(binaryKernel, p, shape[0], dim0Chunk, args)[0];
}

/** The raw ops that backward rules are written with. */
const asT = (o: unknown) => o as Operand;
export const R: GradOps = {
  add: (a, b) => binary('add', asT(a), asT(b)),
  sub: (a, b) => binary('sub', asT(a), asT(b)),
  mul: (a, b) => binary('mul', asT(a), asT(b)),
  div: (a, b) => binary('div', asT(a), asT(b)),
  un: (op, x, s, s2) => unary(op as UnaryName, x as Tensor, s, s2),
  bin: (op, a, b) => binary(op as BinaryName, asT(a), asT(b)),
};

export class UnaryFn extends Function {
  private y: Tensor | null = null;
  constructor(
    readonly op: UnaryName,
    readonly s: number,
    readonly s2 = 0,
  ) {
    super();
  }
  get name() {
    return this.op;
  }
  forward(x: Tensor) {
    const y = unary(this.op, x, this.s, this.s2);
    this.save(x);
    if (unaryEntry(this.op).usesOutput) {
      this.y = y;
      this.save(y);
    }
    return y;
  }
  backward(g: Tensor) {
    const grad = unaryEntry(this.op).grad!;
    const [x] = this.inputs;
    return [tidy(() => grad({ g, x, y: this.y!, s: this.s, s2: this.s2 }, R) as Tensor)];
  }
  override release() {
    super.release();
    this.y = null;
  }
}

/** A binary op over two tensors, or a tensor and a number on side `scalar`. */
export class BinaryFn extends Function {
  private y: Tensor | null = null;
  constructor(
    readonly op: BinaryName,
    readonly scalar: { side: 'a' | 'b'; value: number } | null,
  ) {
    super();
  }
  get name() {
    return this.op;
  }
  private operands(ts: Tensor[]): [Operand, Operand] {
    if (!this.scalar) return [ts[0], ts[1]];
    return this.scalar.side === 'a' ? [this.scalar.value, ts[0]] : [ts[0], this.scalar.value];
  }
  forward(...ts: Tensor[]) {
    const [a, b] = this.operands(ts);
    const y = binary(this.op, a, b);
    this.save(...ts);
    if (binaryEntry(this.op).usesOutput) {
      this.y = y;
      this.save(y);
    }
    return y;
  }
  backward(g: Tensor) {
    const grad = binaryEntry(this.op).grad!;
    const [a, b] = this.operands(this.inputs);
    const side = this.scalar?.side;
    const need: [boolean, boolean] = side === 'a' ? [false, this.needsGrad[0]] : side === 'b' ? [this.needsGrad[0], false] : [this.needsGrad[0], this.needsGrad[1]];
    const [ga, gb] = tidy(() => {
      const [da, db] = grad({ g, a, b, y: this.y!, need }, R) as [Tensor | null, Tensor | null];
      return [need[0] && da ? sumTo(da, (a as Tensor).shape) : null, need[1] && db ? sumTo(db, (b as Tensor).shape) : null];
    });
    if (side === 'a') return [gb];
    if (side === 'b') return [ga];
    return [ga, gb];
  }
  override release() {
    super.release();
    this.y = null;
  }
}

export type UnaryFunction = (x: Tensor, arg?: number) => Tensor;
export type BinaryFunction = (a: Tensor, b: Operand) => Tensor;

function makeUnary(op: UnaryName): UnaryFunction {
  const e = unaryEntry(op);
  return (x, arg) => {
    requireFloat(op, x);
    if (arg !== undefined && !e.arg) throw new Error(`${op}: takes no scalar argument, got ${String(arg)}`);
    const s = arg ?? e.arg?.default ?? 0;
    if (typeof s !== 'number' || !Number.isFinite(s)) throw new Error(`${op}: expected ${e.arg?.name} to be a finite number, got ${String(s)}`);
    return new UnaryFn(op, s).apply(x);
  };
}

function makeBinary(op: BinaryName): BinaryFunction {
  const e = binaryEntry(op);
  return (a, b) => {
    if (typeof b === 'number') {
      requireFloat(op, a);
      return e.grad ? new BinaryFn(op, { side: 'b', value: b }).apply(a) : binary(op, a, b);
    }
    if (typeof b !== 'object' || b === null) throw new Error(`${op}: expected a Tensor or a number, got ${typeof b}`);
    requireFloat(op, a, b);
    sameDevice(op, [a, b]);
    broadcastShapes(op, a.shape, b.shape);
    return e.grad ? new BinaryFn(op, null).apply(a, b) : binary(op, a, b);
  };
}

const publicUnary = Object.keys(UNARY) as UnaryName[];
const publicBinary = Object.keys(BINARY) as BinaryName[];

/** Every public table op as a function, by name (the Tensor methods are attached from these). */
export const unaryFunctions: Record<string, UnaryFunction> = Object.fromEntries(publicUnary.map((k) => [k, makeUnary(k)]));
export const binaryFunctions: Record<string, BinaryFunction> = Object.fromEntries(publicBinary.map((k) => [k, makeBinary(k)]));

// The functional exports (`wt.<name>`), one doc comment per name (TypeDoc reads a destructured
// export's comment from its own element); test/autograd/pointwise.test.ts checks that every public
// table entry is listed here and on Tensor. Each takes float tensors and is differentiable unless
// its comment says otherwise; each is also a Tensor method (`x.exp()`, `a.add(b)`).
export const {
  /** -x elementwise, as torch.neg. */
  neg,
  /** e^x elementwise, as torch.exp. */
  exp,
  /** Natural logarithm elementwise, as torch.log. */
  log,
  /** Square root elementwise, as torch.sqrt. */
  sqrt,
  /** |x| elementwise, as torch.abs (gradient sign(x), 0 at 0). */
  abs,
  /** -1, 0 or 1 by the sign of each element, as torch.sign (gradient 0). */
  sign,
  /** x * x elementwise, as torch.square. */
  square,
  /** 1 / x elementwise, as torch.reciprocal. */
  reciprocal,
  /**
   * 1 / (1 + e^-x) elementwise, as torch.sigmoid.
   *
   * @example
   * ```ts
   * wt.sigmoid(wt.tensor([-1, 0, 1])); // [0.269, 0.5, 0.731]
   * ```
   */
  sigmoid,
  /** Hyperbolic tangent elementwise, as torch.tanh. */
  tanh,
  /** The exact GELU x * (1 + erf(x / sqrt(2))) / 2 elementwise, as torch.nn.functional.gelu with
   * approximate 'none' (nn.GELU also offers the tanh approximation). */
  gelu,
  /**
   * `leakyRelu(x, negativeSlope = 0.01)`: x where x > 0, else negativeSlope * x, elementwise, as
   * torch.nn.functional.leaky_relu.
   *
   * @example
   * ```ts
   * wt.leakyRelu(wt.tensor([-2, 3]), 0.1); // [-0.2, 3]
   * ```
   */
  leakyRelu,
} = unaryFunctions;
// Binary ops take `(a, b)` with b a tensor or a number; two tensors broadcast to a common shape
// (NumPy / PyTorch rules), and a broadcast input's gradient is summed back to its shape.
export const {
  /**
   * a + b elementwise with broadcasting, as torch.add; b a tensor or a number.
   *
   * @example
   * ```ts
   * const x = wt.randn([4, 3]), bias = wt.randn([3]);
   * wt.add(x, bias); // [4, 3]: bias added to every row
   * wt.add(x, 1);
   * ```
   */
  add,
  /** a - b elementwise with broadcasting, as torch.sub; b a tensor or a number. */
  sub,
  /** a * b elementwise with broadcasting, as torch.mul; b a tensor or a number. */
  mul,
  /** a / b elementwise with broadcasting, as torch.div (true division); b a tensor or a number. */
  div,
  /** a to the power b elementwise with broadcasting, as torch.pow; differentiable in both operands. */
  pow,
  /** The larger of a and b elementwise with broadcasting, NaN where either is NaN, as torch.maximum;
   * where they tie, each gets half the gradient. */
  maximum,
  /** The smaller of a and b elementwise with broadcasting, NaN where either is NaN, as torch.minimum;
   * where they tie, each gets half the gradient. */
  minimum,
  /**
   * a == b elementwise with broadcasting: float 1 where it holds, else 0 (torch.eq gives bool);
   * NaN equals nothing. Not differentiable.
   *
   * @example
   * ```ts
   * wt.eq(wt.tensor([1, 2, 3]), 2); // [0, 1, 0]
   * ```
   */
  eq,
  /** a != b elementwise with broadcasting: float 1 where it holds, else 0 (true wherever either is
   * NaN). Not differentiable. */
  ne,
  /** a > b elementwise with broadcasting: float 1 where it holds, else 0. Not differentiable. */
  gt,
  /** a >= b elementwise with broadcasting: float 1 where it holds, else 0. Not differentiable. */
  ge,
  /** a < b elementwise with broadcasting: float 1 where it holds, else 0. Not differentiable. */
  lt,
  /** a <= b elementwise with broadcasting: float 1 where it holds, else 0. Not differentiable. */
  le,
} = binaryFunctions;
