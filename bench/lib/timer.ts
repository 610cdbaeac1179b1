// Timing of recorded GPU work with a real sync.
//
// GPU time comes from timestamp queries where the device has 'timestamp-query': the recorded batch
// is submitted between the begin and end markers of a `wt.profiler` timer bracket (queue order is
// submission order, and the end-of-pass timestamp is written after all earlier work on the queue
// has finished). The work is recorded first, then the begin marker is submitted, then the runtime
// is flushed, then the end marker. Where timestamps are missing (or look wrong) the wall clock
// from flush to `onSubmittedWorkDone` is used instead.
//
// Dawn in Node busy-polls a core while awaiting the queue; on a software adapter that core is
// taken from the rasteriser threads. So there, before awaiting, we sleep for most of the time the
// previous sample took.
import * as wt from 'webgpu-tensor';
import { median, min, sleep } from './stats.ts';

export type GpuTimer = wt.profiler.GpuTimer;

/** Brackets per timer: `measure` falls back to wall clock for more runs than this. */
const PAIRS = 64;

/** A timer on `device` (default webgpu-tensor's), or null where it has no timestamp queries
 * (or WT_BENCH_WALL=1). */
export function benchTimer(device?: GPUDevice): GpuTimer | null {
  if (process.env.WT_BENCH_WALL === '1' || !wt.profiler.timestampsAvailable(device)) return null;
  return wt.profiler.createTimer(PAIRS, { device });
}

let sharedTimer: GpuTimer | null | undefined;

/** The process's timer, or null where the device has no timestamp queries (or WT_BENCH_WALL=1). */
export function gpuTimer(): GpuTimer | null {
  if (sharedTimer === undefined) sharedTimer = benchTimer();
  return sharedTimer;
}

export interface MeasureOptions {
  /** Timed samples. */
  runs: number;
  /** Untimed runs first (pipeline compilation, pool warm-up). Default 1. */
  warmup?: number;
  /** Repeat the work inside one sample until a sample takes at least this long. Default 10 ms. */
  minSampleMs?: number;
  /** At most this many repetitions in one sample. Default 256. */
  maxReps?: number;
  /** Fewer runs when runs x sample time would exceed this. Default 20 s. */
  budgetMs?: number;
  /** Sleep for most of the expected time before awaiting the queue. Default: on a software
   * adapter only (there the polling takes a core from the rasteriser; on a GPU it costs nothing). */
  sleepFirst?: boolean;
  /** Use timestamp queries when available. Default true. */
  timestamps?: boolean;
}

export interface Measurement {
  /** 'timestamp': GPU timestamps; 'wall': wall clock from submit to done. */
  method: 'timestamp' | 'wall';
  /** Work repetitions per sample; every ms below is per repetition. */
  reps: number;
  /** Per-repetition ms of each sample (the method's clock). */
  samples: number[];
  median: number;
  min: number;
  /** Wall clock from submit to done (including the submit), per repetition (median). */
  wallMedian: number;
  /** JavaScript time to record one repetition (median): the dispatch overhead. */
  recordMs: number;
  /** Dispatches one repetition records. */
  dispatches: number;
  /** Why timestamps were not used, when they were not. */
  note?: string;
}

/** What `measure` drives: a runtime that records work, submits it, and waits. */
export interface Target {
  /** Submit recorded work (no wait). */
  flush(): void;
  /** Submit and wait until the queue is idle. */
  sync(): Promise<void>;
  /** Submits so far (to detect work that submits while recording). */
  submits(): number;
  /** Dispatches recorded so far (0 when unknown). */
  dispatches(): number;
  /** Timestamp brackets on this target's queue, or null. */
  timer(): GpuTimer | null;
  /** Dispatches one submit may hold before the target submits by itself (default 2000). */
  maxBatchDispatches?: number;
}

/** webgpu-tensor's runtime. */
export function ownTarget(): Target {
  return {
    flush: () => wt.flush(),
    sync: () => wt.sync(),
    submits: () => wt.profiler.stats().submits,
    dispatches: () => wt.profiler.stats().dispatches,
    timer: () => gpuTimer(),
    maxBatchDispatches: 2000, // the runtime auto-flushes at 2048
  };
}

/** Record + submit + wait for one repetition of `work`, wall clock, ms. */
async function once(tg: Target, work: () => void): Promise<number> {
  work();
  const t0 = performance.now();
  await tg.sync();
  return performance.now() - t0;
}

/**
 * Time `work` (which records GPU work and does not await). Each sample records `reps` repetitions,
 * then submits between timestamp markers and waits. Returns per-repetition times.
 */
