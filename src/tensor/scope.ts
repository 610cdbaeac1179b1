// Scopes: which tensors a `wt.scope()` / `wt.tidy()` disposes at its end, for synchronous and
// asynchronous code, without any async-context facility (no AsyncLocalStorage: this runs in
// browsers too).
//
// Ownership rules (the TSDoc of `scope` states them for users):
// - Precise: a tensor created while a scope is on the synchronous stack belongs to the innermost
//   one. A scope is on the stack while its function runs synchronously (an async function: until
//   its first await), inside `s.run(fn)`, and for a `using s = wt.scope()` block until the block
//   ends or the first await of the code around it. JavaScript never interleaves synchronous code,
//   so a precise owner is always right.
// - Shared: a tensor created while the stack is empty (code after an await) cannot be attributed:
//   it is registered with every async scope open at that moment (held by WeakRef, so dropping it
//   still lets the garbage collector free it) and disposed when the last of them ends, unless one of
//   them returns it or `keep` is called on it. Interleaved scopes therefore never dispose each
//   other's tensors; memory made after awaits while several scopes overlap is freed when they have
//   all ended.
// - Returned values (tensors also inside arrays and plain objects) that a scope owns move to the
//   scope that opened it (the one innermost on the stack at its start) if still open, else to the
//   context of the moment: the stack's innermost scope, or shared by the open async scopes.
// At every microtask boundary the stack must be empty: a check queued when a `using` scope opens
// detaches any scope still on it (it crossed an await) and turns its tensors into shared ones.

/** What a scope can free (a Tensor). */
export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
}

/** A tensor created after an await: disposed when the `open` scopes holding it have all ended. */
interface Shared {
  ref: WeakRef<Disposable>;
  open: number;
  done: boolean;
}

type ScopeState = 'stack' | 'async' | 'ended';

/** Scopes on the synchronous stack (innermost last). */
const stack: Scope[] = [];
/** Open scopes off the stack: async functions past their first await, detached `using` blocks. */
const detached = new Set<Scope>();
const sharedOf = new WeakMap<Disposable, Shared>();
let checkQueued = false;

/** Compact a scope's lists (drop disposed or collected entries) past this many entries. */
const COMPACT_AT = 4096;

/**
 * A scope: the tensors it owns are disposed by `end()` (or `[Symbol.dispose]`, for `using`),
 * except those in the value passed to `end`. Get one from `wt.scope()`.
 */
export class Scope {
  /** @internal tensors this scope owns precisely. */
  readonly owned = new Set<Disposable>();
  /** @internal shared tensors this scope holds a share of. */
  shared: Shared[] = [];
  /** @internal */ state: ScopeState = 'stack';
  private compactOwnedAt = COMPACT_AT;
  private compactSharedAt = COMPACT_AT;

  /** @internal Use `wt.scope()`. */
  constructor(
    /** @internal the scope innermost on the stack when this one opened. */
    readonly parent: Scope | null,
  ) {}

  /** False once the scope has ended. */
  get isOpen(): boolean {
    return this.state !== 'ended';
  }

  /** Make this scope the owner of every tensor in `v` (a tensor, or arrays / plain objects of them),
   * taking them from any other scope. Returns `v`. */
  track<T>(v: T): T {
    this.check('track');
    for (const t of collect(v)) {
      release(t);
      this.add(t);
    }
    return v;
  }

  /** Run `fn` synchronously with this scope innermost: tensors it creates belong to this scope
   * (for an async `fn`, up to its first await). Does not end the scope. */
  run<R>(fn: () => R): R {
    this.check('run');
    stack.push(this);
    const at = stack.length - 1;
    try {
      return fn();
    } finally {
      // scopes `fn` left open above this one (a `using` block that awaited) stay open, detached
      detachFrom(at + 1, false);
      removeFrom(stack, this);
    }
  }

  /** Hand the tensors in `v` that this scope owns to the enclosing scope, as if returned. Returns `v`. */
  escape<T>(v: T): T {
    this.check('escape');
    const out: Disposable[] = [];
    for (const t of collect(v)) if (this.owns(t)) out.push(t);
    for (const t of out) {
      release(t);
      adopt(t, this.parent, this);
    }
    return v;
  }

