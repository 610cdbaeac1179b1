// npm run bench: times every entry of bench/entries/*.ts on the WebGPU adapter.
//   --filter PAT  only entries whose name or "name shape" matches PAT (substring, or /regex/flags)
//   --runs N      timed samples per entry (default 10; 15 on a software adapter)
//   --json FILE   write one record per entry to FILE (a JSON array)
//   --small       small shapes even on hardware; --full: full shapes even on a software adapter
//   --repeak      re-measure the adapter peak (else cached per adapter in out/peak.json)
//   --wall        wall clock only (no timestamp queries)
//   --list        print the entries and exit
//   WT_BENCH_SAMPLES=1 prints every sample of every entry
// Each entry: one warm-up run, calibration (work repeated inside a sample until it lasts ~10 ms on
// hardware), then N samples, each submitted between timestamp markers and awaited with a sync.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import * as wt from 'webgpu-tensor';
import { makeFilter, parseArgs } from './lib/bench_args.ts';
import { loadEntries } from './lib/entries.ts';
import { adapterKey, peakFor } from './lib/peak_measure.ts';
import { fmtNum, fmtPct, median } from './lib/stats.ts';
import { measure } from './lib/timer.ts';
import { measureAlongside } from './lib/alongside.ts';

const USAGE = `usage: tsx bench/kernels.ts [--filter PAT] [--runs N] [--json FILE] [--small|--full] [--repeak] [--wall] [--list]`;

export interface BenchRecord {
  kernel: string;
  shape: string;
  file: string;
  adapter: string;
  software: boolean;
  /** Median ms per run. */
  ms: number;
  /** Fastest ms per run. */
  msMin: number;
  gflops?: number;
  gbps?: number;
  /** Percent of the adapter's measured FMA peak (flops) or copy bandwidth (bytes), from the median. */
  pctPeak: number;
  /** Software adapters, bandwidth entries: median rate over a copy measured in the same moments
   * (bench/lib/alongside.ts), percent; with the copy's median GB/s and the entry's median GB/s there. */
  pctCopyAlongside?: number;
  copyAlongsideGbps?: number;
  gbpsAlongside?: number;
  /** 'timestamp' or 'wall'. */
  clock: string;
  runs: number;
  /** Repetitions inside each timed sample. */
  reps: number;
  /** JavaScript recording time per run (dispatch overhead), ms. */
  recordMs: number;
  /** Wall clock from submit to done per run, ms (median). */
  wallMs: number;
  dispatches: number;
  note?: string;
  error?: string;
}

const COLS: [string, number][] = [
  ['kernel', 20],
  ['shape', 26],
  ['median ms', 10],
  ['min ms', 10],
  ['rate', 14],
  ['% peak', 7],
  ['% along', 8],
  ['rec ms', 8],
  ['disp', 5],
];
const row = (cells: string[]) =>
  cells.map((c, i) => (i < 2 ? c.padEnd(COLS[i][1]) : c.padStart(COLS[i][1]))).join(' ').trimEnd();

