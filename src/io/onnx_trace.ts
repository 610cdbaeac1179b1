// The tracer of the ONNX exporter: runs the model's forward once on the example input with autograd
// recording (eval mode, the input marked as requiring grad), then walks the recorded graph back from
// the output. Every library op that can take part in a backward is a Function node holding its
// inputs and its configuration, so the walk sees each op a forward performed, whichever Module
// (a library layer, a user's block such as a residual or dense block) or functional call ran it.
// Leaves of the graph are the input, the model's parameters and buffers (initializers named by their
// state-dict names) and constants (tensors the forward made without recorded ops, embedded by value).
import { Tensor } from '../tensor/tensor.ts';
import { keep, tidy } from '../tensor/storage.ts';
import { fromArray } from '../tensor/launch.ts';
import { setGradEnabled } from '../tensor/grad_mode.ts';
import { BinaryFn, UnaryFn } from '../autograd/pointwise.ts';
import type { Function } from '../autograd/function.ts';
import type { Module } from '../nn/module.ts';
import { GraphBuilder } from './onnx_graph.ts';
import { OnnxExportError, entryFor, opKey } from './onnx_ops.ts';
import { type ElemType, ELEM } from './onnx_proto.ts';

export interface TraceOptions {
  opset: number;
  dynamicBatch: boolean;
  inputName: string;
  outputName: string;
}

/** An initializer whose values are read from a tensor after the trace. */
export interface PendingTensor {
  name: string;
  elem: ElemType;
  tensor: Tensor;
  /** Made by the forward (disposed once read). */
  owned: boolean;
}

export interface Trace {
  g: GraphBuilder;
  inputDims: (number | string)[];
  outputDims: (number | string)[];
  pending: PendingTensor[];
}

const elemOf = (t: Tensor): ElemType => (t.dtype === 'int32' ? ELEM.int32 : t.dtype === 'float64' ? ELEM.double : ELEM.float);

/** Tensors with a recorded node reachable from `y`, inputs before users (iterative DFS). */
function topoOrder(y: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: [Tensor, boolean][] = [[y, false]];
  while (stack.length) {
    const [t, expanded] = stack.pop()!;
    if (expanded) {
      order.push(t);
      continue;
    }
    if (seen.has(t) || !t._node) continue;
    seen.add(t);
    stack.push([t, true]);
    const ins = t._node.inputs;
    for (let i = ins.length - 1; i >= 0; i--) if (!seen.has(ins[i])) stack.push([ins[i], false]);
  }
  return order;
}

/** The leaves reached from `y` that are neither `x` nor in `named`, in walk order. */
function constantsOf(order: Tensor[], x: Tensor, named: Map<Tensor, string>): Tensor[] {
  const out: Tensor[] = [];
  const seen = new Set<Tensor>();
  for (const t of order)
    for (const i of t._node!.inputs)
      if (!i._node && i !== x && !named.has(i) && !seen.has(i)) {
        seen.add(i);
        out.push(i);
      }
  return out;
}

/** Run `fn` with the model in eval mode and autograd recording on; restores both after. */
function inEvalWithGrad<R>(model: Module, fn: () => R): R {
  const modes = model.modules().map((m) => [m, m.training] as const);
  model.eval();
  const prev = setGradEnabled(true);
  try {
    return fn();
  } finally {
    setGradEnabled(prev);
    for (const [m, t] of modes) m.training = t;
  }
}

function forwardOf(model: Module, x: Tensor): Tensor {
  const y = model.forward(x);
  if (!(y instanceof Tensor)) throw new OnnxExportError(`onnx.export: the model's forward must return one Tensor, got ${typeof y}`);
  return y;
}

/**
 * Trace `model` on `example` into a GraphBuilder. Values of initializers are read afterwards (they
 * may live on the GPU): see `pending`.
 */
