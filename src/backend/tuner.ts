// Kernel autotuning. A kernel family (the GEMM design of a matmul, the small-map im2col path of a
// convolution, the max-pool forward kernel, ...) offers a list of candidates per shape, the built-in
// default first. The op layer asks `choose(family, shape)` while recording: it gets the pick for the
// shape's class when one is known, else the default, and an unknown class is queued. The queue is
// tuned at the next `await wt.sync()` (or `wt.tuning.run()`): the GPU is idle then, and each
// candidate of each queued class is timed on the class's first shape (`TuningClock`). The fastest
// becomes the pick unless the default is within TIE_MARGIN of it. Each family spends at most its
// budget per process. A class whose candidates were not all timed keeps the default; with 'persist'
// its timings are saved and a later process times the rest (untimed candidates first), so a slow
// adapter completes its classes over a few runs and never runs a pick from an incomplete comparison.
//
// Picks are kept per adapter: in memory, and with autotune 'persist' in the `TuningStore` given to
// init() (the Node entry's writes ~/.cache/webgpu-tensor/<adapter-id>.json), read back at the
// next start. Default mode: 'persist' on hardware adapters, 'off' on software ones (see
// `resolveMode`).
import { deviceInfo, initTuningOptions, isInitialised, type DeviceInfo } from './device.ts';
import { gpuTuningClock, type TuningClock } from './tuning_clock.ts';
import { type AutotuneMode, type SavedPick, type TuningFile, type TuningStore, TUNING_FORMAT, parseTuningFile } from './tuning_store.ts';
import { runtime } from './webgpu.ts';

export type { AutotuneMode, TuningStore } from './tuning_store.ts';
export { memoryTuningStore } from './tuning_store.ts';
export type { TuningClock, Timing, TimingContext } from './tuning_clock.ts';

/** One way to run a family's work, by name (the name is what is saved). */
export interface Candidate<C> {
  name: string;
  value: C;
}

/** The work of one shape, set up once and run under each candidate in turn. */
export interface TuningTrial {
  /** Record one run of the work with the candidate being timed (no awaits). */
  run(): void;
  /** Free what the trial allocated. */
  dispose(): void;
}

/** A candidate's output next to its CPU twin's (parity check). */
export interface ParityTrial {
  /** The GPU output under the candidate being checked, and the CPU twin's output. */
  outputs(): Promise<{ got: ArrayLike<number>; want: ArrayLike<number> }>;
  dispose(): void;
}

/** A kernel family the tuner can pick for. */
export interface TuningFamily<S, C> {
  /** Saved with the picks, e.g. 'gemm'. */
  readonly name: string;
  /** The class of a shape: shapes of one class share a pick (bucket the sizes so tuning is rare). */
  shapeClass(shape: S): string;
  /** Readable shape, for reports. */
  describe(shape: S): string;
  /** What can run this shape on this adapter, the built-in default first. Fewer than two: nothing to tune. */
  candidates(shape: S): Candidate<C>[];
  /** Set up the work of `shape` for timing; null when this family has no trial (nothing is tuned). */
  trial?: (shape: S) => TuningTrial;
  /** Set up a parity check of `shape` (GPU output vs CPU twin), for `tuning.checkParity`. */
  parity?: (shape: S) => ParityTrial;
  /** Shapes to tune or check without a model (bench:gpu): quick = small ones. */
  samples?: (quick: boolean) => S[];
}

/** How a row of the report came to its pick. */
export type PickSource = 'tuned' | 'cache' | 'default';

/** A row of `tuning.report()`. */
export interface TuningRow {
  family: string;
  shapeClass: string;
  /** The shape timed (the first of its class seen). */
  shape: string;
  /** The candidate in use for this class. */
  picked: string;
  /** The built-in default. */
  default: string;
  /** ms per run of each candidate timed, the fastest of its samples (NaN: it failed; absent: not timed). */
  ms: Record<string, number>;
  /** 'tuned' in this process, 'cache' read from the store, 'default' not tuned (see `note`). */
  source: PickSource;
  note?: string;
}

