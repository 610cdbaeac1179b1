// How the autotuner times one candidate: GPU timestamps around the submit of the recorded work
// where the device has 'timestamp-query', else the wall clock from submit to completion. The work
// runs once untimed first (pipeline compilation), is repeated inside a sample until the sample lasts
// MIN_SAMPLE_MS, and the fastest sample is the candidate's time: what delays a sample (other
// processes, a CPU adapter's threads descheduled) only ever adds time, so the minimum is the least
// disturbed estimate. On the loaded dev machine (lavapipe), the median of a few samples picked the
// slower max-pool forward kernel in 2 of 3 runs; the fastest sample, with the tuner's second round in
// reverse order, picked the faster one (as longer runs rank them) in 3 of 3.
import { deviceInfo } from './device.ts';
import { createTimer, timestampsAvailable, type GpuTimer } from './profiler.ts';
import { runtime } from './webgpu.ts';

/** What the clock is timing (a fake clock in tests answers by candidate). */
export interface TimingContext {
  family: string;
  shapeClass: string;
  candidate: string;
  /** When one run alone already takes longer than this (and than MIN_SAMPLE_MS), the candidate is
   * not sampled further and that run is its time: a clear loser costs two runs, not a full
   * measurement (the tuner passes a multiple of the fastest candidate so far). */
  cutoffMs?: number;
}

/** The result of timing one candidate. */
export interface Timing {
  /** ms per run (the fastest sample). */
  ms: number;
  /** Wall ms the measurement took (counted against the family's tuning budget). */
  costMs: number;
}

/** Times candidates; swap in a fake with `tuning.configure({ clock })` (tests). */
export interface TuningClock {
  /** Time `run` (records one run of the work, no awaits), spending about `limitMs` at most on it. */
  measure(run: () => void, limitMs: number, ctx: TimingContext): Promise<Timing>;
}

/** Samples per candidate (fewer when its time limit is reached first; at least MIN_SAMPLES). */
export const SAMPLES = 5;
export const MIN_SAMPLES = 3;
/** A sample repeats the work until it lasts this long: GPU timestamps are quantised (to 2^16 ns,
 * ~0.07 ms, by default in Dawn) and a submit costs tens of microseconds, both small against 2 ms. */
export const MIN_SAMPLE_MS = 2;
/** Most repetitions of the work in one sample (and one submit). */
const MAX_REPS = 256;
/** Most dispatches in one sample: below the runtime's automatic submit (2048), so a sample is one submit. */
const MAX_SAMPLE_DISPATCHES = 2000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The clock of the real device: timestamps where offered, else wall clock with a sync. */
export function gpuTuningClock(): TuningClock {
  let timer: GpuTimer | null | undefined;
  return {
    async measure(run, limitMs, ctx) {
      const rt = runtime('tuning');
      const t0 = performance.now();
      const software = deviceInfo().software;
      // untimed: compiles the candidate's pipelines
      run();
      await rt.sync();
      if (timer === undefined) timer = timestampsAvailable() ? createTimer(SAMPLES) : null;
      // one run timed alone sizes the samples (GPU time where timestamps tell it: the wall clock
      // of a short run is mostly submit and wake-up)
      timer?.reset();
      const d0 = rt.stats.dispatches;
      run();
      const perRun = Math.max(1, rt.stats.dispatches - d0);
      const b0 = timer ? timer.begin() : -1;
      const t1 = performance.now();
      rt.flush();
      if (timer) timer.end(b0);
      await rt.sync();
      let once = performance.now() - t1;
      if (timer) {
        const [g] = await timer.read();
        if (g > 0 && g <= once) once = g;
        timer.reset();
      }
      if (ctx.cutoffMs !== undefined && once > Math.max(ctx.cutoffMs, MIN_SAMPLE_MS)) return { ms: once, costMs: performance.now() - t0 };
      // stay within one submit (the runtime submits by itself past AUTO_FLUSH dispatches)
      const reps = Math.max(1, Math.min(MAX_REPS, Math.floor(MAX_SAMPLE_DISPATCHES / perRun), Math.ceil(MIN_SAMPLE_MS / Math.max(once, 1e-3))));
      const wall: number[] = [];
      let escaped = false;
      let expect = once * reps;
      // the limit counts from here: compiling a pipeline is paid once, whatever the samples
      const ts0 = performance.now();
      for (let s = 0; s < SAMPLES; s++) {
        if (s >= MIN_SAMPLES && performance.now() - ts0 > limitMs) break;
        const before = rt.stats.submits;
        for (let i = 0; i < reps; i++) run();
        if (rt.stats.submits !== before) escaped = true; // the work submitted by itself: wall clock
        const b = timer ? timer.begin() : -1;
        const ts = performance.now();
        rt.flush();
        if (timer) timer.end(b);
        // Dawn polls a core while awaiting; on a software adapter that core is the rasteriser's
        if (software && expect > 2) await sleep(expect * 0.85);
        await rt.sync();
        const w = performance.now() - ts;
        wall.push(w / reps);
        expect = w;
      }
      let samples = wall;
      if (timer && !escaped) {
        const ts = (await timer.read()).map((x) => x / reps);
        // a timestamp missing or longer than the wall clock means the clock is unusable here
        if (ts.length === wall.length && ts.every((x, i) => Number.isFinite(x) && x <= wall[i] * 1.1 + 0.05)) samples = ts;
      }
      return { ms: Math.min(...samples), costMs: performance.now() - t0 };
    },
  };
}
