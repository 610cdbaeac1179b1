// The op table of the ONNX exporter: one entry per recorded autograd Function (keyed by its name;
// pointwise ops by `unary:<op>` / `binary:<op>`), each writing the equivalent ONNX nodes and
// returning the name of the value that holds the Function's output. The entries read the public
// readonly configuration each Function keeps (Conv2d's geometry, BatchNorm's config, ...).
// Layouts are the library's: x [N, C, H, W], conv weight [Cout, Cin, KH, KW], linear weight [out, in].
import type { Tensor } from '../tensor/tensor.ts';
import type { Function } from '../autograd/function.ts';
import type { Conv2dGeom } from '../kernels/conv2d.ts';
import type { PoolGeom } from '../kernels/maxpool.ts';
import type { AvgPoolParams } from '../kernels/avgpool.ts';
import { type AdaptivePoolParams, adaptiveUniformWindow } from '../kernels/adaptive_pool.ts';
import type { LrnParams } from '../kernels/lrn.ts';
import type { RowNormGeom } from '../kernels/row_norm.ts';
import { type Attr, ELEM, attrF, attrI, attrInts, attrS } from './onnx_proto.ts';
import type { GraphBuilder } from './onnx_graph.ts';

/** What an entry sees of one recorded op. */
export interface OpContext {
  g: GraphBuilder;
  /** The recorded Function (its readonly configuration). */
  fn: Function;
  /** The op's input tensors (for their shapes) and their ONNX value names. */
  inputs: readonly Tensor[];
  names: readonly string[];
  /** The op's output tensor (for its shape). */
  out: Tensor;
  /** The name of the initializer holding a tensor the op uses but does not take as an input
   * (BatchNorm's running statistics). */
  tensorName(t: Tensor): string;
  /** True when the input's first dim is the (symbolic) batch: shapes written into the graph keep it
   * symbolic (Reshape's 0). */
  batchDim(i: number): boolean;
}

export type OpEntry = (c: OpContext) => string;

/** The error for ops the exporter cannot write. */
import { OnnxExportError } from './onnx_error.ts';

export { OnnxExportError };

const fail = (msg: string): never => {
  throw new OnnxExportError(`onnx.export: ${msg}`);
};

const norm = (a: number, rank: number) => (a < 0 ? a + rank : a);
const floorOut = (n: number, k: number, s: number, p: number) => Math.floor((n + 2 * p - k) / s) + 1;
const ones = (n: number) => new Array<number>(n).fill(1);
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** A field of the Function's configuration (the classes keep them as public readonly fields). */
function cfg<T>(fn: Function): T {
  return fn as unknown as T;
}

/** A reshape target for input i: the batch dim written as 0 ("copy from the input") when symbolic. */
function shapeFor(c: OpContext, shape: readonly number[], i = 0): number[] {
  const s = [...shape];
  if (c.batchDim(i)) {
    if (s[0] !== c.inputs[i].shape[0])
      fail(`${c.fn.name} changes dim 0 (the batch) from ${c.inputs[i].shape[0]} to ${s[0]}; export with dynamicBatch: false`);
    s[0] = 0;
  }
  return s;
}

/** x normalised over `axes` with the biased variance: (x - mean) / sqrt(var + eps). */
function normalize(g: GraphBuilder, x: string, axes: readonly number[], eps: number): string {
  const m = g.reduce('ReduceMean', x, axes, true);
  const d = g.node('Sub', [x, m]);
  const v = g.reduce('ReduceMean', g.node('Mul', [d, d]), axes, true);
  return g.node('Div', [d, g.node('Sqrt', [g.node('Add', [v, g.constF([eps])])])]);
}

/** y * w[c] + b[c] for per-channel w, b [C] on x [N, C, *] of rank `rank`. */
function channelAffine(g: GraphBuilder, y: string, w: string | null, b: string | null, c: number, rank: number): string {
  const shape = g.constI64([c, ...ones(rank - 2)]);
  if (w) y = g.node('Mul', [y, g.node('Reshape', [w, shape])]);
  if (b) y = g.node('Add', [y, g.node('Reshape', [b, shape])]);
  return y;
}