/** Options of `tuning.configure`. */
export interface TuningConfig {
  /** Autotuning mode (default: as given to init(), else 'persist' on hardware adapters and 'off' on software ones). */
  mode?: AutotuneMode;
  /** Where 'persist' keeps its picks (default: as given to init(); none: in memory only). */
  store?: TuningStore | null;
  /** Wall ms each family may spend tuning per process (default FAMILY_BUDGET_MS). */
  budgetMs?: number;
  /** Times candidates (default: the GPU's; tests pass a fake). */
  clock?: TuningClock;
  /** The one-line message when tuning starts (default console.log). */
  log?: (line: string) => void;
  /** Warnings (an unreadable cache file; default console.warn). */
  warn?: (line: string) => void;
  /** The adapter id picks are saved under (default: from the adapter's description). */
  adapterId?: string;
}

/** Wall ms one family may spend tuning per process: a few seconds, so a first run on a new adapter
 * is not held up long; classes past it keep the default and are tuned in a later process. */
export const FAMILY_BUDGET_MS = 3000;
/** Most wall ms one measurement of a candidate takes (its samples stop there; a few are always taken). */
export const CANDIDATE_MAX_MS = 600;
/** Candidates timed again in the second round (besides the default): the fastest of the first. */
export const ROUND2 = 3;
/** A candidate replaces the built-in default only when its time is at least this much lower: the
 * times of the same kernel move by a few percent between runs (GPU timestamps ~1-2%, lavapipe on
 * the loaded dev machine ~5%), so a smaller gap would flip picks between runs for nothing. */
export const TIE_MARGIN = 0.05;
/** In the first round a candidate whose one sizing run takes longer than CUTOFF x the fastest time
 * so far is not sampled further (GEMM variants for hardware GPUs run 2-10x slower than the lanes
 * kernels on lavapipe, at ~100 ms a run): one run only ever overestimates, so it cannot lose a
 * winner that is within the factor. */
export const CUTOFF = 2;

interface Entry {
  pick: string;
  default: string;
  /** Not every candidate was timed (budget): `pick` is the default; the rest are timed later. */
  partial?: boolean;
  ms: Record<string, number>;
  shape: string;
  source: PickSource;
  note?: string;
}

interface Pending {
  family: TuningFamily<unknown, unknown>;
  cls: string;
  shape: unknown;
}

