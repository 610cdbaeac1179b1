/// <reference lib="esnext.disposable" preserve="true" />
// Scopes: which tensors a `wt.scope()` / `wt.tidy()` disposes at its end, for synchronous and
// asynchronous code, without any async-context facility (no AsyncLocalStorage: this runs in
// browsers too).
//
// Ownership (the TSDoc of `scope` states it for users):
// - Exact: a tensor created while a scope is innermost on the synchronous stack belongs to it. A
//   scope is on the stack while its function runs synchronously (an async function: until its first
//   await returns control to `scope`), inside `s.run(fn)`, and for a `using s = wt.scope()` block
//   until the block ends. JavaScript never interleaves synchronous code, so this owner is right.
// - Shared: a tensor created while the stack is empty (code after an await) cannot be attributed:
//   it is registered with every async scope open at that moment (held by WeakRef, so dropping it
//   still lets the garbage collector free it) and disposed when the last of them ends, unless one of
//   them returns it or `keep` is called on it.
// - Returned values (tensors also inside arrays and plain objects) that a scope owns or shares move
//   to the scope that was innermost when it opened, if still open, else to the context of the moment
//   (the innermost scope on the stack, or shared by the open async scopes).
// - Scopes left on the stack by code that returned to an enclosing scope or reached a microtask
//   boundary (a `using` block in an async function that awaited) are detached: they stay open as
//   async scopes, and their tensors become shared with every scope whose code may have run while they
//   were innermost (the enclosing one, and at a microtask boundary all open async scopes).

/** What a scope can free (a Tensor). */
export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
}

/** A shared tensor: disposed when the `open` scopes holding it have all ended. */
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
/** Tensors disposed as shared, for the error a later use of one throws. */
const disposedShared = new WeakSet<Disposable>();
let checkQueued = false;

/** Compact a scope's lists (drop disposed or collected entries) past this many entries. */
const COMPACT_AT = 4096;

/**
 * A scope: the tensors it owns are disposed by `end()` (or `[Symbol.dispose]`, for `using`),
 * except those in the value passed to `end`. Get one from `wt.scope()`.
 */
export class Scope {
  /** @internal tensors this scope owns alone. */
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

  /** Make this scope the only owner of every tensor in `v` (a tensor, or arrays / plain objects of
   * them), taking them from any other scope. Returns `v`. */
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
      detachFrom(at + 1, [this]);
      removeFrom(stack, this);
    }
  }

  /** Hand the tensors in `v` that this scope owns or shares to the enclosing scope, as if returned.
   * Returns `v`. */
  escape<T>(v: T): T {
    this.check('escape');
    const out = collect(v).filter((t) => this.holds(t));
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
    const keepSet = new Set(collect(result));
    const escaped: Disposable[] = [];
    const at = stack.lastIndexOf(this);
    if (at >= 0) {
      // scopes opened inside this one and still on the stack: a returned tensor they hold leaves
      // them; the rest of theirs may be this scope's code's too, so it waits for them (shared)
      const inner = stack.slice(at + 1);
      for (const t of keepSet) {
        if (inner.some((s) => s.holds(t))) {
          release(t);
          escaped.push(t);
        }
      }
      detachFrom(at + 1, []);
      stack.splice(at, 1);
    }
    detached.delete(this);
    this.state = 'ended';
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
      } else if (--c.open === 0) {
        c.done = true;
        sharedOf.delete(t);
        disposedShared.add(t);
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

  /** @internal owns `t` alone or holds a share of it. */
  holds(t: Disposable): boolean {
    if (this.owned.has(t)) return true;
    const c = sharedOf.get(t);
    return c !== undefined && !c.done && this.shared.includes(c);
  }

  private check(op: string): void {
    if (this.state === 'ended') throw new Error(`scope.${op}: this scope has already ended`);
  }
}

function removeFrom(list: Scope[], s: Scope): void {
  const i = list.lastIndexOf(s);
  if (i >= 0) list.splice(i, 1);
}