function poolAttrs(p: PoolGeom): Record<string, Attr> {
  const a: Record<string, Attr> = {
    kernel_shape: attrInts([p.kh, p.kw]),
    strides: attrInts([p.sh, p.sw]),
    pads: attrInts([p.ph, p.pw, p.ph, p.pw]),
  };
  // the library keeps the output size; ceil mode shows as a size above the floor rule's
  if (p.oh !== floorOut(p.h, p.kh, p.sh, p.ph) || p.ow !== floorOut(p.w, p.kw, p.sw, p.pw)) a.ceil_mode = attrI(1);
  return a;
}

const UNARY_OPS: Record<string, string> = {
  neg: 'Neg', exp: 'Exp', log: 'Log', sqrt: 'Sqrt', abs: 'Abs', sign: 'Sign', reciprocal: 'Reciprocal', sigmoid: 'Sigmoid', tanh: 'Tanh',
};
const BINARY_OPS: Record<string, string> = { add: 'Add', sub: 'Sub', mul: 'Mul', div: 'Div', pow: 'Pow', maximum: 'Max', minimum: 'Min' };

function unaryEntry(c: OpContext): string {
  const { g } = c;
  const { op, s, s2 } = cfg<{ op: string; s: number; s2: number }>(c.fn);
  const x = c.names[0];
  if (op in UNARY_OPS) return g.node(UNARY_OPS[op], [x]);
  switch (op) {
    case 'square':
      return g.node('Mul', [x, x]);
    case 'leakyRelu':
      return g.node('LeakyRelu', [x], { alpha: attrF(s) });
    case 'gelu':
      if (g.opset >= 20) return g.node('Gelu', [x], { approximate: attrS('none') });
      // x * Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2
      return g.node('Mul', [g.node('Mul', [x, g.constF([0.5])]), g.node('Add', [g.node('Erf', [g.node('Mul', [x, g.constF([Math.SQRT1_2])])]), g.constF([1])])]);
    case 'clamp':
      return g.node('Clip', [x, s === -Infinity ? '' : g.constF([s]), s2 === Infinity ? '' : g.constF([s2])]);
    case 'powS':
      return g.node('Pow', [x, g.constF([s])]);
    case 'maxS':
      return g.node('Max', [x, g.constF([s])]);
    case 'step':
      return g.node('Cast', [g.node('Greater', [x, g.constF([0])])], { to: attrI(ELEM.float) });
    default:
      return fail(`the pointwise op '${op}' has no ONNX equivalent here`);
  }
}

function binaryEntry(c: OpContext): string {
  const { g } = c;
  const { op, scalar } = cfg<{ op: string; scalar: { side: 'a' | 'b'; value: number } | null }>(c.fn);
  const onnxOp = BINARY_OPS[op] ?? fail(`the pointwise op '${op}' has no ONNX equivalent here`);
  if (!scalar) return g.node(onnxOp, [c.names[0], c.names[1]]);
  // clone() is x * 1
  if (op === 'mul' && scalar.value === 1) return c.names[0];
  const k = g.constF([scalar.value]);
  return g.node(onnxOp, scalar.side === 'a' ? [k, c.names[0]] : [c.names[0], k]);
}

