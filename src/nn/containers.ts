// Sequential: children stored in fields "0", "1", ... so parameter names match
// torch.nn.Sequential ("0.weight", "3.bias") and a state dict loads in either library.
import type { Tensor } from '../tensor/tensor.ts';
import { Conv2d, ReLU } from './layers.ts';
import { Module } from './module.ts';

/** Runs its modules in order, each on the previous one's output; children are named 0, 1, ... (torch's names). */
export class Sequential extends Module {
  constructor(...modules: Module[]) {
    super();
    modules.forEach((m, i) => this.append(m, `argument ${i}`));
  }

  /** Add a module at the end (named by its index). */
  append(m: Module, what = 'append'): this {
    if (!(m instanceof Module)) throw new Error(`Sequential: ${what} must be a Module, got ${describe(m)}`);
    Object.defineProperty(this, String(this.length), { value: m, enumerable: true, writable: true, configurable: true });
    return this;
  }

  get length(): number {
    return this.children().length;
  }
  /** The i-th module (negative counts from the end). */
  at(i: number): Module {
    const n = this.length;
    const j = i < 0 ? i + n : i;
    if (!Number.isInteger(j) || j < 0 || j >= n) throw new Error(`Sequential.at: index ${i} out of range for ${n} modules`);
    return (this as unknown as Record<string, Module>)[String(j)];
  }
  [Symbol.iterator](): Iterator<Module> {
    return this.children()[Symbol.iterator]();
  }

  /** Each child in order. A Conv2d directly followed by a ReLU runs as one fused conv+ReLU kernel
   * (same values and gradients, one pass over the activation fewer). */
  forward(x: Tensor): Tensor {
    const mods = this.children();
    for (let i = 0; i < mods.length; i++) {
      const m = mods[i];
      if (m instanceof Conv2d && mods[i + 1] instanceof ReLU) {
        x = m.forwardRelu(x);
        i++;
      } else x = m.forward(x);
    }
    return x;
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}