  /** End the scope: dispose what it owns except the tensors in `result`, which move to the
   * enclosing scope. Idempotent. */
  end(result?: unknown): void {
    if (this.state === 'ended') return;
    const at = stack.lastIndexOf(this);
    if (at >= 0) {
      // scopes opened inside this one and never ended must not capture the enclosing code's tensors
      detachFrom(at + 1, false);
      stack.splice(at, 1);
    }
    detached.delete(this);
    this.state = 'ended';
    const keepSet = new Set(collect(result));
    const escaped: Disposable[] = [];
    for (const t of this.owned) {
      if (keepSet.has(t)) escaped.push(t);
      else t.dispose();
    }
    this.owned.clear();
    for (const c of this.shared) {
      if (c.done) continue;
      const t = c.ref.deref();
      if (!t || t.isDisposed) {
        c.done = true;
        continue;
      }
      if (keepSet.has(t)) {
        c.done = true;
        sharedOf.delete(t);
        escaped.push(t);
        continue;
      }
      if (--c.open === 0) {
        c.done = true;
        sharedOf.delete(t);
        t.dispose();
      }
    }
    this.shared = [];
    for (const t of escaped) adopt(t, this.parent, this);
  }

  [Symbol.dispose](): void {
    this.end();
  }

  /** @internal */
  add(t: Disposable): void {
    this.owned.add(t);
    if (this.owned.size >= this.compactOwnedAt) {
      for (const x of this.owned) if (x.isDisposed) this.owned.delete(x);
      this.compactOwnedAt = Math.max(COMPACT_AT, 2 * this.owned.size);
    }
  }

  /** @internal */
  addShared(c: Shared): void {
    this.shared.push(c);
    if (this.shared.length >= this.compactSharedAt) {
      this.shared = this.shared.filter((s) => !s.done && !(s.ref.deref()?.isDisposed ?? true));
      this.compactSharedAt = Math.max(COMPACT_AT, 2 * this.shared.length);
    }
  }

  private owns(t: Disposable): boolean {
    if (this.owned.has(t)) return true;
    const c = sharedOf.get(t);
    return c !== undefined && this.shared.includes(c);
  }

  private check(op: string): void {
    if (this.state === 'ended') throw new Error(`scope.${op}: this scope has already ended`);
  }
}

function removeFrom(list: Scope[], s: Scope): void {
  const i = list.lastIndexOf(s);
  if (i >= 0) list.splice(i, 1);
}

/** Register `t` as shared by every open async scope. */
function share(t: Disposable, except?: Scope): void {
  const c: Shared = { ref: new WeakRef(t), open: 0, done: false };
  for (const s of detached) {
    if (s === except) continue;
    s.addShared(c);
    c.open++;
  }
  sharedOf.set(t, c);
}

/** Give `t` (owned by no scope) to `to` if open, else to the current context, leaving `from` out. */
function adopt(t: Disposable, to: Scope | null, from: Scope): void {
  if (to && to.state !== 'ended') return to.add(t);
  for (let i = stack.length - 1; i >= 0; i--) if (stack[i] !== from) return stack[i].add(t);
  if (detached.size > (detached.has(from) ? 1 : 0)) share(t, from);
}

/** Take `t` out of every scope. */
function release(t: Disposable): void {
  for (const s of stack) s.owned.delete(t);
  for (const s of detached) s.owned.delete(t);
  const c = sharedOf.get(t);
  if (c) {
    c.done = true;
    sharedOf.delete(t);
  }
}

/** Detach the scopes on the stack from index `i` up (they stay open, as async scopes). With
 * `shareOwned`, their tensors become shared: at a microtask boundary a scope still on the stack
 * crossed an await, and microtasks queued before it opened may have run while it was innermost, so
 * its own tensors cannot be told apart from theirs. */
