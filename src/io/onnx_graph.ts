// GraphBuilder: the ONNX graph being written: nodes in topological order, initializers (weights
// by their state-dict names, constants), unique value names, and the ops whose signature depends
// on the opset (reductions take `axes` as an input from opset 18, ReduceSum from 13).
import {
  type Attr, type ElemType, type NodeMessage, type TensorMessage, ELEM, attrI, attrInts, attributeMessage, tensorMessage,
} from './onnx_proto.ts';

export class GraphBuilder {
  readonly nodes: NodeMessage[] = [];
  readonly initializers: TensorMessage[] = [];
  private readonly used = new Set<string>();
  private counter = 0;
  /** Node name prefix while converting one op ('/features.0/' for the op whose weight is features.0.weight). */
  scope = '/';

  constructor(readonly opset: number) {}

  /** `base`, or `base_1`, `base_2`, ... if taken; reserves the name. */
  unique(base: string): string {
    let n = base;
    for (let i = 1; this.used.has(n); i++) n = `${base}_${i}`;
    this.used.add(n);
    return n;
  }

  /** Add a node; returns its (single) output name. */
  node(op: string, inputs: readonly string[], attrs: Record<string, Attr> = {}): string {
    const out = this.unique(`${this.scope}${op}_output_${this.counter}`);
    this.nodeTo(op, inputs, [out], attrs);
    return out;
  }

  /** Add a node writing the given outputs. */
  nodeTo(op: string, inputs: readonly string[], outputs: readonly string[], attrs: Record<string, Attr> = {}): void {
    this.nodes.push({
      name: this.unique(`${this.scope}${op}_${this.counter++}`),
      opType: op,
      input: [...inputs],
      output: [...outputs],
      attribute: Object.entries(attrs).map(([k, a]) => attributeMessage(k, a)),
    });
  }

  /** An initializer named `name` (made unique); returns the name. */
  initializer(name: string, elem: ElemType, dims: readonly number[], values: ArrayLike<number>): string {
    const n = this.unique(name);
    this.initializers.push(tensorMessage(n, elem, dims, values));
    return n;
  }

  /** A float32 constant (an initializer named after the current scope). */
  constF(values: ArrayLike<number>, dims: readonly number[] = []): string {
    return this.initializer(`${this.scope}const`, ELEM.float, dims, values);
  }
  /** An int64 1-D constant (shapes, axes, pads). */
  constI64(values: readonly number[]): string {
    return this.initializer(`${this.scope}const`, ELEM.int64, [values.length], values);
  }

  /** ReduceSum / ReduceMean / ReduceMax / ReduceMin over `axes` (opset-dependent form). */
  reduce(op: 'ReduceSum' | 'ReduceMean' | 'ReduceMax' | 'ReduceMin', x: string, axes: readonly number[], keepdims: boolean): string {
    const axesAsInput = op === 'ReduceSum' ? this.opset >= 13 : this.opset >= 18;
    const k = { keepdims: attrI(keepdims ? 1 : 0) };
    return axesAsInput ? this.node(op, [x, this.constI64(axes)], k) : this.node(op, [x], { ...k, axes: attrInts(axes) });
  }
}
