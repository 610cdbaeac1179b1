// Looking at a model: d2l's layer-by-layer output shapes, its parameter count, and the
// multiply-accumulates of one forward pass (conv and linear layers, counted from the shapes
// each layer sees).
import { noGrad } from '../autograd/function.ts';
import { Conv2d, Linear } from '../nn/layers.ts';
import type { Module } from '../nn/module.ts';
import { zeros } from '../tensor/creation.ts';
import { tidy } from '../tensor/storage.ts';
import type { Tensor } from '../tensor/tensor.ts';

function checkShape(op: string, shape: unknown): number[] {
  if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d > 0))
    throw new Error(`${op}: inputShape must be an array of positive integers such as [1, 1, 224, 224], got ${JSON.stringify(shape)}`);
  return shape as number[];
}

/** Run `fn` on the model in eval mode without gradients, restoring the mode afterwards. */
function inEval<R>(net: Module, fn: () => R): R {
  const wasTraining = net.training;
  net.eval();
  try {
    return noGrad(() => tidy(fn));
  } finally {
    if (wasTraining) net.train();
  }
}

/**
 * d2l's shape printout: a zero input of `inputShape` goes through the model's top-level children
 * in order (eval mode, no gradients), one line per child: "Sequential output shape:\t[1, 64, 24, 24]".
 */
export function summary(net: Module, inputShape: readonly number[]): string[] {
  const shape = checkShape('summary', inputShape);
  return inEval(net, () => {
    const lines: string[] = [];
    let x = zeros(shape);
    for (const m of net.children()) {
      x = m.forward(x);
      lines.push(`${m.constructor.name} output shape:\t[${x.shape.join(', ')}]`);
    }
    return lines;
  });
}

/** Number of parameter elements (each shared tensor once), as sum(p.numel() for p in net.parameters()). */
export function parameterCount(net: Module): number {
  return net.parameters().reduce((s, p) => s + p.size, 0);
}

/**
 * Multiply-accumulates of one forward pass on an input of `inputShape`: for every Conv2d,
 * outputs x (inChannels / groups) x kh x kw; for every Linear, outputs x inFeatures (biases, activations,
 * pools and norms not counted). FLOPs = 2 x MACs. Runs the forward (eval mode, no gradients) to
 * see each layer's shapes.
 */
export function forwardMacs(net: Module, inputShape: readonly number[]): number {
  const shape = checkShape('forwardMacs', inputShape);
  let macs = 0;
  const patched: Module[] = [];
  const count = (m: Module, y: Tensor): Tensor => {
    if (m instanceof Conv2d) macs += y.size * (m.inChannels / m.groups) * m.kernelSize[0] * m.kernelSize[1];
    else if (m instanceof Linear) macs += y.size * m.inFeatures;
    return y;
  };
  try {
    for (const m of net.modules()) {
      if (!(m instanceof Conv2d) && !(m instanceof Linear)) continue;
      const proto = Object.getPrototypeOf(m) as Conv2d & Linear;
      const own = m as unknown as Record<string, unknown>;
      // own, non-enumerable overrides: invisible to the module's state scan, removed below
      Object.defineProperty(own, 'forward', { value: (x: Tensor) => count(m, proto.forward.call(m, x)), configurable: true, enumerable: false });
      if (m instanceof Conv2d)
        Object.defineProperty(own, 'forwardRelu', { value: (x: Tensor) => count(m, proto.forwardRelu.call(m, x)), configurable: true, enumerable: false });
      patched.push(m);
    }
    inEval(net, () => void net.forward(zeros(shape)));
  } finally {
    for (const m of patched) {
      delete (m as unknown as Record<string, unknown>).forward;
      delete (m as unknown as Record<string, unknown>).forwardRelu;
    }
  }
  return macs;
}