export async function measure(work: () => void, o: MeasureOptions, tg: Target = ownTarget()): Promise<Measurement> {
  const warmup = Math.max(1, o.warmup ?? 1);
  const minSampleMs = o.minSampleMs ?? 10;
  const maxReps = Math.max(1, o.maxReps ?? 256);
  const budgetMs = o.budgetMs ?? 20_000;
  const sleepFirst = o.sleepFirst ?? wt.deviceInfo().software;
  const maxBatch = tg.maxBatchDispatches ?? 2000;
  for (let i = 0; i < warmup; i++) await once(tg, work);
  // one calibration run: how long it takes, and how many dispatches/submits it makes
  const d0 = tg.dispatches();
  const s0 = tg.submits();
  const tCal = await once(tg, work);
  const dispatches = tg.dispatches() - d0;
  const selfSubmits = tg.submits() - s0 > 1; // more than our own flush: writes or auto-flush
  let reps = Math.min(maxReps, Math.max(1, Math.ceil(minSampleMs / Math.max(tCal, 1e-3))));
  // stay under the target's auto-submit so one sample is one submit
  if (dispatches > 0) reps = Math.max(1, Math.min(reps, Math.floor(maxBatch / dispatches)));
  if (selfSubmits) reps = 1;
  // per-sample time estimate; the first one includes the submit/sync overhead, so refine it on
  // the repeated work
  let expect = tCal * reps;
  for (let k = 0; k < 2 && reps > 1 && reps < maxReps; k++) {
    const n = reps;
    expect = await once(tg, () => {
      for (let i = 0; i < n; i++) work();
    });
    if (expect >= minSampleMs / 2) break;
    reps = Math.min(maxReps, Math.ceil((reps * minSampleMs) / Math.max(expect, 1e-3)));
    if (dispatches > 0) reps = Math.max(1, Math.min(reps, Math.floor(maxBatch / dispatches)));
    expect *= reps / n;
  }
  const runs = Math.max(2, Math.min(o.runs, Math.floor(budgetMs / Math.max(expect, 1e-3))));

  let timer = o.timestamps === false ? null : tg.timer();
  let note: string | undefined = timer ? undefined : 'no timestamp-query';
  if (timer) timer.reset();
  if (timer && runs > timer.capacity) {
    timer = null;
    note = 'too many runs for the timer';
  }
  if (selfSubmits) note = 'the work submits while recording: its times include recording';
  let escaped = false;
  const wall: number[] = [];
  const rec: number[] = [];
  for (let r = 0; r < runs; r++) {
    const s1 = tg.submits();
    const t0 = performance.now();
    let bracket = -1;
    // work that submits on its own (uploads, > 2048 dispatches) must be inside the bracket
    if (timer && selfSubmits) bracket = timer.begin();
    for (let i = 0; i < reps; i++) work();
    const t1 = performance.now();
    if (timer && bracket < 0) {
      if (tg.submits() !== s1) escaped = true;
      bracket = timer.begin();
    }
    tg.flush();
    if (timer) timer.end(bracket);
    // with timestamps an oversleep costs only wall time, and a poll that starts early takes a core
    if (sleepFirst && expect > 2) await sleep(expect * (timer ? 1.25 : 0.85));
    await tg.sync();
    const t3 = performance.now();
    // wall clock from the first submit (work that submitted while recording: from the start)
    const from = timer && selfSubmits ? t0 : t1;
    wall.push((t3 - from) / reps);
    rec.push((t1 - t0) / reps);
    expect = t3 - t1;
  }
  let samples = wall;
  let method: Measurement['method'] = 'wall';
  if (timer) {
    const ts = (await timer.read()).map((x) => x / reps);
    if (escaped) ts.fill(NaN); // part of the work was submitted before the begin marker
    // a timestamp longer than the wall clock (plus recording) or missing means the clock is unusable
    const ok = ts.every((x, i) => Number.isFinite(x) && x <= wall[i] * 1.1 + 0.05 / reps);
    if (process.env.WT_BENCH_DEBUG)
      console.log(`[timer] reps ${reps} ts ${ts.map((x) => x.toFixed(3))} wall ${wall.map((x) => x.toFixed(3))}`);
    if (ok) {
      samples = ts;
      method = 'timestamp';
    } else note = escaped ? 'work submitted while recording; wall clock used' : 'timestamps unusable; wall clock used';
  }
  return {
    method,
    reps,
    samples,
    median: median(samples),
    min: min(samples),
    wallMedian: median(wall),
    recordMs: median(rec),
    dispatches,
    note,
  };
}
