// Module: the base of every layer. Parameters and submodules are found by scanning the module's own
// fields, so plain assignment registers them (like torch.nn.Module.__setattr__):
//   - a field holding a Tensor is a parameter (frozen ones too, whatever requiresGrad says);
//   - a field holding a Module is a child;
//   - fields whose names start with '_' and fields holding anything else are ignored, so a module
//     can keep caches or options (`_cache`, `stride`) without them becoming state;
//   - arrays are not searched: hold lists of layers in a Sequential;
//   - a field registered with registerBuffer() is a buffer (running statistics, step counters): in
//     stateDict() when persistent and moved by to(), but not a parameter. It is an accessor, so
//     `m.running_mean = t` replaces the buffer (like torch's __setattr__) and only a Tensor or null
//     may be assigned to it.
// Names follow field order (integer-like names such as Sequential's "0", "1" come first, ascending,
// as JavaScript orders them); parameters of a module come before its children's ("0.weight").
// stateDict() lists, module by module (depth first, the root first), its parameters then its
// persistent buffers, as torch's state_dict does.
import { checkOptions } from '../backend/options.ts';
import { noGrad } from '../autograd/function.ts';
import { keep } from '../tensor/storage.ts';
import { Tensor } from '../tensor/tensor.ts';
import type { Device } from '../tensor/storage.ts';
import { copyInto } from './assign.ts';

/** Parameter and persistent buffer names (torch's dotted names) -> tensors. */
export type StateDict = Record<string, Tensor>;

/** Keys {@link Module.loadStateDict} did not find, or did not expect (non-strict loads). */
export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/** Options of {@link Module.registerBuffer}. */
export interface BufferOptions {
  /** In stateDict() and expected by loadStateDict() (default true); a non-persistent buffer is still moved by to(). */
  persistent?: boolean;
}

type Own = [string, Tensor, 'parameter' | 'buffer'] | [string, Module, 'module'];

/**
 * Base class of layers and models, as torch.nn.Module: parameters, buffers and child modules found
 * by field name; stateDict / loadStateDict with torch's names; train / eval; to(device).
 */
export abstract class Module {
  /** True in training mode (Dropout active); set by train()/eval(). */
  training = true;
  /** Registered buffers: name -> current value (null: registered but empty) and persistence. */
  private readonly _buffers = new Map<string, { value: Tensor | null; persistent: boolean }>();

  /** The computation. Subclasses override with their own arity (losses take two tensors). */
  abstract forward(...inputs: Tensor[]): Tensor;

  /** Run forward (a class instance cannot be called like torch's `model(x)`). */
  call(...inputs: Tensor[]): Tensor {
    return this.forward(...inputs);
  }

  /** Own fields that are state, in field order. */
  private ownState(): Own[] {
    const out: Own[] = [];
    for (const [k, v] of Object.entries(this)) {
      if (k.startsWith('_')) continue;
      if (v instanceof Tensor) out.push([k, v, this._buffers.has(k) ? 'buffer' : 'parameter']);
      else if (v instanceof Module) out.push([k, v, 'module']);
    }
    return out;
  }

  /**
   * Add a buffer: state that is not a parameter (never returned by parameters(), so optimizers
   * skip it). Afterwards `this[name]` reads and assigns it. `tensor` may be null (registered, but
   * absent from stateDict() and buffers() until a tensor is assigned). A non-persistent buffer is
   * left out of stateDict() and loadStateDict(). The tensor is kept out of tidy() scopes.
   * `name` must not start with '_', contain '.', or name an existing field or method (a field
   * declared without a value, `running_mean!: Tensor`, is allowed so subclasses can type it).
   */
  registerBuffer(name: string, tensor: Tensor | null, opts: BufferOptions = {}): void {
    checkOptions('registerBuffer', opts, ['persistent']);
    if (typeof name !== 'string') throw new Error(`registerBuffer: name must be a string, got ${typeof name}`);
    if (name === '') throw new Error("registerBuffer: name cannot be empty");
    if (name.includes('.')) throw new Error(`registerBuffer: name cannot contain '.', got '${name}'`);
    if (name.startsWith('_')) throw new Error(`registerBuffer: name cannot start with '_' (such fields are not state), got '${name}'`);
    if (!this._buffers.has(name) && name in this && (this as unknown as Record<string, unknown>)[name] !== undefined)
      throw new Error(`registerBuffer: attribute '${name}' already exists`);
    const persistent = opts.persistent ?? true;
    if (typeof persistent !== 'boolean') throw new Error(`registerBuffer: persistent must be a boolean, got ${String(persistent)}`);
    const slot = { value: checkBuffer(name, tensor), persistent };
    this._buffers.set(name, slot);
    Object.defineProperty(this, name, {
      enumerable: true,
      configurable: true,
      get: () => slot.value,
      set: (t: unknown) => {
        slot.value = checkBuffer(name, t);
      },
    });
  }

