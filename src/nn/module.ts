// Module: the base of every layer. Parameters and submodules are found by scanning the module's own
// fields, so plain assignment registers them (like torch.nn.Module.__setattr__):
//   - a field holding a Tensor is a parameter (frozen ones too, whatever requiresGrad says);
//   - a field holding a Module is a child;
//   - fields whose names start with '_' and fields holding anything else are ignored, so a module
//     can keep caches or options (`_cache`, `stride`) without them becoming state;
//   - arrays are not searched: hold lists of layers in a Sequential.
// Names follow field order (integer-like names such as Sequential's "0", "1" come first, ascending,
// as JavaScript orders them); parameters of a module come before its children's ("0.weight").
import { noGrad } from '../autograd/function.ts';
import { keep } from '../tensor/storage.ts';
import { Tensor } from '../tensor/tensor.ts';
import type { Device } from '../tensor/storage.ts';
import { copyInto } from './assign.ts';

export type StateDict = Record<string, Tensor>;

export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

export abstract class Module {
  /** True in training mode (Dropout active); set by train()/eval(). */
  training = true;

  /** The computation. Subclasses override with their own arity (losses take two tensors). */
  abstract forward(...inputs: Tensor[]): Tensor;

  /** Run forward (a class instance cannot be called like torch's `model(x)`). */
  call(...inputs: Tensor[]): Tensor {
    return this.forward(...inputs);
  }

  /** Own fields that are state: [name, Tensor | Module] in field order. */
  private ownState(): [string, Tensor | Module][] {
    const out: [string, Tensor | Module][] = [];
    for (const [k, v] of Object.entries(this)) {
      if (k.startsWith('_')) continue;
      if (v instanceof Tensor || v instanceof Module) out.push([k, v]);
    }
    return out;
  }

  namedChildren(): [string, Module][] {
    return this.ownState().filter((e): e is [string, Module] => e[1] instanceof Module);
  }
  children(): Module[] {
    return this.namedChildren().map((e) => e[1]);
  }

  /** This module ('' name) and every descendant, depth first, each once. */
  namedModules(prefix = '', seen = new Set<Module>()): [string, Module][] {
    if (seen.has(this)) return [];
    seen.add(this);
    const out: [string, Module][] = [[prefix, this]];
    for (const [k, m] of this.namedChildren()) out.push(...m.namedModules(prefix ? `${prefix}.${k}` : k, seen));
    return out;
  }
  modules(): Module[] {
    return this.namedModules().map((e) => e[1]);
  }

  /** Every parameter with its dotted name ("0.weight"); a tensor shared by two layers is listed once. */
  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    for (const [prefix, m] of this.namedModules()) {
      for (const [k, v] of m.ownState()) {
        if (!(v instanceof Tensor) || seen.has(v)) continue;
        seen.add(v);
        out.push([prefix ? `${prefix}.${k}` : k, v]);
      }
    }
    return out;
  }
  parameters(): Tensor[] {
    return this.namedParameters().map((e) => e[1]);
  }

  /** Set training mode here and in every descendant. */
  train(mode = true): this {
    if (typeof mode !== 'boolean') throw new Error(`train: mode must be a boolean, got ${String(mode)}`);
    for (const m of this.modules()) m.training = mode;
    return this;
  }
  eval(): this {
    return this.train(false);
  }

  /** Drop every parameter's gradient (set to null, like torch's set_to_none=True). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  /** name -> detached view of each parameter (shares storage: later updates show through). */
  stateDict(): StateDict {
    const sd: StateDict = {};
    for (const [k, p] of this.namedParameters()) sd[k] = p.check('stateDict').detach();
    return sd;
  }

  /**
   * Copy values from `sd` into the existing parameters in place, so optimizers holding them stay
   * valid. strict (default) rejects missing and unexpected keys, listing them; a shape mismatch
   * names both shapes. Sources may live on the CPU or on the GPU of a GPU model.
   */
  loadStateDict(sd: StateDict, opts: { strict?: boolean } = {}): LoadResult {
    const strict = opts.strict ?? true;
    if (!sd || typeof sd !== 'object') throw new Error(`loadStateDict: expected a name -> Tensor record, got ${String(sd)}`);
    const params = new Map(this.namedParameters());
    const missingKeys = [...params.keys()].filter((k) => !(k in sd));
    const unexpectedKeys = Object.keys(sd).filter((k) => !params.has(k));
    if (strict && (missingKeys.length || unexpectedKeys.length)) {
      const parts = [];
      if (missingKeys.length) parts.push(`missing keys: ${missingKeys.join(', ')}`);
      if (unexpectedKeys.length) parts.push(`unexpected keys: ${unexpectedKeys.join(', ')}`);
      throw new Error(`loadStateDict: state dict does not match the model (${parts.join('; ')})`);
    }
    // validate everything before writing anything, so a bad dict leaves the model untouched
    const pairs: [string, Tensor, Tensor][] = [];
    for (const [k, p] of params) {
      if (!(k in sd)) continue;
      const src = sd[k];
      if (!(src instanceof Tensor)) throw new Error(`loadStateDict: '${k}' must be a Tensor, got ${typeof src}`);
      src.check('loadStateDict');
      if (src.shape.length !== p.shape.length || src.shape.some((d, i) => d !== p.shape[i]))
        throw new Error(`loadStateDict: shape mismatch for '${k}': state dict has [${src.shape}], model has [${p.shape}]`);
      if (src.device === 'gpu' && p.device === 'cpu')
        throw new Error(`loadStateDict: '${k}' is on the GPU but the model is on the CPU; load it with { device: 'cpu' }`);
      pairs.push([k, p, src]);
    }
    noGrad(() => {
      for (const [k, p, src] of pairs) copyInto('loadStateDict', p, src, k);
    });
    return { missingKeys, unexpectedKeys };
  }

  /**
   * Move every parameter to `device`. Parameters are replaced by new tensors (gradients dropped),
   * so build the optimizer after moving the model.
   */
  async to(device: Device): Promise<this> {
    if (device !== 'cpu' && device !== 'gpu') throw new Error(`Module.to: device must be 'cpu' or 'gpu', got ${String(device)}`);
    const moved = new Map<Tensor, Tensor>();
    for (const m of this.modules()) {
      for (const [k, p] of m.ownState()) {
        if (!(p instanceof Tensor) || p.device === device) continue;
        let q = moved.get(p);
        if (!q) {
          q = keep(await p.to(device));
          q.name = p.name;
          moved.set(p, q);
        }
        (m as unknown as Record<string, unknown>)[k] = q;
      }
    }
    for (const p of moved.keys()) p.dispose();
    return this;
  }

  /** One line per module, like torch's repr (indentation shows nesting). */
  toString(): string {
    const kids = this.namedChildren();
    const head = `${this.constructor.name}(${this.extraRepr()}`;
    if (!kids.length) return `${head})`;
    const body = kids.map(([k, m]) => `  (${k}): ${m.toString().split('\n').join('\n  ')}`).join('\n');
    return `${head}\n${body}\n)`;
  }
  /** Arguments shown by toString(). */
  protected extraRepr(): string {
    return '';
  }
}
