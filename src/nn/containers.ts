// Sequential and ModuleList: children stored in fields "0", "1", ... so parameter names match
// torch.nn.Sequential / torch.nn.ModuleList ("0.weight", "3.bias") and a state dict loads in either
// library.
import type { Tensor } from '../tensor/tensor.ts';
import { Conv2d, ReLU } from './layers.ts';
import { Module } from './module.ts';

/** Runs its modules in order, each on the previous one's output; children are named 0, 1, ... (torch's
 * names), or by addModule(name, m) after them. */
export class Sequential extends Module {
  constructor(...modules: Module[]) {
    super();
    modules.forEach((m, i) => this.append(m, `argument ${i}`));
  }

  /** Add a module at the end (named by its index). */
  append(m: Module, what = 'append'): this {
    if (!(m instanceof Module)) throw new Error(`Sequential: ${what} must be a Module, got ${describe(m)}`);
    const named = this.namedChildren().find(([k]) => !isIndex(k));
    // an index name would sort before the named children (JavaScript orders integer-like keys first)
    if (named) throw new Error(`Sequential.append: this Sequential has a named child '${named[0]}'; add after it with addModule(name, module)`);
    Object.defineProperty(this, String(this.length), { value: m, enumerable: true, writable: true, configurable: true });
    return this;
  }

  /** Add a module at the end under `name` (torch's add_module: d2l's AnyNet adds 'stage1', ...,
   * 'head' after the stem '0'); its parameters are named `${name}.weight` and so on. */
  addModule(name: string, m: Module): this {
    if (typeof name !== 'string' || name === '' || name.includes('.'))
      throw new Error(`Sequential.addModule: expected a non-empty name without '.', got ${JSON.stringify(name)}`);
    if (isIndex(name)) {
      if (name !== String(this.length)) throw new Error(`Sequential.addModule: an index name must be the next index ${this.length}, got '${name}'`);
      return this.append(m, 'addModule');
    }
    if (name.startsWith('_') || name in this) throw new Error(`Sequential.addModule: name '${name}' is taken or starts with '_'`);
    checkModule('Sequential.addModule', m);
    Object.defineProperty(this, name, { value: m, enumerable: true, writable: true, configurable: true });
    return this;
  }

  get length(): number {
    return this.children().length;
  }
  /** The i-th module in order (negative counts from the end), whatever its name. */
  at(i: number): Module {
    const mods = this.children();
    const n = mods.length;
    const j = i < 0 ? i + n : i;
    if (!Number.isInteger(j) || j < 0 || j >= n) throw new Error(`Sequential.at: index ${i} out of range for ${n} modules`);
    return mods[j];
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

/**
 * A list of modules whose parameters are registered (torch.nn.ModuleList): `list[i]` or `at(i)`
 * (negative from the end), `append`, `extend`, `insert`, `length`, iteration. It has no forward;
 * a parent module iterates over it. State-dict names are the indices ("0.weight").
 */
export class ModuleList extends Module {
  [index: number]: Module;

  constructor(modules: Iterable<Module> = []) {
    super();
    this.extend(modules, 'ModuleList');
  }

  /** Add a module at the end (named by its index). */
  append(m: Module): this {
    checkModule('ModuleList.append', m);
    this.set(this.length, m);
    return this;
  }

  /** Append each module of an iterable. */
  extend(modules: Iterable<Module>, op = 'ModuleList.extend'): this {
    if (modules === null || typeof modules !== 'object' || typeof (modules as Iterable<Module>)[Symbol.iterator] !== 'function')
      throw new Error(`${op}: expected an iterable of Modules, got ${describe(modules)}`);
    const list = [...modules];
    list.forEach((m, i) => checkModule(`${op}: element ${i}`, m));
    for (const m of list) this.set(this.length, m);
    return this;
  }

  /** Insert a module before index `i` (negative counts from the end), as list.insert. */
  insert(i: number, m: Module): this {
    checkModule('ModuleList.insert', m);
    const n = this.length;
    if (!Number.isInteger(i)) throw new Error(`ModuleList.insert: index must be an integer, got ${String(i)}`);
    const j = Math.min(Math.max(i < 0 ? i + n : i, 0), n);
    for (let k = n; k > j; k--) this.set(k, this.at(k - 1));
    this.set(j, m);
    return this;
  }

  get length(): number {
    return this.children().length;
  }

  /** The i-th module (negative counts from the end). */
  at(i: number): Module {
    const n = this.length;
    const j = i < 0 ? i + n : i;
    if (!Number.isInteger(j) || j < 0 || j >= n) throw new Error(`ModuleList.at: index ${i} out of range for ${n} modules`);
    return this[j];
  }

  [Symbol.iterator](): Iterator<Module> {
    return this.children()[Symbol.iterator]();
  }

  forward(): Tensor {
    throw new Error('ModuleList: has no forward(); call its modules (e.g. for (const m of list) x = m.call(x))');
  }

  private set(i: number, m: Module): void {
    Object.defineProperty(this, String(i), { value: m, enumerable: true, writable: true, configurable: true });
  }
}

/** An integer-like field name ("0", "12"): JavaScript lists these first, ascending. */
const isIndex = (k: string) => /^(0|[1-9][0-9]*)$/.test(k);

function checkModule(what: string, m: unknown): void {
  if (!(m instanceof Module)) throw new Error(`${what} must be a Module, got ${describe(m)}`);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}