  namedChildren(): [string, Module][] {
    const out: [string, Module][] = [];
    for (const [k, v, what] of this.ownState()) if (what === 'module') out.push([k, v as Module]);
    return out;
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

  /** Own tensors of one kind with dotted names, over every module, each tensor once. */
  private namedTensors(kind: 'parameter' | 'buffer'): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    for (const [prefix, m] of this.namedModules()) {
      for (const [k, v, what] of m.ownState()) {
        if (what !== kind || seen.has(v as Tensor)) continue;
        seen.add(v as Tensor);
        out.push([prefix ? `${prefix}.${k}` : k, v as Tensor]);
      }
    }
    return out;
  }

  /** Every parameter with its dotted name ("0.weight"); a tensor shared by two layers is listed once. */
  namedParameters(): [string, Tensor][] {
    return this.namedTensors('parameter');
  }
  parameters(): Tensor[] {
    return this.namedParameters().map((e) => e[1]);
  }

  /** Every buffer (persistent or not, null ones skipped) with its dotted name ("0.running_mean"), each tensor once. */
  namedBuffers(): [string, Tensor][] {
    return this.namedTensors('buffer');
  }
  buffers(): Tensor[] {
    return this.namedBuffers().map((e) => e[1]);
  }

  /** Call `fn` on every descendant (children first, recursively) and then on this module; returns this. */
  apply(fn: (m: Module) => void): this {
    if (typeof fn !== 'function') throw new Error(`apply: fn must be a function, got ${typeof fn}`);
    for (const m of this.children()) m.apply(fn);
    fn(this);
    return this;
  }

  /** The tensors of stateDict(): per module, parameters then persistent buffers; each tensor once. */
  private stateEntries(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    for (const [prefix, m] of this.namedModules()) {
      const own = m.ownState();
      const params = own.filter((e) => e[2] === 'parameter');
      const bufs = own.filter((e) => e[2] === 'buffer' && m._buffers.get(e[0])?.persistent);
      for (const [k, v] of [...params, ...bufs]) {
        if (seen.has(v as Tensor)) continue;
        seen.add(v as Tensor);
        out.push([prefix ? `${prefix}.${k}` : k, v as Tensor]);
      }
    }
    return out;
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

  /**
   * name -> detached view of each parameter and persistent buffer (shares storage: later in-place
   * updates show through; a buffer replaced by assignment does not).
   */
  stateDict(): StateDict {
    const sd: StateDict = {};
    for (const [k, p] of this.stateEntries()) sd[k] = p.check('stateDict').detach();
    return sd;
  }

  /**
   * Copy values from `sd` into the existing parameters and persistent buffers in place, so
   * optimizers holding them stay valid. strict (default) rejects missing and unexpected keys,
   * listing them; a shape mismatch names both shapes, a float/int32 mismatch both dtypes. Nothing
   * is written unless every entry is valid. Sources may live on the CPU or on the GPU of a GPU model.
   */
  loadStateDict(sd: StateDict, opts: { strict?: boolean } = {}): LoadResult {
    checkOptions('loadStateDict', opts, ['strict']);
    const strict = opts.strict ?? true;
    if (!sd || typeof sd !== 'object') throw new Error(`loadStateDict: expected a name -> Tensor record, got ${String(sd)}`);
    const params = new Map(this.stateEntries());
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
      if ((src.dtype === 'int32') !== (p.dtype === 'int32'))
        throw new Error(`loadStateDict: dtype mismatch for '${k}': state dict has ${src.dtype}, model has ${p.dtype}`);
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
   * Move every parameter and buffer to `device`. They are replaced by new tensors (gradients
   * dropped), so build the optimizer after moving the model.
   */
  async to(device: Device): Promise<this> {
    if (device !== 'cpu' && device !== 'gpu') throw new Error(`Module.to: device must be 'cpu' or 'gpu', got ${String(device)}`);
    const moved = new Map<Tensor, Tensor>();
    for (const m of this.modules()) {
      for (const [k, p] of m.ownState()) {
        if (!(p instanceof Tensor) || p.device === device) continue;
        // a buffer is an accessor: the assignment below goes through its setter
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

function checkBuffer(name: string, t: unknown): Tensor | null {
  if (t === null) return null;
  if (!(t instanceof Tensor))
    throw new Error(`buffer '${name}' must be a Tensor or null, got ${t === undefined ? 'undefined' : (t as object)?.constructor?.name ?? typeof t}`);
  return keep(t.check(`buffer '${name}'`));
}