/** A short file-name-safe id of the adapter: its names, and a hash of them and its limits. */
export function adapterId(info: DeviceInfo): string {
  const name = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join('-');
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'adapter';
  const full = `${name}|${JSON.stringify(info.limits)}|${info.features.join(',')}|${info.subgroupMinSize}-${info.subgroupMaxSize}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < full.length; i++) h = Math.imul(h ^ full.charCodeAt(i), 0x01000193) >>> 0;
  return `${slug}-${h.toString(16).padStart(8, '0')}`;
}

/** The mode when none is given: 'persist' on hardware adapters, whose built-in choices were not
 * timed on them (no GPU on the dev machine), so a few seconds once per adapter can pay back in
 * every later run; 'off' on software adapters (lavapipe), where the built-in choices are the
 * measured ones, timing costs CPU seconds and noisy samples could only match them. Tests and CI pass
 * 'off' or 'memory' explicitly, so they never depend on a cache file. */
export function resolveMode(mode: AutotuneMode | undefined, software: boolean): AutotuneMode {
  return mode ?? (software ? 'off' : 'persist');
}

/** The tuner of one device (the process has one: `tuner()`). */
export class Tuner {
  readonly mode: AutotuneMode;
  readonly store: TuningStore | null;
  readonly id: string;
  readonly adapter: string;
  private readonly budgetMs: number;
  private readonly clock: TuningClock;
  private readonly log: (line: string) => void;
  private readonly warn: (line: string) => void;
  private readonly table = new Map<string, Map<string, Entry>>();
  private readonly pending = new Map<string, Pending>();
  private readonly spent = new Map<string, number>();
  private readonly excluded = new Map<string, Map<string, string>>();
  /** Incomplete classes read from the store and queued once in this process. */
  private readonly resumed = new Set<string>();
  /** The candidate being timed or checked: `choose` answers it for its family. */
  private forced: { family: string; name: string } | null = null;
  private announced = false;
  private busy: Promise<void> | null = null;

  constructor(o: TuningConfig & { mode: AutotuneMode; adapterId: string; adapter: string }) {
    this.mode = o.mode;
    this.store = o.mode === 'persist' ? (o.store ?? null) : null;
    this.id = o.adapterId;
    this.adapter = o.adapter;
    this.budgetMs = o.budgetMs ?? FAMILY_BUDGET_MS;
    this.clock = o.clock ?? gpuTuningClock();
    this.log = o.log ?? ((l) => console.log(l));
    this.warn = o.warn ?? ((l) => console.warn(l));
    if (this.store) this.load(this.store);
  }

  private load(store: TuningStore): void {
    let text: string | null;
    try {
      text = store.read(this.id);
    } catch (e) {
      this.warn(`webgpu-tensor: could not read the autotuning cache ${store.describe(this.id)} (${(e as Error).message}); tuning again`);
      return;
    }
    if (text === null) return;
    let f: TuningFile;
    try {
      f = parseTuningFile(text);
    } catch (e) {
      this.warn(`webgpu-tensor: ignoring the autotuning cache ${store.describe(this.id)}: ${(e as Error).message}; it is rewritten after the next tuning`);
      return;
    }
    for (const [fam, classes] of Object.entries(f.picks)) {
      const m = this.classes(fam);
      for (const [cls, p] of Object.entries(classes)) {
        const ms: Record<string, number> = {};
        for (const [k, v] of Object.entries(p.ms)) ms[k] = v ?? NaN;
        m.set(cls, p.partial ? { pick: p.default, default: p.default, ms, shape: p.shape, source: 'cache', partial: true } : { pick: p.pick, default: p.default, ms, shape: p.shape, source: 'cache' });
      }
    }
  }

  private classes(family: string): Map<string, Entry> {
    let m = this.table.get(family);
    if (!m) this.table.set(family, (m = new Map()));
    return m;
  }

  /** The candidate value to run `shape` with (see the file comment). */
  choose<S, C>(family: TuningFamily<S, C>, shape: S): C {
    const cands = family.candidates(shape);
    if (!cands.length) throw new Error(`tuning: family ${family.name} offers no candidate for ${family.describe(shape)}`);
    if (this.forced) {
      if (this.forced.family === family.name) {
        const c = cands.find((c) => c.name === this.forced!.name);
        if (c) return c.value;
      }
      // other families inside a trial: what is known, nothing queued
      const e = this.table.get(family.name)?.get(family.shapeClass(shape));
      return (e && cands.find((c) => c.name === e.pick)?.value) ?? cands[0].value;
    }
    if (this.mode === 'off' || cands.length < 2) return cands[0].value;
    const cls = family.shapeClass(shape);
    const e = this.table.get(family.name)?.get(cls);
    const key = `${family.name}\u0000${cls}`;
    if (e?.partial) {
      // an incomplete class from an earlier process: the default, and the rest timed at the next sync
      if (e.source === 'cache' && !this.resumed.has(key) && family.trial) {
        this.resumed.add(key);
        this.pending.set(key, { family: family as TuningFamily<unknown, unknown>, cls, shape: structuredClone(shape) });
      }
      return cands[0].value;
    }
    if (e) {
      const c = cands.find((c) => c.name === e.pick);
      if (c) return c.value;
      // a saved pick this version no longer offers (or an excluded one): tuned again
      if (e.source === 'cache') this.table.get(family.name)!.delete(cls);
      else return cands[0].value;
    }
    if (!this.pending.has(key) && family.trial) this.pending.set(key, { family: family as TuningFamily<unknown, unknown>, cls, shape: structuredClone(shape) });
    return cands[0].value;
  }

  /** Classes waiting to be tuned. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** A tuning pass is under way. */
  get tuning(): boolean {
    return this.busy !== null;
  }

  /** Tune the queued classes (the GPU must be idle: `wt.sync()` calls this after its wait). */
  run(): Promise<void> {
    if (!this.pending.size) return this.busy ?? Promise.resolve();
    this.busy ??= this.tunePending().finally(() => (this.busy = null));
    return this.busy;
  }

  private async tunePending(): Promise<void> {
    let tuned = 0;
    while (this.pending.size) {
      const [key, p] = this.pending.entries().next().value as [string, Pending];
      this.pending.delete(key);
      const known = this.table.get(p.family.name)?.get(p.cls);
      if (known && !known.partial) continue;
      if ((this.spent.get(p.family.name) ?? 0) >= this.budgetMs) {
        if (known) continue; // stays incomplete (and saved) for a later process
        const dflt = p.family.candidates(p.shape)[0].name;
        this.classes(p.family.name).set(p.cls, {
          pick: dflt, default: dflt, ms: {}, shape: p.family.describe(p.shape), source: 'default',
          note: `${p.family.name}'s tuning budget (${this.budgetMs} ms) is spent for this process`,
        });
        continue;
      }
      if (!this.announced) {
        this.announced = true;
        const where = this.mode === 'persist' ? (this.store ? `saved to ${this.store.describe(this.id)}` : 'kept in memory (no store given)') : 'kept in memory';
        this.log(
          `webgpu-tensor: autotuning kernels for ${this.adapter} on first use of each shape class ` +
            `(at most ${(this.budgetMs / 1000).toFixed(1)} s per kernel family; ${where}; wt.tuning.report() lists the picks)`,
        );
      }
      if (await this.tuneClass(p.family, p.cls, p.shape, known?.ms ?? {})) tuned++;
    }
    if (tuned && this.store) this.save(this.store);
  }

  /** Time the candidates of one class (those `prev`, from an earlier process, lacks) and record the
   * pick; true when something was timed (worth saving). */
  private async tuneClass<S, C>(family: TuningFamily<S, C>, cls: string, shape: S, prev: Record<string, number>): Promise<boolean> {
    const cands = family.candidates(shape).filter((c) => !this.excluded.get(family.name)?.has(c.name));
    const ms: Record<string, number> = {};
    for (const c of cands) if (c.name in prev) ms[c.name] = prev[c.name];
    const resuming = Object.keys(ms).length > 0;
    const notes: string[] = [];
    const complete = () => cands.every((c) => c.name in ms);
    let trial: TuningTrial | null = null;
    try {
      const t0 = performance.now();
      trial = family.trial!(shape);
      this.spent.set(family.name, (this.spent.get(family.name) ?? 0) + (performance.now() - t0));
      // two rounds, the second in reverse order (A B B A): a disturbance that lasts a while (another
      // process, a thermal or clock change) weighs on every candidate alike; each keeps its fastest.
      // The second round times the default and the ROUND2 fastest of the first only.
      const measure = async (c: Candidate<C>, left: number, after: number, cut: boolean) => {
        const limit = Math.max(0, Math.min(CANDIDATE_MAX_MS, left / after));
        const best = Math.min(...Object.entries(ms).filter(([k, v]) => k !== c.name && Number.isFinite(v)).map(([, v]) => v));
        this.forced = { family: family.name, name: c.name };
        try {
          const ctx = { family: family.name, shapeClass: cls, candidate: c.name, ...(cut && Number.isFinite(best) ? { cutoffMs: CUTOFF * best } : {}) };
          const t = await this.clock.measure(() => trial!.run(), limit, ctx);
          ms[c.name] = Number.isFinite(ms[c.name]) ? Math.min(ms[c.name], t.ms) : t.ms;
          this.spent.set(family.name, (this.spent.get(family.name) ?? 0) + t.costMs);
        } catch (e) {
          ms[c.name] = NaN;
          notes.push(`${c.name} failed: ${(e as Error).message.split('\n')[0]}`);
          await settle();
        } finally {
          this.forced = null;
        }
      };
      const left = () => this.budgetMs - (this.spent.get(family.name) ?? 0);
      // the first round: every candidate in order, or when resuming the untimed ones and then the
      // default again (so each process times at least one new candidate, however slow the default)
      const first = resuming ? [...cands.filter((c) => !(c.name in ms)), cands[0]] : cands;
      for (let i = 0; i < first.length; i++) {
        // past the budget the rest go untimed; a later process times them
        if (i > 0 && left() <= 0) break;
        await measure(first[i], left(), 2 * first.length - i, true);
      }
      // the second round only for a complete class (an incomplete one keeps the default anyway)
      const fastest = cands.filter((c) => Number.isFinite(ms[c.name])).sort((a, b) => ms[a.name] - ms[b.name]).slice(0, ROUND2).map((c) => c.name);
      const again = cands.filter((c, i) => Number.isFinite(ms[c.name]) && (i === 0 || fastest.includes(c.name))).reverse();
      for (let i = 0; complete() && i < again.length && left() > 0; i++) await measure(again[i], left(), again.length - i, false);
    } catch (e) {
      notes.push(`no trial: ${(e as Error).message.split('\n')[0]}`);
    } finally {
      this.forced = null;
      trial?.dispose();
    }
    return this.record(family, cls, shape, cands, ms, notes, !complete());
  }

  /** Keep a class's timings and pick (the default while `partial`); false when nothing is timed. */
  private record<S, C>(family: TuningFamily<S, C>, cls: string, shape: S, cands: Candidate<C>[], ms: Record<string, number>, notes: string[], partial: boolean): boolean {
    const dflt = cands[0]?.name ?? family.candidates(shape)[0].name;
    let pick = dflt;
    const d = ms[dflt];
    if (!partial) {
      for (const c of cands) {
        const v = ms[c.name];
        if (!Number.isFinite(v)) continue;
        const best = ms[pick];
        if (!Number.isFinite(best) || (v < best && (pick !== dflt || v < d * (1 - TIE_MARGIN)))) pick = c.name;
      }
    } else {
      const n = cands.filter((c) => c.name in ms).length;
      notes.push(`budget spent with ${n} of ${cands.length} candidates timed; the default runs until a later process times the rest`);
    }
    const timed = Object.values(ms).some(Number.isFinite);
    this.classes(family.name).set(cls, {
      pick, default: dflt, ms, shape: family.describe(shape), source: timed ? 'tuned' : 'default', ...(partial ? { partial } : {}),
      ...(notes.length ? { note: notes.join('; ') } : {}),
    });
    return timed;
  }

  private save(store: TuningStore): void {
    const picks: TuningFile['picks'] = {};
    for (const [fam, classes] of this.table) {
      for (const [cls, e] of classes) {
        if (e.source === 'default') continue;
        const ms: SavedPick['ms'] = {};
        for (const [k, v] of Object.entries(e.ms)) ms[k] = Number.isFinite(v) ? Math.round(v * 1e4) / 1e4 : null;
        (picks[fam] ??= {})[cls] = { pick: e.pick, default: e.default, ms, shape: e.shape, ...(e.partial ? { partial: true } : {}) };
      }
    }
    const f: TuningFile = { format: TUNING_FORMAT, adapter: this.adapter, picks };
    try {
      store.write(this.id, JSON.stringify(f, null, 1) + '\n');
    } catch (e) {
      this.warn(`webgpu-tensor: could not save the autotuning picks to ${store.describe(this.id)} (${(e as Error).message})`);
    }
  }

  /** Leave a candidate out of tuning (it failed its parity check); a pick of it falls back to the default. */
  exclude(family: string, candidate: string, reason: string): void {
    let m = this.excluded.get(family);
    if (!m) this.excluded.set(family, (m = new Map()));
    m.set(candidate, reason);
    const e = this.table.get(family);
    if (e) for (const [cls, v] of e) if (v.pick === candidate) e.delete(cls);
  }

  /** Run `fn` with `candidate` forced for `family` (parity checks). */
  async withCandidate<R>(family: string, candidate: string, fn: () => Promise<R>): Promise<R> {
    this.forced = { family, name: candidate };
    try {
      return await fn();
    } finally {
      this.forced = null;
    }
  }

  /** What was picked, by family and shape class. */
  report(): TuningRow[] {
    const rows: TuningRow[] = [];
    for (const [fam, classes] of this.table) {
      for (const [cls, e] of classes) {
        rows.push({ family: fam, shapeClass: cls, shape: e.shape, picked: e.pick, default: e.default, ms: { ...e.ms }, source: e.source, ...(e.note ? { note: e.note } : {}) });
      }
    }
    return rows.sort((a, b) => a.family.localeCompare(b.family) || a.shapeClass.localeCompare(b.shapeClass));
  }
}

