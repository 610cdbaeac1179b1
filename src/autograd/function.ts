// A differentiable op: forward and backward side by side (micrograd/teenygrad style). `apply` runs
// forward without recording, then links the output to this node when any input needs a gradient.
import type { Tensor, GraphNode } from '../tensor/tensor.ts';
import { isGradEnabled, setGradEnabled } from '../tensor/grad_mode.ts';

export { isGradEnabled } from '../tensor/grad_mode.ts';

/** Run `fn` without recording a graph (inference, optimizer updates). Async functions supported. */
export function noGrad<R>(fn: () => R): R {
  const prev = setGradEnabled(false);
  let r: R;
  try {
    r = fn();
  } catch (e) {
    setGradEnabled(prev);
    throw e;
  }
  if (r instanceof Promise) return r.finally(() => setGradEnabled(prev)) as R;
  setGradEnabled(prev);
  return r;
}

export type Node = GraphNode;

/**
 * A differentiable op, as torch.autograd.Function: subclass it with a `name`, a `forward`
 * (run with grad mode off, so its ops are not recorded; it calls `save` for what backward needs)
 * and a `backward` that returns one gradient per input, each of its input's shape.
 * `new MyFn().apply(...inputs)` runs it and records the node when grad mode is on and an input
 * requires grad. Saved tensors are checked at backward: modifying one in place after forward is
 * an error.
 *
 * @example
 * ```ts
 * class Double extends wt.Function {
 *   name = 'double';
 *   forward(x: wt.Tensor) { return x.mul(2); }
 *   backward(g: wt.Tensor) { return [g.mul(2)]; }
 * }
 * const y = new Double().apply(x);
 * ```
 */
export abstract class Function implements Node {
  abstract readonly name: string;
  inputs: Tensor[] = [];
  needsGrad: boolean[] = [];
  freed = false;
  private recording = false;
  private saved: Tensor[] = [];
  private versions: number[] = [];

  /** Compute the output from the inputs with raw ops; call `save` for what backward needs. */
  abstract forward(...inputs: Tensor[]): Tensor;
  /** Gradients for each input (null where `needsGrad[i]` is false or there is none). */
  abstract backward(g: Tensor): (Tensor | null)[];

  /** Keep tensors for backward (only while recording). */
  protected save(...ts: Tensor[]): void {
    if (!this.recording) return;
    for (const t of ts) {
      this.saved.push(t);
      this.versions.push(t._version);
    }
  }

  checkSaved(): void {
    if (this.freed)
      throw new Error(
        `backward: the graph through ${this.name} was already freed by an earlier backward(); ` +
          'call backward({ retainGraph: true }) the first time to backpropagate twice',
      );
    this.saved.forEach((t, i) => {
      if (t.isDisposed) throw new Error(`backward: a tensor saved by ${this.name} was disposed before backward`);
      if (t._version !== this.versions[i])
        throw new Error(
          `backward: a tensor ${t.describe()} saved by ${this.name} was modified in place after the forward pass`,
        );
    });
  }

  release(): void {
    this.saved = [];
    this.versions = [];
    this.freed = true;
  }

  /** Run forward; link the output into the graph when grad mode is on and an input requires grad. */
  apply(...inputs: Tensor[]): Tensor {
    const enabled = isGradEnabled();
    const needs = inputs.map((t) => enabled && t.requiresGrad);
    this.recording = needs.some(Boolean);
    const prev = setGradEnabled(false);
    let out: Tensor;
    try {
      out = this.forward(...inputs);
    } finally {
      setGradEnabled(prev);
    }
    if (this.recording) {
      this.inputs = inputs;
      this.needsGrad = needs;
      // a forward that returned one of its inputs (e.g. a no-op reshape) must not relink that input
      if (inputs.includes(out)) out = out._view(out.shape);
      out.requiresGrad = true;
      out._node = this;
    }
    this.recording = false;
    return out;
  }
}