function detachFrom(i: number, shareOwned: boolean): void {
  if (i >= stack.length) return;
  const moved = stack.splice(i);
  for (const s of moved) {
    s.state = 'async';
    detached.add(s);
  }
  if (!shareOwned) return;
  for (const s of moved) {
    const ts = [...s.owned];
    s.owned.clear();
    for (const t of ts) if (!t.isDisposed) share(t);
  }
}

function checkStack(): void {
  checkQueued = false;
  detachFrom(0, true);
}

function open(): Scope {
  const s = new Scope(stack.length ? stack[stack.length - 1] : null);
  stack.push(s);
  return s;
}

function collect(v: unknown, out: Disposable[] = []): Disposable[] {
  if (!v || typeof v !== 'object') return out;
  if ('dispose' in v && 'isDisposed' in v) {
    out.push(v as Disposable);
    return out;
  }
  if (Array.isArray(v)) for (const x of v) collect(x, out);
  else if (Object.getPrototypeOf(v) === Object.prototype) for (const x of Object.values(v)) collect(x, out);
  return out;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

/** Register a new tensor with the scope that owns it (see the rules above). */
export function track(t: Disposable): void {
  if (stack.length) stack[stack.length - 1].add(t);
  else if (detached.size) share(t);
}

/** Take a tensor out of every open scope, so no scope end disposes it. Returns it. */
export function keep<T extends Disposable>(t: T): T {
  release(t);
  return t;
}

/**
 * Run `fn` in a new scope and dispose every tensor created inside, except what it returns (tensors,
 * also inside arrays and plain objects, move to the enclosing scope) and what `keep` takes out.
 * `fn` gets the scope `s` (see {@link Scope}). With no argument, opens a scope for
 * `using s = wt.scope()`, which ends with the block.
 *
 * Semantics, also across awaits and with scopes running concurrently:
 * - A tensor created while a scope is *innermost on the synchronous stack* belongs to that scope:
 *   while `fn` runs synchronously (an async `fn` up to its first `await`), inside `s.run(() => ...)`,
 *   and inside a `using` block until the block ends or first awaits. Synchronous code never
 *   interleaves, so this is exact.
 * - A tensor created after an `await` (nothing on the synchronous stack) is shared by every async
 *   scope open at that moment, and disposed when the last of them ends (unless one returns it or it
 *   is kept). With one async scope open this is simply "disposed at its end"; when scopes interleave,
 *   none disposes a tensor another may still use, and all are freed once the overlapping scopes have
 *   ended. Use `s.run` / `s.track(t)` to give a tensor made after an await to `s` alone (freed at
 *   `s`'s end even while other scopes are open), and `wt.keep(t)` for a tensor that outlives every
 *   scope: code outside any scope that creates tensors while an async scope is open should keep them.
 * - A `using` block that awaits becomes an async scope at its first await, and the tensors it
 *   owned become shared (as if made after an await).
 */
export function scope(): Scope;
export function scope<R>(fn: (s: Scope) => R): R;
export function scope<R>(fn?: (s: Scope) => R): R | Scope {
  if (fn === undefined) {
    const s = open();
    if (!checkQueued) {
      checkQueued = true;
      queueMicrotask(checkStack);
    }
    return s;
  }
  const s = open();
  let r: R;
  try {
    r = fn(s);
  } catch (e) {
    s.end();
    throw e;
  }
  if (!isThenable(r)) {
    s.end(r);
    return r;
  }
  // async: off the stack from its first await until its promise settles
  const at = stack.lastIndexOf(s);
  if (at >= 0) {
    detachFrom(at + 1, false);
    stack.splice(at, 1);
  }
  if (s.state === 'stack') {
    s.state = 'async';
    detached.add(s);
  }
  return Promise.resolve(r).then(
    (v) => {
      s.end(v);
      return v;
    },
    (e: unknown) => {
      s.end();
      throw e;
    },
  ) as R;
}

/** `scope(fn)` (TF.js's name): dispose what `fn` creates except what it returns. */
export function tidy<R>(fn: (s: Scope) => R): R {
  if (typeof fn !== 'function') throw new Error(`tidy: expected a function, got ${typeof fn}`);
  return scope(fn);
}