/** Register `t` as shared by the open scopes among `holders`; no holder: it is left to its user. */
function share(t: Disposable, holders: Iterable<Scope>): void {
  const c: Shared = { ref: new WeakRef(t), open: 0, done: false };
  for (const s of holders) {
    if (s.state === 'ended') continue;
    s.addShared(c);
    c.open++;
  }
  if (c.open) sharedOf.set(t, c);
}

/** Give `t` (held by no scope) to `to` if open, else to the current context, leaving `from` out. */
function adopt(t: Disposable, to: Scope | null, from: Scope): void {
  if (to && to.state !== 'ended') return to.add(t);
  for (let i = stack.length - 1; i >= 0; i--) if (stack[i] !== from) return stack[i].add(t);
  share(t, [...detached].filter((s) => s !== from));
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

/** Detach the scopes on the stack from index `i` up: they stay open as async scopes, and the
 * tensors they own become shared by them and `others` (whose code may have made some of them). */
function detachFrom(i: number, others: readonly Scope[]): void {
  if (i >= stack.length) return;
  const moved = stack.splice(i);
  for (const s of moved) {
    s.state = 'async';
    detached.add(s);
  }
  const holders = [...new Set([...moved, ...others])];
  for (const s of moved) {
    const ts = [...s.owned];
    s.owned.clear();
    for (const t of ts) if (!t.isDisposed) share(t, holders);
  }
}

/** At a microtask boundary the stack must be empty: a scope still on it crossed an await, and
 * microtasks of other tasks may have run while it was innermost. */
function checkStack(): void {
  checkQueued = false;
  detachFrom(0, [...detached]);
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
  else if (detached.size) share(t, detached);
}

/** Take a tensor out of every open scope, so no scope end disposes it. Returns it. */
export function keep<T extends Disposable>(t: T): T {
  release(t);
  return t;
}

/** For the error a disposed tensor's use throws: why a scope disposed it, when that may surprise. */
export function disposalNote(t: Disposable): string {
  return disposedShared.has(t)
    ? ' (it was made after an await while an async wt.scope was open, and that scope has ended; ' +
        'make it inside a scope that returns it, or wt.keep it)'
    : '';
}

/**
 * Run `fn` in a new scope and dispose every tensor created inside, except what it returns (tensors,
 * also inside arrays and plain objects, move to the enclosing scope) and what `wt.keep` takes out.
 * `fn` gets the scope `s` (see {@link Scope}). With no argument, opens a scope for
 * `using s = wt.scope()` (or a later `s.end()`), which ends with the block.
 *
 * Which scope owns a tensor, also across awaits and with scopes running concurrently:
 * - A tensor created while a scope is *innermost on the synchronous stack* belongs to that scope:
 *   while `fn` runs synchronously (an async `fn` up to its first `await`), inside `s.run(() => ...)`,
 *   and inside a `using` block. Synchronous code never interleaves, so this is exact.
 * - A tensor created after an `await` (nothing on the synchronous stack) is shared by every async
 *   scope open at that moment, and disposed when the last of them ends (unless one returns it or it
 *   is kept). With one async scope open that is simply "disposed at its end"; when scopes interleave,
 *   none disposes a tensor another may still use, and all are freed once the overlapping scopes have
 *   ended. `s.run(() => ...)` or `s.track(t)` give a tensor made after an await to `s` alone (freed
 *   at `s`'s end even while other scopes are open).
 * - Code outside every scope that creates tensors while an async scope is open (after an await, or
 *   while an un-awaited scope's promise is pending) shares them with that scope: `wt.keep` the ones
 *   it needs past that scope's end.
 * - A `using` block that awaits becomes an async scope at its first await; what it owned so far
 *   becomes shared with the scopes whose code may have run meanwhile.
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
  if (s.state === 'stack') {
    const at = stack.lastIndexOf(s);
    if (at >= 0) {
      detachFrom(at + 1, [s]);
      stack.splice(at, 1);
    }
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
