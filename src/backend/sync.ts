// Explicit synchronisation points for callers (training loops, bench): submit, wait for a submit,
// keep a bounded number of steps in flight. A full sync also tunes kernels first seen since the last
// one (see tuner.ts).
import { isInitialised, throwPendingErrors } from './device.ts';
import { runPendingTuning, tuningPending } from './tuner.ts';
import { runtime } from './webgpu.ts';

/**
 * The completion of one submit, returned by `wt.flush()`: `await` it to wait until the GPU has
 * finished that submit (and the ones before it); rejects with an asynchronous GPU error, as `sync()`
 * throws. Nothing is asked of the GPU until it is awaited (Dawn polls while a completion promise is
 * pending), so a flush that is not awaited costs nothing. Awaited after later submits, it may wait
 * for those too (never less than its own).
 */
export class SubmitFence implements PromiseLike<void> {
  private promise: Promise<void> | null = null;
  /** @internal Use `wt.flush()`. */
  constructor(
    /** @internal the submit index (0: nothing was ever submitted) */
    readonly index: number,
  ) {}

  private wait(): Promise<void> {
    this.promise ??= (async () => {
      if (!isInitialised() || this.index === 0) return;
      await runtime('flush').waitThrough(this.index);
      throwPendingErrors();
    })();
    return this.promise;
  }

  then<A = void, B = never>(ok?: ((v: void) => A | PromiseLike<A>) | null, err?: ((e: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.wait().then(ok, err);
  }

  catch<B = never>(err?: ((e: unknown) => B | PromiseLike<B>) | null): Promise<void | B> {
    return this.wait().catch(err);
  }

  finally(f?: (() => void) | null): Promise<void> {
    return this.wait().finally(f);
  }
}

/** Submit recorded GPU work now. Returns without waiting; `await wt.flush()` waits until the GPU has
 * finished this submit (see `SubmitFence`). */
export function flush(): SubmitFence {
  if (!isInitialised()) return new SubmitFence(0);
  const rt = runtime('flush');
  rt.flush();
  return new SubmitFence(rt.lastSubmit);
}

/** Options of `sync`. */
export interface SyncOptions {
  /**
   * Return once at most this many of the steps submitted by `sync({ inFlight })` calls are still
   * running on the GPU, the one submitted by this call included (default: 0, wait for everything).
   * With 1, a training loop records step k+1 while the GPU runs step k:
   *
   * ```ts
   * for (const b of loader.epoch(e)) {
   *   wt.tidy(() => { ...forward, backward, step... });
   *   await wt.sync({ inFlight: 1 });
   * }
   * await wt.sync();
   * ```
   *
   * With 1 the earlier step is waited for before this one is submitted, so the wait covers exactly
   * the earlier step; on a software adapter it first sleeps through most of its expected time
   * instead of polling. When kernels first seen since the last sync wait to be tuned, this call
   * waits for everything and tunes them first (once per shape class).
   */
  inFlight?: number;
}

/** Submit and wait until the GPU is idle (or, with `inFlight`, until few enough steps run);
 * rethrows asynchronous GPU errors. A full sync then tunes the kernels first seen since the last one. */
export async function sync(o: SyncOptions = {}): Promise<void> {
  const n = o.inFlight ?? 0;
  if (!Number.isInteger(n) || n < 0) throw new Error(`sync: inFlight must be an integer >= 0, got ${String(o.inFlight)}`);
  if (!isInitialised()) return;
  const rt = runtime('sync');
  if (n === 0 || tuningPending()) {
    await rt.sync();
    await runPendingTuning();
    return;
  }
  await rt.syncInFlight(n);
}
