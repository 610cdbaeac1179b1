// Where a tensor's numbers live, the scopes that free them (tidy/keep), and the finalizer that
// reclaims tensors dropped without dispose().
import type { GpuStorage } from '../backend/pool.ts';
import type { NumArray } from '../kernels/kernel.ts';

/** Where a tensor's numbers live. */
export type Device = 'cpu' | 'gpu';
/** float64 exists on the CPU backend only (gradient checks). int32 holds labels and indices. */
export type DType = 'float32' | 'float64' | 'int32';

export type Storage = { kind: 'gpu'; gpu: GpuStorage } | { kind: 'cpu'; data: NumArray };

/** Releases a GPU storage when a tensor that still held it is garbage-collected. */
export const finalizer = new FinalizationRegistry<GpuStorage>((s) => s.release());

export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
}

const scopes: Set<Disposable>[] = [];

/** Register a new tensor with the innermost tidy() scope. */
export function track(t: Disposable): void {
  if (scopes.length) scopes[scopes.length - 1].add(t);
}

/** Remove a tensor from every open scope so tidy() will not free it. Returns it. */
export function keep<T extends Disposable>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

function collect(v: unknown, out: Set<Disposable>): void {
  if (!v || typeof v !== 'object') return;
  if ('dispose' in v && 'isDisposed' in v) {
    out.add(v as Disposable);
    return;
  }
  if (Array.isArray(v)) for (const x of v) collect(x, out);
  else if (Object.getPrototypeOf(v) === Object.prototype) for (const x of Object.values(v)) collect(x, out);
}

function endScope(scope: Set<Disposable>, result: unknown): void {
  const idx = scopes.lastIndexOf(scope);
  if (idx >= 0) scopes.splice(idx, 1);
  const keepSet = new Set<Disposable>();
  collect(result, keepSet);
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (keepSet.has(t)) {
      parent?.add(t);
      continue;
    }
    t.dispose();
  }
}

/**
 * Run `fn`; every tensor created inside and not returned (or kept with `keep`) is disposed at the
 * end. Returned tensors (also inside arrays / plain objects) move to the enclosing scope.
 * An async `fn` ends its scope when its promise settles; do not interleave two async tidy()s.
 */
export function tidy<R>(fn: () => R): R {
  const scope = new Set<Disposable>();
  scopes.push(scope);
  let r: R;
  try {
    r = fn();
  } catch (e) {
    endScope(scope, undefined);
    throw e;
  }
  if (r instanceof Promise) {
    return r.then(
      (v) => {
        endScope(scope, v);
        return v;
      },
      (e) => {
        endScope(scope, undefined);
        throw e;
      },
    ) as R;
  }
  endScope(scope, r);
  return r;
}
