// The Tensor: shape, device, dtype, storage, and autograd state. Tensors are always contiguous
// (row-major): reshape/flatten/squeeze share storage (no copy); transpose/permute/expand copy.
// Op methods (add, sum, reshape, backward, ...) are attached by the autograd layer
// (src/autograd/tensor_methods.ts), so this module imports nothing above the tensor layer.
import { runtime } from '../backend/webgpu.ts';
import { isInitialised } from '../backend/device.ts';
import type { GpuStorage } from '../backend/pool.ts';
import type { NumArray } from '../kernels/kernel.ts';
import { contiguousStrides, fmt, numel, type Shape } from './shape.ts';
import { type DType, type Device, type Storage, finalizer, track, keep } from './storage.ts';
import { isGradEnabled } from './grad_mode.ts';
import { disposalNote } from './scope.ts';
import { fromArray } from './launch.ts';

export type { DType, Device } from './storage.ts';

/** A recorded op in the autograd graph (implemented by autograd's Function). */
export interface GraphNode {
  readonly name: string;
  inputs: Tensor[];
  needsGrad: boolean[];
  freed: boolean;
  backward(g: Tensor): (Tensor | null)[];
  checkSaved(): void;
  release(): void;
}

let nextId = 1;

/**
 * An n-dimensional array on the CPU or the GPU, with autograd: shape, dtype and device are fixed;
 * ops return new tensors; GPU memory is freed by dispose(), tidy(), or when the tensor is collected.
 */
export class Tensor {
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly device: Device;
  /** @internal */ _storage: Storage;
  /** @internal the Function node that produced this tensor (null for leaves). */
  _node: GraphNode | null = null;
  /** @internal */ _grad: Tensor | null = null;
  /** @internal bumped by in-place ops; saved tensors check it in backward. */
  _version = 0;
  private _requiresGrad = false;
  private _disposed = false;
  /** Optional name, used in error messages and parameter listings. */
  name?: string;

  /** @internal Use the creation functions (`tensor`, `zeros`, ...) instead. */
  constructor(storage: Storage, shape: Shape, dtype: DType) {
    this._storage = storage;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.device = storage.kind;
    if (storage.kind === 'gpu') finalizer.register(this, storage.gpu, this);
    track(this);
  }

  get strides(): number[] {
    return contiguousStrides(this.shape);
  }
  get ndim(): number {
    return this.shape.length;
  }
  get size(): number {
    return numel(this.shape);
  }
  get isDisposed(): boolean {
    return this._disposed;
  }
  /** True for tensors not produced by a recorded op (parameters, inputs). */
  get isLeaf(): boolean {
    return this._node === null;
  }

  get requiresGrad(): boolean {
    return this._requiresGrad;
  }
  set requiresGrad(v: boolean) {
    if (v && this.dtype === 'int32') throw new Error(`requiresGrad: only float tensors can require gradients, got ${this.dtype}`);
    if (!v && this._node) throw new Error('requiresGrad: cannot turn off gradients of a non-leaf tensor; use detach()');
    this._requiresGrad = v;
  }
  /** Builder form: `wt.randn([3]).requiresGrad_()`. */
  requiresGrad_(v = true): this {
    this.requiresGrad = v;
    return this;
  }

  get grad(): Tensor | null {
    if (!this._requiresGrad)
      throw new Error(`grad: tensor ${this.describe()} does not require grad (set requiresGrad = true before the forward pass)`);
    return this._grad;
  }
  set grad(g: Tensor | null) {
    if (g && !sameShapeArr(g.shape, this.shape))
      throw new Error(`grad: gradient shape ${fmt(g.shape)} does not match tensor shape ${fmt(this.shape)}`);
    if (this._grad && this._grad !== g) this._grad.dispose();
    this._grad = g ? keep(g) : null;
  }
  zeroGrad(): void {
    if (this._grad) this._grad.dispose();
    this._grad = null;
  }

  describe(): string {
    return `${this.name ? `'${this.name}' ` : ''}${fmt(this.shape)} ${this.dtype} on ${this.device}`;
  }

  /** Throws if disposed. */
  check(op: string): this {
    if (this._disposed) throw new Error(`${op}: tensor ${fmt(this.shape)} (id ${this.id}) was disposed${disposalNote(this)}`);
    if (this._storage.kind === 'gpu' && this._storage.gpu.deviceLost)
      throw new Error(
        `${op}: tensor ${fmt(this.shape)} (id ${this.id}) belongs to a GPU device that was lost; its data is gone. ` +
          'Recreate it on the new device after `await wt.init()` (e.g. from a checkpoint or the host data)',
      );
    return this;
  }