/** After a candidate failed: wait for the GPU and drop the errors it reported (they are in the
 * candidate's note), so the next candidate starts clean. */
async function settle(): Promise<void> {
  if (!isInitialised()) return;
  try {
    await runtime('tuning').sync();
  } catch {
    /* reported with the candidate */
  }
}

// ---- the process's tuner ----

const registry = new Map<string, TuningFamily<unknown, unknown>>();
let current: Tuner | null = null;
let currentInfo: DeviceInfo | null = null;
let overrides: TuningConfig = {};

/** Make a family known to the report and to `checkParity` / `tuneSamples` (the op layer registers its families). */
export function registerFamily<S, C>(f: TuningFamily<S, C>): TuningFamily<S, C> {
  registry.set(f.name, f as TuningFamily<unknown, unknown>);
  return f;
}

/** The registered families, by name. */
export function families(): Map<string, TuningFamily<unknown, unknown>> {
  return registry;
}

/** The tuner of the initialised device (created on first use from init()'s options and `configure`). */
export function tuner(): Tuner {
  const info = deviceInfo();
  if (!current || currentInfo !== info) {
    const init = initTuningOptions();
    current = new Tuner({
      ...overrides,
      mode: resolveMode(overrides.mode ?? init.autotune, info.software),
      store: overrides.store !== undefined ? overrides.store : (init.tuningStore ?? null),
      adapterId: overrides.adapterId ?? adapterId(info),
      adapter: info.description || info.device || info.vendor || 'unknown adapter',
    });
    currentInfo = info;
  }
  return current;
}