export function traceModel(model: Module, example: Tensor, o: TraceOptions): Trace {
  const named = new Map<Tensor, string>();
  for (const [k, t] of [...model.namedParameters(), ...model.namedBuffers()]) if (!named.has(t)) named.set(t, k);
  const g = new GraphBuilder(o.opset);
  g.unique(o.inputName);
  g.unique(o.outputName);
  const pending: PendingTensor[] = [];
  // tensors with a larger id were made during the trace
  const marker = fromArray(new Float32Array(0), [0], 'float32', 'cpu');
  const firstId = marker.id;
  marker.dispose();

  const trace = inEvalWithGrad(model, () =>
    tidy(() => {
      const x = example.detach();
      x.requiresGrad = true;
      const y = forwardOf(model, x);
      const order = topoOrder(y);
      const constants = constantsOf(order, x, named);
      checkConstants(model, example, constants, firstId, named);

      const names = new Map<Tensor, string>([[x, o.inputName]]);
      const dyn = new Set<string>(o.dynamicBatch ? [o.inputName] : []);
      const nameOf = (t: Tensor): string => {
        const known = names.get(t);
        if (known !== undefined) return known;
        const param = named.get(t);
        const name = g.unique(param ?? `${g.scope}constant`);
        const owned = param === undefined && t.id > firstId;
        pending.push({ name, elem: elemOf(t), tensor: owned ? keep(t) : t, owned });
        names.set(t, name);
        return name;
      };

      for (const t of order) {
        const fn = t._node as unknown as Function;
        const ins = fn.inputs;
        // node names follow the module that owns the op's first parameter ('/features.0/Conv_3')
        const owner = ins.map((i) => named.get(i)).find((n) => n !== undefined);
        g.scope = owner ? `/${owner.split('.').slice(0, -1).join('.')}/`.replace('//', '/') : '/';
        const inNames = ins.map(nameOf);
        const kind = fn instanceof UnaryFn ? 'unary' : fn instanceof BinaryFn ? 'binary' : null;
        const out = entryFor(opKey(fn, kind))({
          g,
          fn,
          inputs: ins,
          names: inNames,
          out: t,
          tensorName: nameOf,
          batchDim: (i) => dyn.has(inNames[i]),
        });
        names.set(t, out);
        if (inNames.some((n) => dyn.has(n))) dyn.add(out);
      }
      g.scope = '/';

      // the graph output under its own name
      const last = nameOf(y);
      const producer = g.nodes.find((n) => n.output?.includes(last));
      const isUsedElsewhere = g.nodes.some((n) => n.input?.includes(last));
      if (producer && !isUsedElsewhere && last !== o.inputName) producer.output = producer.output!.map((n) => (n === last ? o.outputName : n));
      else g.nodeTo('Identity', [last], [o.outputName]);

      const batch = (dims: readonly number[], symbolic: boolean) => dims.map((d, i) => (i === 0 && symbolic ? 'batch' : d));
      return {
        inputDims: batch(example.shape, o.dynamicBatch),
        outputDims: batch(y.shape, o.dynamicBatch && dyn.has(last) && y.ndim > 0 && y.shape[0] === example.shape[0]),
      };
    }),
  );
  return { g, pending, ...trace };
}

/**
 * Constants made inside the forward must not depend on the input (e.g. a comparison or argmax,
 * which autograd does not record): run the forward again on another input and require each such
 * constant to come out the same. Checked for CPU models (a GPU model's constants would need a
 * readback in the middle of the trace).
 */
function checkConstants(model: Module, example: Tensor, constants: Tensor[], firstId: number, named: Map<Tensor, string>): void {
  const made = constants.filter((t) => t.id > firstId);
  if (!made.length || made.some((t) => t.device !== 'cpu') || example.device !== 'cpu') return;
  tidy(() => {
    const shifted = Float64Array.from(example.data, (v, i) => v * 0.75 + 0.5 + (i % 7) * 0.125);
    const x3 = fromArray(shifted, example.shape, example.dtype, 'cpu');
    x3.requiresGrad = true;
    const again = constantsOf(topoOrder(forwardOf(model, x3)), x3, named).filter((t) => t.id > x3.id);
    const differs = made.length !== again.length || made.some((t, i) => t.size !== again[i].size || t.data.some((v, j) => !Object.is(v, again[i].data[j])));
    if (differs)
      throw new OnnxExportError(
        'onnx.export: the forward makes a tensor from the input with an op autograd does not record ' +
          '(a comparison, argmax, an in-place write, or a random draw), which a trace would freeze as a constant; ' +
          'build that step from differentiable ops (e.g. where() or relu()) to export it',
      );
  });
}