export const OP_TABLE: Record<string, OpEntry> = {
  conv2d(c) {
    const { g: geom, relu } = cfg<{ g: Conv2dGeom; relu: boolean }>(c.fn);
    const y = c.g.node('Conv', c.names, {
      kernel_shape: attrInts([geom.kh, geom.kw]),
      strides: attrInts([geom.sh, geom.sw]),
      pads: attrInts([geom.ph, geom.pw, geom.ph, geom.pw]),
      dilations: attrInts([1, 1]),
      group: attrI(1),
    });
    return relu ? c.g.node('Relu', [y]) : y;
  },

  linear(c) {
    const [x, w, b] = c.names;
    if (c.inputs[0].ndim === 2) return c.g.node('Gemm', b ? [x, w, b] : [x, w], { transB: attrI(1) });
    const y = c.g.node('MatMul', [x, c.g.node('Transpose', [w], { perm: attrInts([1, 0]) })]);
    return b ? c.g.node('Add', [y, b]) : y;
  },

  matmul: (c) => c.g.node('MatMul', [c.names[0], c.names[1]]),

  relu: (c) => c.g.node('Relu', [c.names[0]]),

  batchNorm(c) {
    const { g } = c;
    const p = cfg<{ cfg: { training: boolean; eps: number; runningMean: Tensor | null; runningVar: Tensor | null; hasWeight: boolean; hasBias: boolean } }>(c.fn).cfg;
    const x = c.names[0];
    const ch = c.inputs[0].shape[1];
    const w = p.hasWeight ? c.names[1] : null;
    const b = p.hasBias ? c.names[p.hasWeight ? 2 : 1] : null;
    const rank = c.inputs[0].ndim;
    if (p.training || !p.runningMean || !p.runningVar) {
      // batch statistics at inference (a BatchNorm without running statistics): mean and biased
      // variance over every dim but the channels
      const axes = [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)];
      return channelAffine(g, normalize(g, x, axes, p.eps), w, b, ch, rank);
    }
    return g.node(
      'BatchNormalization',
      [x, w ?? g.constF(ones(ch), [ch]), b ?? g.constF(new Array(ch).fill(0), [ch]), c.tensorName(p.runningMean), c.tensorName(p.runningVar)],
      { epsilon: attrF(p.eps) },
    );
  },

  layerNorm(c) {
    const { g } = c;
    const { cfg: p } = cfg<{ cfg: { geom: RowNormGeom; paramShape: readonly number[] } }>(c.fn);
    const rank = c.inputs[0].ndim;
    const axis = rank - p.paramShape.length;
    const w = p.geom.weight ? c.names[1] : null;
    const b = p.geom.bias ? c.names[p.geom.weight ? 2 : 1] : null;
    if (g.opset >= 17)
      return g.node('LayerNormalization', [c.names[0], w ?? g.constF(ones(numel(p.paramShape)), p.paramShape), ...(b ? [b] : [])], {
        axis: attrI(axis),
        epsilon: attrF(p.geom.eps),
      });
    let y = normalize(g, c.names[0], Array.from({ length: p.paramShape.length }, (_, i) => axis + i), p.geom.eps);
    if (w) y = g.node('Mul', [y, w]);
    if (b) y = g.node('Add', [y, b]);
    return y;
  },

  groupNorm(c) {
    const { g } = c;
    const { cfg: p } = cfg<{ cfg: { geom: RowNormGeom; channels: { n: number; c: number; s: number } } }>(c.fn);
    const xs = c.inputs[0].shape;
    const groups = p.geom.groups ?? 1;
    // x [N, C, *] -> [N, G, C/G * S], normalised per (n, group), back to x's shape
    const grouped = g.node('Reshape', [c.names[0], g.constI64(shapeFor(c, [xs[0], groups, p.geom.d]))]);
    const y = g.node('Reshape', [normalize(g, grouped, [2], p.geom.eps), g.constI64(shapeFor(c, xs))]);
    const w = p.geom.weight ? c.names[1] : null;
    const b = p.geom.bias ? c.names[p.geom.weight ? 2 : 1] : null;
    return channelAffine(g, y, w, b, p.channels.c, xs.length);
  },

  maxPool2d(c) {
    const { geom } = cfg<{ geom: PoolGeom }>(c.fn);
    return c.g.node('MaxPool', [c.names[0]], poolAttrs(geom));
  },

  avgPool2d(c) {
    const { p } = cfg<{ p: AvgPoolParams }>(c.fn);
    const a = poolAttrs(p);
    if (!p.divisorOverride) return c.g.node('AveragePool', [c.names[0]], { ...a, count_include_pad: attrI(p.countIncludePad ? 1 : 0) });
    // sum / divisor = mean over the full window * (kh * kw / divisor), exact while no window
    // reaches past the padded input
    if ((p.oh - 1) * p.sh + p.kh > p.h + 2 * p.ph || (p.ow - 1) * p.sw + p.kw > p.w + 2 * p.pw)
      fail('avgPool2d with divisorOverride and ceil-mode windows past the padded input has no ONNX equivalent');
    const mean = c.g.node('AveragePool', [c.names[0]], { ...a, count_include_pad: attrI(1) });
    return c.g.node('Mul', [mean, c.g.constF([(p.kh * p.kw) / p.divisorOverride])]);
  },

  adaptiveAvgPool2d: (c) => adaptive(c, 'avg'),
  adaptiveMaxPool2d: (c) => adaptive(c, 'max'),

  localResponseNorm(c) {
    const { geom } = cfg<{ geom: Omit<LrnParams, 'mode'> }>(c.fn);
    // torch sums over channels [c - floor(size/2), c + floor((size-1)/2)], ONNX over
    // [c - floor((size-1)/2), c + ceil((size-1)/2)]: the same window for odd sizes only
    if (geom.size % 2 === 0) fail(`localResponseNorm with an even size (${geom.size}) has no ONNX LRN equivalent (its window is centred differently); use an odd size`);
    return c.g.node('LRN', [c.names[0]], { size: attrI(geom.size), alpha: attrF(geom.alpha), beta: attrF(geom.beta), bias: attrF(geom.k) });
  },

  // dropout recorded in training mode: written as the identity, as inference runs it
  dropout: (c) => c.names[0],

  softmax: (c) => c.g.node('Softmax', [c.names[0]], { axis: attrI(cfg<{ dim: number }>(c.fn).dim) }),
  logSoftmax: (c) => c.g.node('LogSoftmax', [c.names[0]], { axis: attrI(cfg<{ dim: number }>(c.fn).dim) }),

  reshape(c) {
    const xs = c.inputs[0].shape;
    const ys = c.out.shape;
    if (xs.length === ys.length && xs.every((d, i) => d === ys[i])) return c.names[0];
    // [N, ...] -> [N, rest]: Flatten, which keeps any batch size
    if (xs.length >= 2 && ys.length === 2 && ys[0] === xs[0]) return c.g.node('Flatten', [c.names[0]], { axis: attrI(1) });
    return c.g.node('Reshape', [c.names[0], c.g.constI64(shapeFor(c, ys))]);
  },

  permute(c) {
    const r = c.inputs[0].ndim;
    return c.g.node('Transpose', [c.names[0]], { perm: attrInts(cfg<{ dims: readonly number[] }>(c.fn).dims.map((d) => norm(d, r))) });
  },

  expand(c) {
    // 1 where the (right-aligned) input dim already has the output's size: Expand keeps it, so a
    // symbolic batch stays symbolic
    const xs = c.inputs[0].shape;
    const ys = c.out.shape;
    const lead = ys.length - xs.length;
    return c.g.node('Expand', [c.names[0], c.g.constI64(ys.map((d, i) => (i >= lead && xs[i - lead] === d ? 1 : d)))]);
  },

  sum: (c) => reduction(c, cfg<{ mean: boolean }>(c.fn).mean ? 'ReduceMean' : 'ReduceSum'),
  max: (c) => reduction(c, 'ReduceMax'),
  min: (c) => reduction(c, 'ReduceMin'),

  cat: (c) => c.g.node('Concat', c.names, { axis: attrI(cfg<{ dim: number }>(c.fn).dim) }),

  narrow: (c) => narrowEntry(c),
  slice: (c) => narrowEntry(c),

  pad(c) {
    const { lo, outShape, value } = cfg<{ lo: number[]; outShape: number[]; value: number }>(c.fn);
    const xs = c.inputs[0].shape;
    const hi = outShape.map((d, i) => d - xs[i] - lo[i]);
    return c.g.node('Pad', [c.names[0], c.g.constI64([...lo, ...hi]), c.g.constF([value])], { mode: attrS('constant') });
  },

  where(c) {
    const { g } = c;
    const { aScalar, bScalar } = cfg<{ aScalar: number | null; bScalar: number | null }>(c.fn);
    const [cond, ...rest] = c.names;
    // cond is true where nonzero (NaN included): not (cond == 0)
    const zero = c.inputs[0].dtype === 'int32' ? g.initializer(`${g.scope}const`, ELEM.int32, [], [0]) : g.constF([0]);
    const mask = g.node('Not', [g.node('Equal', [cond, zero])]);
    const a = aScalar ?? rest.shift()!;
    const b = bScalar ?? rest.shift()!;
    return g.node('Where', [mask, typeof a === 'number' ? g.constF([a]) : a, typeof b === 'number' ? g.constF([b]) : b]);
  },
};