/** The candidate value for `shape` of `family` on the GPU (see `Tuner.choose`). */
export function choose<S, C>(family: TuningFamily<S, C>, shape: S): C {
  return tuner().choose(family, shape);
}

/** Whether shape classes wait to be tuned. */
export function tuningPending(): boolean {
  return current !== null && current.pendingCount > 0 && !current.tuning;
}

/** Tune what is queued, if anything (after a full sync). */
export async function runPendingTuning(): Promise<void> {
  // a sync while a pass runs (from a clock or a concurrent task) does not wait for the pass
  if (!current || !current.pendingCount || current.tuning || !isInitialised()) return;
  await current.run();
}

/**
 * Change the autotuning settings for the rest of the process (picks made so far are forgotten;
 * a store is read again). Fields left out keep init()'s values.
 */
export function configure(c: TuningConfig = {}): void {
  if (c.mode !== undefined && c.mode !== 'off' && c.mode !== 'memory' && c.mode !== 'persist')
    throw new Error(`tuning.configure: mode must be 'off', 'memory' or 'persist', got ${String(c.mode)}`);
  if (c.budgetMs !== undefined && !(c.budgetMs >= 0)) throw new Error(`tuning.configure: budgetMs must be >= 0, got ${c.budgetMs}`);
  overrides = { ...overrides, ...c };
  current = null;
}