async function main(): Promise<void> {
  const args = parseArgs(
    process.argv.slice(2),
    { values: ['filter', 'runs', 'json'], flags: ['small', 'full', 'repeak', 'wall', 'list'] },
    USAGE,
  );
  const t0 = performance.now();
  const info = await wt.init({ dawnOptions: ['disable-dawn-features=timestamp_quantization'] });
  const small = args.has('small') || (info.software && !args.has('full'));
  // software adapters: more samples, as the dev VM's timings swing by up to 2x between moments
  const runs = args.int('runs') ?? (info.software ? 15 : 10);
  const filter = makeFilter(args.str('filter'));
  const all = await loadEntries(small);
  const list = all.filter((e) => filter(e.name) || filter(`${e.name} ${e.shape}`));
  if (args.has('list')) {
    for (const e of list) console.log(`${e.file.padEnd(8)} ${e.name.padEnd(20)} ${e.shape.padEnd(28)} ${e.kind}`);
    return;
  }
  console.log(`adapter: ${info.description || info.device} (${info.software ? 'software' : 'hardware'}), ${small ? 'small' : 'full'} shapes, ${runs} runs`);
  const peak = await peakFor({ remeasure: args.has('repeak'), log: console.log });
  console.log(`peak (${peak.quick ? 'quick' : 'full'} measurement, ${peak.measuredAt.slice(0, 10)}): ${fmtNum(peak.gflops)} GFLOP/s FMA, ${fmtNum(peak.gbps)} GB/s copy`);
  if (!list.length) console.log('no entries match');
  COLS[0][1] = Math.max(COLS[0][1], ...list.map((e) => e.name.length));
  COLS[1][1] = Math.max(COLS[1][1], ...list.map((e) => e.shape.length));
  console.log('');
  console.log(row(COLS.map((c) => c[0])));
  console.log(COLS.map((c) => '-'.repeat(c[1])).join(' '));

  const records: BenchRecord[] = [];
  const key = adapterKey(info);
  for (const e of list) {
    const base = { kernel: e.name, shape: e.shape, file: e.file, adapter: key, software: info.software };
    let s: { run(): void; dispose(): void } | null = null;
    try {
      s = e.setup();
      const run = s.run;
      const m = await measure(() => void wt.tidy(() => run()), {
        runs,
        warmup: 1,
        minSampleMs: small ? 5 : 10,
        budgetMs: small ? 8_000 : 20_000,
        timestamps: !args.has('wall'),
      });
      if (process.env.WT_BENCH_SAMPLES) console.log(`  samples (reps ${m.reps}): ${m.samples.map((v) => v.toFixed(2)).join(" ")}`);
      const rate = e.work / m.median / 1e6; // per ms -> G per s
      const pct = (100 * rate) / (e.kind === 'flops' ? peak.gflops : peak.gbps);
      const along = e.kind === 'bytes' && info.software && !args.has('wall') ? await measureAlongside(() => void wt.tidy(() => run()), e.work, m.reps) : null;
      const rec: BenchRecord = {
        ...base,
        ms: m.median,
        msMin: m.min,
        ...(e.kind === 'flops' ? { gflops: rate } : { gbps: rate }),
        pctPeak: pct,
        ...(along ? { pctCopyAlongside: along.pct, copyAlongsideGbps: median(along.copyGbps), gbpsAlongside: along.gbps } : {}),
        clock: m.method,
        runs: m.samples.length,
        reps: m.reps,
        recordMs: m.recordMs,
        wallMs: m.wallMedian,
        dispatches: m.dispatches,
        ...(m.note ? { note: m.note } : {}),
      };
      records.push(rec);
      console.log(
        row([
          e.name,
          e.shape,
          fmtNum(m.median),
          fmtNum(m.min),
          `${fmtNum(rate)} ${e.kind === 'flops' ? 'GFLOP/s' : 'GB/s'}`,
          fmtPct(pct),
          along ? fmtPct(along.pct) : '-',
          fmtNum(m.recordMs, 2),
          String(m.dispatches),
        ]) + (m.note ? `  (${m.note})` : ''),
      );
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      records.push({ ...base, ms: NaN, msMin: NaN, pctPeak: NaN, clock: '-', runs: 0, reps: 0, recordMs: NaN, wallMs: NaN, dispatches: 0, error: msg });
      console.log(row([e.name, e.shape, 'error']) + `  ${msg.split('\n')[0]}`);
      // a failed entry must not poison the next one
      try {
        await wt.sync();
      } catch {
        /* already reported */
      }
    } finally {
      try {
        s?.dispose();
      } catch {
        /* ignore */
      }
    }
  }
  const secs = (performance.now() - t0) / 1000;
  console.log(`\n${records.filter((r) => !r.error).length}/${records.length} entries in ${secs.toFixed(1)} s; clock: ${[...new Set(records.map((r) => r.clock))].join(', ')}; rate from the median; rec ms = JS recording time per run`);
  if (records.some((r) => r.pctCopyAlongside !== undefined))
    console.log('% along: median rate over a 64 MiB copy timed in the same moments (interleaved brackets, cold caches; bench/lib/alongside.ts)');
  const j = args.str('json');
  if (j) {
    mkdirSync(dirname(j), { recursive: true });
    writeFileSync(j, JSON.stringify(records, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
    console.log(`wrote ${records.length} records to ${j}`);
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