function adaptive(c: OpContext, kind: 'avg' | 'max'): string {
  const { p } = cfg<{ p: AdaptivePoolParams }>(c.fn);
  const op = kind === 'avg' ? 'AveragePool' : 'MaxPool';
  if (p.oh === 1 && p.ow === 1) return c.g.node(kind === 'avg' ? 'GlobalAveragePool' : 'GlobalMaxPool', [c.names[0]]);
  // bins of one size, evenly spaced (input / output when it divides, or e.g. 13 -> 6: 3 x 3 stride 2):
  // a plain pool without padding, whose average divides by the whole window
  const rows = adaptiveUniformWindow(p.h, p.oh);
  const cols = adaptiveUniformWindow(p.w, p.ow);
  if (rows && cols)
    return c.g.node(op, [c.names[0]], { kernel_shape: attrInts([rows.k, cols.k]), strides: attrInts([rows.s, cols.s]) });
  return fail(
    `adaptive ${kind} pooling from ${p.h}x${p.w} to ${p.oh}x${p.ow} has uneven bins, which no ONNX pool expresses; ` +
      'use an input size divisible by the output size, bins of one size at a fixed stride (as 13 -> 6), or an output size of 1',
  );
}

function reduction(c: OpContext, op: 'ReduceSum' | 'ReduceMean' | 'ReduceMax' | 'ReduceMin'): string {
  const { axis, keepdim } = cfg<{ axis: number | readonly number[] | undefined; keepdim: boolean }>(c.fn);
  const r = c.inputs[0].ndim;
  const axes = axis === undefined ? Array.from({ length: r }, (_, i) => i) : (typeof axis === 'number' ? [axis] : [...axis]).map((a) => norm(a, r));
  return c.g.reduce(op, c.names[0], axes, keepdim);
}

function narrowEntry(c: OpContext): string {
  const { dim, start, length, step } = cfg<{ dim: number; start: number; length: number; step: number }>(c.fn);
  const end = length > 0 ? start + (length - 1) * step + 1 : start;
  const g = c.g;
  return g.node('Slice', [c.names[0], g.constI64([start]), g.constI64([end]), g.constI64([dim]), g.constI64([step])]);
}

/** The table key of a recorded Function. */
export function opKey(fn: Function, kind: 'unary' | 'binary' | null): string {
  return kind ? `${kind}:${fn.name}` : fn.name;
}

/** The entry for a key, or an error naming the op and what is supported. */
export function entryFor(key: string): OpEntry {
  if (key.startsWith('unary:')) return unaryEntry;
  if (key.startsWith('binary:')) return binaryEntry;
  if (Object.hasOwn(OP_TABLE, key)) return OP_TABLE[key];
  return fail(
    `the op '${key}' cannot be exported to ONNX (supported: ${Object.keys(OP_TABLE).join(', ')}, ` +
      `pointwise ${[...Object.keys(UNARY_OPS), 'square', 'leakyRelu', 'gelu', 'clamp', ...Object.keys(BINARY_OPS)].join(', ')})`,
  );
}