/** The mode in effect ('off' before init()). */
export function mode(): AutotuneMode {
  return isInitialised() ? tuner().mode : 'off';
}

/** What was picked: one row per (family, shape class) seen or read from the cache. */
export function report(): TuningRow[] {
  return isInitialised() ? tuner().report() : [];
}

/** `report()` as a text table. */
export function formatReport(rows: TuningRow[] = report()): string {
  if (!rows.length) return `autotuning (${mode()}): nothing picked yet`;
  const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : 'failed');
  const lines = [`autotuning (${mode()}): family, shape class, shape -> pick (ms per run of each candidate, fastest sample)`];
  for (const r of rows) {
    const ms = Object.entries(r.ms).map(([k, v]) => `${k} ${fmt(v)}`).join(', ');
    lines.push(`  ${r.family} ${r.shapeClass} ${r.shape} -> ${r.picked}${r.picked !== r.default ? ` (default ${r.default})` : ''} [${r.source}]${ms ? ` (${ms})` : ''}${r.note ? `; ${r.note}` : ''}`);
  }
  return lines.join('\n');
}

/** Tune what is queued now (the queue is also tuned at every `await wt.sync()`). */
export async function run(): Promise<void> {
  if (!isInitialised()) return;
  await runtime('tuning.run').sync();
  await tuner().run();
}

