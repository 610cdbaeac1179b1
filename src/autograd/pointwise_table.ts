// The pointwise op table: one declarative entry per unary or binary elementwise op. From each entry
// come its GPU kernel (the expression goes into the generic unary/binary kernels), its CPU twin, its
// autograd Function, the functional export `wt.<name>`, the `Tensor` method and the tests' case list
// (test/autograd/pointwise.test.ts walks this table). Adding an op = one entry here (+ its name in the
// export line of pointwise.ts); see docs/architecture.md.
//
// WGSL expressions see `v` (unary input) or `a`, `b` (binary inputs) as f32 or vec4<f32>, `s` and `s2`
// (the scalar arguments, same type; `s2` only in unary entries), `zero` and `one`. Backward rules use the ops in `R` (raw, not recorded)
// and return dL/dinput at the output's shape; broadcast inputs are summed back by the machinery, and
// temporaries are freed by it. Gradients follow PyTorch's formulas (ties in maximum/minimum split
// evenly, like torch.maximum).
import { erfCpu, erfWgsl, isNanWgsl, powiWgsl } from '../kernels/wgsl_lib.ts';

/** A tensor as the rules see it: opaque, handed to the ops in `R`. (Not the Tensor class itself:
 * Tensor's methods are keyed by this table, and TypeScript would see a cycle.) */
export interface Tensor {
  readonly shape: readonly number[];
  readonly dtype: string;
}
export type Operand = Tensor | number;

/** The raw ops a backward rule may use (see pointwise.ts). */
export interface GradOps {
  add(a: Operand, b: Operand): Tensor;
  sub(a: Operand, b: Operand): Tensor;
  mul(a: Operand, b: Operand): Tensor;
  div(a: Operand, b: Operand): Tensor;
  /** Any unary entry by name, with its scalars. */
  un(op: string, x: Tensor, s?: number, s2?: number): Tensor;
  /** Any binary entry by name. */
  bin(op: string, a: Operand, b: Operand): Tensor;
}

export interface UnaryEntry {
  wgsl: string;
  cpu: (v: number, s: number, s2: number) => number;
  /** WGSL helper functions the expression calls, for element type T. */
  helpers?: (T: string) => string;
  /** dL/dx; `y` is the output. null: not differentiable. */
  grad: ((c: { g: Tensor; x: Tensor; y: Tensor; s: number; s2: number }, R: GradOps) => Tensor) | null;
  /** Backward reads the output y (kept alive for it); the input x is always kept. */
  usesOutput?: boolean;
  /** The public function's scalar argument and its default (leakyRelu's negative slope). */
  arg?: { name: string; default: number };
}

export interface BinaryEntry {
  wgsl: string;
  cpu: (a: number, b: number) => number;
  helpers?: (T: string) => string;
  /** [dL/da, dL/db] at the output's shape (compute only those `need` asks for). null: not
   * differentiable (the output never requires grad). */
  grad: ((c: { g: Tensor; a: Operand; b: Operand; y: Tensor; need: [boolean, boolean] }, R: GradOps) => [Tensor | null, Tensor | null]) | null;
  usesOutput?: boolean;
}

/** Typed table constructor: keys inferred, entries checked against E (and no type cycle through
 * Tensor's methods, which are keyed by these tables). */
const table =
  <E>() =>
  <K extends string>(t: Record<K, E>): Record<K, E> =>
    t;

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

