// Reverse-mode engine: topological order from the root, then each node's backward in reverse,
// accumulating (+=) into every input that needs a gradient. Intermediate gradients are freed as soon
// as their node has consumed them; saved tensors are released after backward (memory stays flat).
import { checkOptions } from '../backend/options.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { fmt, sameShape } from '../tensor/shape.ts';
import { keep } from '../tensor/storage.ts';
import { full } from '../tensor/raw.ts';
import { checkFinite } from '../tensor/numerics_check.ts';
import { binary } from './pointwise.ts';
import type { Node } from './function.ts';
import { noGrad } from './function.ts';

/** Options of `loss.backward(gradient?, options)`. */
export interface BackwardOptions {
  /** Keep saved tensors so backward can run through this graph again. Default false: the graph
   * is freed and a second backward through it throws. */
  retainGraph?: boolean;
}

function topo(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: [Tensor, boolean][] = [[root, false]];
  while (stack.length) {
    const [t, done] = stack.pop()!;
    if (done) {
      order.push(t);
      continue;
    }
    if (seen.has(t)) continue;
    seen.add(t);
    stack.push([t, true]);
    const n = t._node;
    if (n) n.inputs.forEach((x, i) => n.needsGrad[i] && !seen.has(x) && stack.push([x, false]));
  }
  return order; // children before parents
}

export function backward(root: Tensor, gradient?: Tensor, opts: BackwardOptions = {}): void {
  checkOptions('backward', opts, ['retainGraph']);
  root.check('backward');
  if (!root.requiresGrad)
    throw new Error(`backward: tensor ${root.describe()} does not require grad and has no grad_fn`);
  if (gradient === undefined && root.size !== 1)
    throw new Error(
      `backward: grad can be implicitly created only for scalar outputs; got shape ${fmt(root.shape)}, pass a gradient`,
    );
  if (gradient && !sameShape(gradient.shape, root.shape))
    throw new Error(`backward: gradient shape ${fmt(gradient.shape)} does not match output shape ${fmt(root.shape)}`);
  if (gradient && gradient.device !== root.device)
    throw new Error(`backward: gradient is on ${gradient.device} but the output is on ${root.device}`);

  noGrad(() => {
    const order = topo(root);
    for (let i = order.length - 1; i >= 0; i--) order[i]._node?.checkSaved(); // root first
    // refcount of engine-owned gradient tensors (a backward may return its incoming grad as-is,
    // or the same tensor for two inputs)
    const refs = new Map<Tensor, number>();
    const grads = new Map<Tensor, Tensor>();
    const drop = (g: Tensor) => {
      const r = (refs.get(g) ?? 0) - 1;
      if (r <= 0) {
        refs.delete(g);
        if (!leafGrads.has(g)) g.dispose();
      } else refs.set(g, r);
    };
    const leafGrads = new Set<Tensor>();
    const place = (t: Tensor, g: Tensor, op: string) => {
      if (!sameShape(g.shape, t.shape))
        throw new Error(`backward: ${op} returned a gradient of shape ${fmt(g.shape)} for an input of shape ${fmt(t.shape)}`);
      if (!t._node) checkFinite(g, `grad:${op}:${t.name ?? fmt(t.shape)}`, () => `the gradient ${op}'s backward gave leaf ${t.describe()}`);
      const prev = grads.get(t);
      if (prev) {
        const sum = binary('add', prev, g); // +=
        drop(prev);
        grads.set(t, sum);
        refs.set(sum, 1);
      } else {
        grads.set(t, g);
        refs.set(g, (refs.get(g) ?? 0) + 1);
      }
    };

    const seed = gradient ?? full(root.shape, 1, root.device, root.dtype);
    grads.set(root, seed);
    if (gradient) leafGrads.add(seed); // the caller's tensor: never disposed here
    refs.set(seed, 1);

    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i];
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      const node: Node | null = t._node;
      if (!node) {
        // a leaf: accumulate into .grad (+=)
        if (t._grad) {
          const sum = binary('add', t._grad, g);
          t._grad.dispose();
          t._grad = keep(sum);
          drop(g);
        } else {
          const own = refs.get(g) === 1 && !leafGrads.has(g);
          const mine = own ? g : binary('add', g, full([], 0, g.device, g.dtype));
          if (own) {
            refs.delete(g);
            leafGrads.add(g);
          } else drop(g);
          t._grad = keep(mine);
        }
        continue;
      }
      const ins = node.backward(g);
      if (ins.length !== node.inputs.length)
        throw new Error(`backward: ${node.name} returned ${ins.length} gradients for ${node.inputs.length} inputs`);
      // hold every returned gradient while it is placed (the same tensor may go to several inputs,
      // or be the incoming g), then release the holds: what no input kept is freed
      const held = [...new Set(ins.filter((ig): ig is Tensor => ig !== null))];
      for (const ig of held) refs.set(ig, (refs.get(ig) ?? 0) + 1);
      ins.forEach((ig, k) => {
        if (ig && node.needsGrad[k]) place(node.inputs[k], ig, node.name);
      });
      for (const ig of held) drop(ig);
      drop(g);
      if (!opts.retainGraph) node.release();
    }
  });
}