  /** @internal */ get gpu(): GpuStorage {
    if (this._storage.kind !== 'gpu') throw new Error('internal: tensor is not on the GPU');
    return this._storage.gpu;
  }
  /** @internal */ get data(): NumArray {
    if (this._storage.kind !== 'cpu') throw new Error('internal: tensor is not on the CPU');
    return this._storage.data;
  }

  /** Frees the storage now (GPU buffers go back to the pool). Idempotent. */
  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    if (this._storage.kind === 'gpu') {
      finalizer.unregister(this);
      this._storage.gpu.release();
    }
    this._node = null;
    if (this._grad) {
      this._grad.dispose();
      this._grad = null;
    }
  }

  /** A new tensor sharing this storage with another shape (no copy, no autograd). */
  _view(shape: Shape): Tensor {
    const st: Storage = this._storage.kind === 'gpu' ? { kind: 'gpu', gpu: this._storage.gpu.retain() } : this._storage;
    return new Tensor(st, shape, this.dtype);
  }

  // ---- host transfer ----
  /** Copy to the host: Float32Array (Float64Array for float64, Int32Array for int32). */
  async toArray(): Promise<NumArray> {
    this.check('toArray');
    if (this._storage.kind === 'cpu') return this._storage.data.slice();
    const bytes = this.size * 4;
    if (bytes === 0) return this.dtype === 'int32' ? new Int32Array(0) : new Float32Array(0);
    const buf = await runtime('toArray').read(this._storage.gpu, bytes);
    return this.dtype === 'int32' ? new Int32Array(buf) : new Float32Array(buf);
  }
  /** Nested JS arrays, like PyTorch's tolist(). */
  async toList(): Promise<unknown> {
    const a = Array.from(await this.toArray());
    const build = (d: number, off: number): unknown => {
      if (d === this.ndim) return a[off];
      const step = numel(this.shape.slice(d + 1));
      return Array.from({ length: this.shape[d] }, (_, i) => build(d + 1, off + i * step));
    };
    return build(0, 0);
  }
  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item: expected a tensor with 1 element, got shape ${fmt(this.shape)}`);
    return (await this.toArray())[0];
  }

  /** A copy on `device` (a new leaf with the same requiresGrad; a view if already there).
   * Async because leaving the GPU needs a readback. float64 becomes float32 on the GPU. */
  async to(device: Device): Promise<Tensor> {
    this.check('to');
    if (device !== 'cpu' && device !== 'gpu') throw new Error(`to: device must be 'cpu' or 'gpu', got ${String(device)}`);
    let out: Tensor;
    if (device === this.device) out = this._view(this.shape);
    else if (device === 'gpu') {
      const src = this.dtype === 'float64' ? Float32Array.from(this.data) : this.data;
      out = fromArray(src, this.shape, this.dtype === 'float64' ? 'float32' : this.dtype, 'gpu');
    } else out = fromArray(await this.toArray(), this.shape, this.dtype, 'cpu');
    if (this.requiresGrad) out.requiresGrad = true;
    return out;
  }

  /** Same storage, cut from the graph. */
  detach(): Tensor {
    this.check('detach');
    return this._view(this.shape);
  }

  // ---- in-place (bump the version so a graph that saved this tensor refuses to backpropagate) ----
  /** Copy `src`'s values into this tensor (same shape and device). */
  copy_(src: Tensor): this {
    this.check('copy_');
    src.check('copy_');
    if (!sameShapeArr(src.shape, this.shape))
      throw new Error(`copy_: source shape ${fmt(src.shape)} does not match destination shape ${fmt(this.shape)}`);
    if (src.device !== this.device)
      throw new Error(`copy_: source is on ${src.device} but destination is on ${this.device}`);
    if ((src.dtype === 'int32') !== (this.dtype === 'int32'))
      throw new Error(`copy_: cannot copy ${src.dtype} into ${this.dtype}`);
    if (this.requiresGrad && this.isLeaf && isGradEnabled())
      throw new Error('copy_: a leaf tensor that requires grad is being modified in place; wrap it in wt.noGrad()');
    if (this._storage.kind === 'cpu') this._storage.data.set(src.data);
    else runtime('copy_').copy(src.gpu, 0, this.gpu, 0, this.size * 4);
    this._version++;
    return this;
  }

  toString(): string {
    return `Tensor(${this.describe()}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }
}

function sameShapeArr(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Whether `x` is a Tensor. */
export function isTensor(x: unknown): x is Tensor {
  return x instanceof Tensor;
}

/** The GPU is the default device once `init()` has run; the CPU before that. */
export function defaultDevice(): Device {
  return isInitialised() ? 'gpu' : 'cpu';
}