export const UNARY = table<UnaryEntry>()({
  neg: { wgsl: '-v', cpu: (v) => -v, grad: ({ g }, R) => R.un('neg', g) },
  exp: { wgsl: 'exp(v)', cpu: Math.exp, usesOutput: true, grad: ({ g, y }, R) => R.mul(g, y) },
  log: { wgsl: 'log(v)', cpu: Math.log, grad: ({ g, x }, R) => R.div(g, x) },
  sqrt: { wgsl: 'sqrt(v)', cpu: Math.sqrt, usesOutput: true, grad: ({ g, y }, R) => R.div(g, R.mul(y, 2)) },
  abs: { wgsl: 'abs(v)', cpu: Math.abs, grad: ({ g, x }, R) => R.mul(g, R.un('sign', x)) },
  sign: { wgsl: 'sign(v)', cpu: Math.sign, grad: ({ g }, R) => R.mul(g, 0) },
  square: { wgsl: 'v * v', cpu: (v) => v * v, grad: ({ g, x }, R) => R.mul(g, R.mul(x, 2)) },
  reciprocal: { wgsl: '1.0 / v', cpu: (v) => 1 / v, usesOutput: true, grad: ({ g, y }, R) => R.mul(g, R.un('neg', R.mul(y, y))) },
  sigmoid: {
    // exp(-v) overflows to inf for v < -88: 1 / (1 + inf) = 0, the right limit
    wgsl: 'one / (one + exp(-v))',
    cpu: sigmoid,
    usesOutput: true,
    grad: ({ g, y }, R) => R.mul(g, R.mul(y, R.sub(1, y))),
  },
  tanh: {
    // WGSL's tanh(v) is NaN past |v| ~ 44 on some drivers (exp overflow): clamp, tanh(+-15) == +-1 in f32
    wgsl: 'tanh(clamp(v, -s15, s15))',
    cpu: Math.tanh,
    helpers: (T: string) => `const s15 = ${T === 'f32' ? '15.0' : 'vec4<f32>(15.0)'};`,
    usesOutput: true,
    grad: ({ g, y }, R) => R.mul(g, R.sub(1, R.mul(y, y))),
  },
  gelu: {
    // PyTorch's default (erf form): x * Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2
    wgsl: `0.5 * v * (one + erf_(v * ${SQRT1_2}))`,
    cpu: (v) => 0.5 * v * (1 + erfCpu(v * SQRT1_2)),
    helpers: erfWgsl,
    grad: ({ g, x }, R) => R.mul(g, R.un('geluGrad', x)),
  },
  leakyRelu: {
    wgsl: 'select(v * s, v, v > zero)',
    cpu: (v, s) => (v > 0 ? v : v * s),
    arg: { name: 'negativeSlope', default: 0.01 },
    grad: ({ g, x, s }, R) => R.mul(g, R.un('leakyReluGrad', x, s)),
  },
});

/** Building blocks of other entries' rules and of layers: no `wt.<name>` export, no Tensor method. */
export const UNARY_INTERNAL = table<UnaryEntry>()({
  /** d gelu / dx = Phi(x) + x * phi(x) */
  geluGrad: {
    wgsl: `0.5 * (one + erf_(v * ${SQRT1_2})) + v * ${INV_SQRT_2PI} * exp(-0.5 * v * v)`,
    cpu: (v) => 0.5 * (1 + erfCpu(v * SQRT1_2)) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v),
    helpers: erfWgsl,
    grad: null,
  },
  /** 1 where v > 0, else s (leakyRelu's derivative; PyTorch takes the slope at 0) */
  leakyReluGrad: { wgsl: 'select(s, one, v > zero)', cpu: (v, s) => (v > 0 ? 1 : s), grad: null },
  /** 1 where v > 0, else 0 (ReLU's derivative) */
  step: { wgsl: 'select(zero, one, v > zero)', cpu: (v) => (v > 0 ? 1 : 0), grad: null },
  /** v ** s with PyTorch's rules for negative bases and integer exponents */
  powS: {
    wgsl: 'powi(v, s)',
    cpu: (v, s) => Math.pow(v, s),
    helpers: powiWgsl,
    grad: ({ g, x, s }, R) => R.mul(g, R.mul(R.un('powS', x, s - 1), s)),
  },
  /** max(v, s), NaN propagating */
  maxS: { wgsl: 'max(v, s)', cpu: (v, s) => (Number.isNaN(v) ? v : Math.max(v, s)), grad: null },
  /** min(max(v, s), s2) as torch.clamp (s > s2 gives s2); NaN propagates. Public as `clamp` in
   * clamp_where.ts (two optional bounds, so not a generated one-scalar function). */
  clamp: {
    wgsl: 'select(min(max(v, s), s2), v, isNan(v))',
    cpu: (v, s, s2) => (v !== v ? v : Math.min(Math.max(v, s), s2)),
    helpers: isNanWgsl as (T: string) => string,
    grad: ({ g, x, s, s2 }, R) => R.mul(g, R.un('clampMask', x, s, s2)),
  },
  /** 1 where s <= v <= s2, else 0 (NaN: 0): clamp's derivative, as torch's clamp backward */
  clampMask: {
    wgsl: 'select(zero, one, (v >= s) & (v <= s2) & !isNan(v))',
    cpu: (v, s, s2) => (v >= s && v <= s2 ? 1 : 0),
    helpers: isNanWgsl as (T: string) => string,
    grad: null,
  },
});