/** Queue each registered family's sample shapes (or `only` those families), then tune them: a cold
 * cache's tuning without a model (bench:gpu). */
export async function tuneSamples(o: { quick?: boolean; only?: string[] } = {}): Promise<void> {
  const t = tuner();
  for (const f of registry.values()) {
    if (o.only && !o.only.includes(f.name)) continue;
    for (const s of f.samples?.(!!o.quick) ?? []) t.choose(f, s);
  }
  await run();
}

/** One candidate's parity result. */
export interface ParityResult {
  family: string;
  shape: string;
  candidate: string;
  /** Largest |GPU - CPU| over the largest |CPU| value. */
  relErr: number;
  ok: boolean;
  error?: string;
}

/**
 * Check every candidate of every registered family (or `only` those) against the CPU twin on the
 * family's sample shapes (the small ones unless `quick: false`: the CPU twin of a full-size layer
 * takes minutes); a candidate that fails is excluded from tuning for this process.
 * `tol`: the largest relative error accepted (default 1e-3 of the largest value).
 */
export async function checkParity(o: { quick?: boolean; only?: string[]; tol?: number } = {}): Promise<ParityResult[]> {
  const t = tuner();
  const tol = o.tol ?? 1e-3;
  const out: ParityResult[] = [];
  for (const f of registry.values()) {
    if (o.only && !o.only.includes(f.name)) continue;
    if (!f.parity) continue;
    for (const s of f.samples?.(o.quick ?? true) ?? []) {
      const cands = f.candidates(s);
      let pt: ParityTrial | null = null;
      try {
        pt = f.parity(s);
        for (const c of cands) {
          const base = { family: f.name, shape: f.describe(s), candidate: c.name };
          try {
            const { got, want } = await t.withCandidate(f.name, c.name, () => pt!.outputs());
            let err = 0;
            let scale = 0;
            for (let i = 0; i < want.length; i++) {
              scale = Math.max(scale, Math.abs(want[i]));
              const d = Math.abs(got[i] - want[i]);
              err = Number.isNaN(d) ? Infinity : Math.max(err, d);
            }
            const relErr = got.length === want.length ? err / Math.max(scale, 1e-30) : Infinity;
            const ok = relErr <= tol;
            out.push({ ...base, relErr, ok });
            if (!ok) t.exclude(f.name, c.name, `parity: relative error ${relErr.toExponential(2)} on ${base.shape}`);
          } catch (e) {
            out.push({ ...base, relErr: Infinity, ok: false, error: (e as Error).message.split('\n')[0] });
            t.exclude(f.name, c.name, `parity: ${(e as Error).message.split('\n')[0]}`);
            await settle();
          }
        }
      } finally {
        pt?.dispose();
      }
    }
  }
  return out;
}