/** Weight of `a` in d max(a, b): 1 where a > b, 1/2 on ties, 0 elsewhere (torch.maximum). */
function tieWeights(a: Operand, b: Operand, R: GradOps, first: 'gt' | 'lt'): [Tensor, Tensor] {
  const wa = R.add(R.bin(first, a, b), R.mul(R.bin('eq', a, b), 0.5));
  return [wa, R.sub(1, wa)];
}

/** A comparison: float 1 where it holds, else 0; not differentiable. NaN compares unequal to
 * everything (tested by bit pattern: lavapipe folds `v != v` to false). */
const cmp = (wgsl: string, cpu: (a: number, b: number) => boolean): BinaryEntry => ({
  wgsl: `select(zero, one, ${wgsl})`,
  cpu: (a, b) => (cpu(a, b) ? 1 : 0),
  helpers: isNanWgsl as (T: string) => string,
  grad: null,
});

export const BINARY = table<BinaryEntry>()({
  add: { wgsl: 'a + b', cpu: (a, b) => a + b, grad: ({ g }) => [g, g] },
  sub: { wgsl: 'a - b', cpu: (a, b) => a - b, grad: ({ g, need }, R) => [g, need[1] ? R.un('neg', g) : null] },
  mul: {
    wgsl: 'a * b',
    cpu: (a, b) => a * b,
    grad: ({ g, a, b, need }, R) => [need[0] ? R.mul(g, b) : null, need[1] ? R.mul(g, a) : null],
  },
  div: {
    wgsl: 'a / b',
    cpu: (a, b) => a / b,
    // d/db (a / b) = -(g / b) * (a / b)
    grad: ({ g, a, b, need }, R) => {
      const gb = R.div(g, b);
      return [gb, need[1] ? R.un('neg', R.mul(gb, R.div(a, b))) : null];
    },
  },
  pow: {
    wgsl: 'powi(a, b)',
    cpu: (a, b) => Math.pow(a, b),
    helpers: powiWgsl,
    usesOutput: true,
    // d/da = b * a^(b-1); d/db = a^b * log(a)
    grad: ({ g, a, b, y, need }, R) => [
      need[0] ? R.mul(g, R.mul(typeof b === 'number' ? R.un('powS', a as Tensor, b - 1) : R.bin('pow', a, R.sub(b, 1)), b)) : null,
      need[1] ? R.mul(g, R.mul(y, R.un('log', a as Tensor))) : null,
    ],
  },
  maximum: {
    wgsl: 'select(max(a, b), a + b, isNan(a) | isNan(b))',
    cpu: (a, b) => (a !== a || b !== b ? NaN : Math.max(a, b)),
    helpers: isNanWgsl as (T: string) => string,
    grad: ({ g, a, b }, R) => {
      const [wa, wb] = tieWeights(a, b, R, 'gt');
      return [R.mul(g, wa), R.mul(g, wb)];
    },
  },
  minimum: {
    wgsl: 'select(min(a, b), a + b, isNan(a) | isNan(b))',
    cpu: (a, b) => (a !== a || b !== b ? NaN : Math.min(a, b)),
    helpers: isNanWgsl as (T: string) => string,
    grad: ({ g, a, b }, R) => {
      const [wa, wb] = tieWeights(a, b, R, 'lt');
      return [R.mul(g, wa), R.mul(g, wb)];
    },
  },
  eq: cmp('(a == b) & !(isNan(a) | isNan(b))', (a, b) => a === b),
  ne: cmp('(a != b) | isNan(a) | isNan(b)', (a, b) => a !== b),
  gt: cmp('a > b', (a, b) => a > b),
  ge: cmp('a >= b', (a, b) => a >= b),
  lt: cmp('a < b', (a, b) => a < b),
  le: cmp('a <= b', (a, b) => a <= b),
});

export type UnaryName = keyof typeof UNARY | keyof typeof UNARY_INTERNAL;
export type PublicUnaryName = keyof typeof UNARY;
export type BinaryName = keyof typeof BINARY;
