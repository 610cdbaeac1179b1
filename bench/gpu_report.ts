// npm run bench:gpu: one command for a GPU machine (`. .device/enter.sh && npm run bench:gpu`).
// Within --minutes (default 8) it runs, each phase in its own process with a time limit:
//   autotune  every tunable kernel variant against its CPU twin (a variant that disagrees is never
//             timed), then autotuning of AlexNet's layer shapes from a cold cache (bench/autotune.ts)
//   peak      the adapter's FP32 FMA peak and copy bandwidth (bench/peak.ts)
//   kernels   every kernel entry at full size (bench/kernels.ts --full)
//   tfjs      the TF.js WebGPU comparison (bench/compare-tfjs.ts --full)
//   train     bench:train at batch 128, input 224, with the per-layer breakdown (bench/train.ts)
//   alexnet   the full d2l AlexNet recipe: 10 epochs, input 224, batch 128, SGD lr 0.01, xavier
//             init, all 60,000 training images, test accuracy on the 10,000 test images
//             (examples/alexnet.ts); stopped at the deadline, the epochs done are reported
// and writes out/gpu-report/report.json and report.md (plus each phase's log and JSON there).
// Phases after autotune use the picks it made (WT_TUNING_DIR = out/gpu-report/tuning-cache).
//   --quick        small shapes, one epoch on a subset, a few kernel entries (~2 min on lavapipe;
//                  CI runs it); the phases after autotune use the built-in kernel choices
//   --minutes N    the deadline (default 8; --quick 4)
//   --out DIR      where the report goes (default out/gpu-report)
//   --only a,b     run only these phases; --skip a,b: all but these
//   --data DIR     Fashion-MNIST (default: $FASHION_MNIST_DIR, data/fashion-mnist, .device/fashion-mnist,
//                  /usr/share/datasets/fashion-mnist); bench:train uses synthetic images without it,
//                  the AlexNet recipe is skipped
// Needs only node_modules (tsx, webgpu, TF.js) and a WebGPU adapter: no network, no compiler.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from './lib/bench_args.ts';

const USAGE = 'usage: tsx bench/gpu_report.ts [--quick] [--minutes N] [--out DIR] [--only a,b] [--skip a,b] [--data DIR]';
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TSX = createRequire(import.meta.url).resolve('tsx/cli');

type PhaseName = 'autotune' | 'peak' | 'kernels' | 'tfjs' | 'train' | 'alexnet';
const ORDER: PhaseName[] = ['autotune', 'peak', 'kernels', 'tfjs', 'train', 'alexnet'];

interface Phase {
  name: PhaseName;
  script: string;
  args: string[];
  /** Most seconds it may take (less when the deadline is nearer; the last phase gets the rest). */
  capS: number;
  /** Its JSON result file, if it writes one. */
  json?: string;
  env?: Record<string, string>;
}

export interface PhaseResult {
  name: PhaseName;
  ok: boolean;
  seconds: number;
  exitCode: number | null;
  timedOut: boolean;
  log: string;
  note?: string;
}

function findData(given: string | undefined): string | null {
  const files = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
  const dirs = given ? [given] : [process.env.FASHION_MNIST_DIR, join(ROOT, 'data/fashion-mnist'), join(ROOT, '.device/fashion-mnist'), '/usr/share/datasets/fashion-mnist'];
  for (const d of dirs) if (d && files.every((f) => existsSync(join(d, f)) || existsSync(join(d, `${f}.gz`)))) return d;
  return null;
}

/** Run one phase: its output goes to the console (prefixed) and to its log; killed at `limitS`. */
function runPhase(p: Phase, limitS: number, log: string): Promise<PhaseResult> {
  return new Promise((done) => {
    const t0 = performance.now();
    const out = createWriteStream(log);
    const cmd = [TSX, '--conditions=source', join(ROOT, p.script), ...p.args];
    out.write(`$ tsx ${p.script} ${p.args.join(' ')}\n`);
    console.log(`\n== ${p.name}: tsx ${p.script} ${p.args.join(' ')} (at most ${Math.round(limitS)} s)`);
    // its own process group, so a timeout ends tsx and the node process it starts
    const child: ChildProcess = spawn(process.execPath, cmd, {
      cwd: ROOT,
      env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR || '/tmp', ...p.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const relay = (chunk: Buffer) => {
      out.write(chunk);
      for (const line of chunk.toString().split('\n')) if (line && !/artificially reduced/.test(line)) process.stdout.write(`  [${p.name}] ${line}\n`);
    };
    child.stdout!.on('data', relay);
    child.stderr!.on('data', relay);
    let timedOut = false;
    const kill = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        /* already gone */
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      out.write(`\n[gpu_report] time limit (${Math.round(limitS)} s) reached: stopping\n`);
      kill('SIGTERM');
      setTimeout(() => kill('SIGKILL'), 5000).unref();
    }, limitS * 1000);
    child.on('close', (code) => {
      clearTimeout(timer);
      out.end();
      const seconds = (performance.now() - t0) / 1000;
      done({ name: p.name, ok: code === 0 && !timedOut, seconds, exitCode: code, timedOut, log: relative(ROOT, log) });
    });
  });
}

function readJson(f: string | undefined): unknown {
  if (!f || !existsSync(f)) return null;
  try {
    return JSON.parse(readFileSync(f, 'utf8'));
  } catch {
    return null;
  }
}

/** The AlexNet run's epochs (metrics.jsonl: one JSON object per line). */
function readEpochs(f: string): Record<string, number>[] {
  if (!existsSync(f)) return [];
  return readFileSync(f, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, number>];
      } catch {
        return [];
      }
    });
}

const num = (v: unknown, d = 3) => (typeof v === 'number' && Number.isFinite(v) ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(d)) : '-');

/** The Markdown summary. */
function markdown(r: Record<string, unknown>): string {
  const L: string[] = [];
  const phases = r.phases as PhaseResult[];
  L.push(`# GPU report${r.quick ? ' (quick)' : ''}`, '');
  L.push(`- adapter: ${r.adapter ?? 'unknown'}`, `- when: ${r.startedAt}; total ${num(r.totalSeconds)} s of a ${r.deadlineMinutes}-minute deadline`);
  L.push(`- data: ${r.data ?? 'Fashion-MNIST not found (bench:train used synthetic images; the AlexNet recipe was skipped)'}`, '');
  L.push('| phase | status | seconds | log |', '| --- | --- | --- | --- |');
  for (const p of phases) L.push(`| ${p.name} | ${p.ok ? 'ok' : p.timedOut ? 'stopped at its time limit' : `failed (exit ${p.exitCode})`}${p.note ? `: ${p.note}` : ''} | ${num(p.seconds)} | ${p.log} |`);
  for (const s of ORDER.filter((n) => !phases.some((p) => p.name === n))) L.push(`| ${s} | not run | | |`);

  const at = r.autotune as { parity?: { family: string; shape: string; candidate: string; relErr: number | null; ok: boolean; error?: string }[]; tuneMs?: number; picks?: { family: string; shapeClass: string; shape: string; picked: string; default: string; ms: Record<string, number | null>; source: string; note?: string }[] } | null;
  if (at) {
    const par = at.parity ?? [];
    L.push('', '## Parity (every tunable variant vs its CPU twin)', '', `${par.filter((p) => p.ok).length}/${par.length} agree (largest |GPU - CPU| / largest |CPU| <= 1e-3).`);
    for (const p of par.filter((q) => !q.ok)) L.push(`- FAIL ${p.family} ${p.candidate} ${p.shape}: ${p.error ?? `rel err ${num(p.relErr)}`}`);
    L.push('', `## Autotuning from a cold cache (${num((at.tuneMs ?? NaN) / 1000)} s)`, '', '| family | shape class | shape | pick | default | ms per run |', '| --- | --- | --- | --- | --- | --- |');
    for (const p of at.picks ?? [])
      L.push(`| ${p.family} | ${p.shapeClass} | ${p.shape} | ${p.picked} | ${p.default} | ${Object.entries(p.ms).map(([k, v]) => `${k} ${num(v)}`).join(', ') || p.note || ''} |`);
  }
  const peak = r.peak as { gflops?: number; gbps?: number; method?: string } | null;
  if (peak) L.push('', '## Adapter peak', '', `FP32 FMA ${num(peak.gflops)} GFLOP/s, copy ${num(peak.gbps)} GB/s (${peak.method} clock).`);
  const ks = r.kernels as { kernel: string; shape: string; ms: number | null; gflops?: number; gbps?: number; pctPeak: number | null; error?: string }[] | null;
  if (ks) {
    L.push('', '## Kernels', '', '| kernel | shape | median ms | rate | % of peak |', '| --- | --- | --- | --- | --- |');
    for (const k of ks)
      L.push(`| ${k.kernel} | ${k.shape} | ${k.error ? `error: ${k.error.slice(0, 80)}` : num(k.ms)} | ${k.gflops !== undefined ? `${num(k.gflops)} GFLOP/s` : k.gbps !== undefined ? `${num(k.gbps)} GB/s` : ''} | ${num(k.pctPeak)} |`);
  }
  const tf = r.tfjs as { op: string; shape: string; oursMs?: number; tfjsMs?: number; ratio?: number; check: string }[] | null;
  if (tf) {
    L.push('', '## webgpu-tensor vs TF.js (WebGPU backend, same adapter)', '', '| op | shape | ours ms | TF.js ms | ours / TF.js throughput | check |', '| --- | --- | --- | --- | --- | --- |');
    for (const t of tf) L.push(`| ${t.op} | ${t.shape} | ${num(t.oursMs)} | ${num(t.tfjsMs)} | ${num(t.ratio)} | ${t.check} |`);
  }
  const tr = r.train as { batch?: number; resize?: number; examplesPerSec?: number; stepMs?: number; recordMsPerStep?: number; recordIdleMsPerStep?: number | null; bindGroupsPerStep?: number; breakdownClock?: string; breakdown?: { layer: string; fwdMs: number | null; bwdMs: number | null }[] } | null;
  if (tr) {
    L.push('', `## Training step (AlexNet, batch ${tr.batch}, input ${tr.resize})`, '');
    L.push(`${num(tr.examplesPerSec)} examples/s, ${num(tr.stepMs)} ms per step; JS recording ${num(tr.recordMsPerStep)} ms per step (${num(tr.recordIdleMsPerStep ?? NaN)} with the GPU idle), ${num(tr.bindGroupsPerStep)} bind groups created per step.`);
    if (tr.breakdown?.length) {
      L.push('', `Per layer (${tr.breakdownClock} clock, ms):`, '', '| layer | forward | backward |', '| --- | --- | --- |');
      for (const b of tr.breakdown) L.push(`| ${b.layer} | ${num(b.fwdMs)} | ${num(b.bwdMs)} |`);
    }
  }
  const ax = r.alexnet as { epochs: Record<string, number>[]; recipe: string; finished: boolean } | null;
  if (ax) {
    const last = ax.epochs[ax.epochs.length - 1];
    L.push('', `## AlexNet recipe (${ax.recipe})`, '');
    L.push(last ? `Test accuracy ${num(last.testAcc)} after ${ax.epochs.length} epoch(s)${ax.finished ? '' : ' (stopped before the last epoch)'}.` : 'No epoch finished.');
    if (ax.epochs.length) {
      L.push('', '| epoch | train loss | train acc | test acc | examples/s | seconds |', '| --- | --- | --- | --- | --- | --- |');
      for (const e of ax.epochs) L.push(`| ${e.epoch} | ${num(e.trainLoss)} | ${num(e.trainAcc)} | ${num(e.testAcc)} | ${num(e.examplesPerSec)} | ${num(e.seconds)} |`);
    }
  }
  return L.join('\n') + '\n';
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), { values: ['minutes', 'out', 'only', 'skip', 'data'], flags: ['quick'] }, USAGE);
  const quick = args.has('quick');
  const minutes = Number(args.str('minutes') ?? (quick ? 4 : 8));
  if (!(minutes > 0)) throw new Error(`--minutes must be a positive number\n${USAGE}`);
  const outDir = resolve(ROOT, args.str('out') ?? 'out/gpu-report');
  const list = (s: string | undefined) => (s ? s.split(',').map((x) => x.trim()).filter(Boolean) : null);
  const only = list(args.str('only'));
  const skip = list(args.str('skip')) ?? [];
  for (const n of [...(only ?? []), ...skip]) if (!ORDER.includes(n as PhaseName)) throw new Error(`unknown phase '${n}' (phases: ${ORDER.join(', ')})\n${USAGE}`);
  const data = findData(args.str('data'));
  mkdirSync(outDir, { recursive: true });
  const f = (name: string) => join(outDir, name);
  const cache = f('tuning-cache');
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const deadline = t0 + minutes * 60_000;

  // phases after autotune run with its picks (quick: the built-in choices, so CI stays deterministic)
  const tuned: Record<string, string> = quick ? { WT_AUTOTUNE: 'off' } : { WT_AUTOTUNE: 'persist', WT_TUNING_DIR: cache };
  const dataArgs = data ? ['--data', data] : [];
  const alexDir = f('alexnet');
  const recipe = quick
    ? { args: ['--epochs', '1', '--train-limit', '96', '--test-limit', '96', '--resize', '67', '--batch-size', '16', '--lr', '0.005', '--momentum', '0.9', '--init', 'kaiming'], text: '1 epoch on 96 images, input 67, batch 16 (quick)' }
    : { args: ['--epochs', '10', '--resize', '224', '--batch-size', '128', '--lr', '0.01', '--momentum', '0', '--init', 'xavier', '--train-limit', '60000'], text: 'd2l: 10 epochs, input 224, batch 128, SGD lr 0.01, xavier init, 60,000 training images' };
  const phases: Phase[] = [
    { name: 'autotune', script: 'bench/autotune.ts', args: [...(quick ? ['--quick', '--budget-ms', '1500'] : []), '--json', f('autotune.json')], capS: quick ? 45 : 60, json: f('autotune.json'), env: { WT_TUNING_DIR: cache } },
    { name: 'peak', script: 'bench/peak.ts', args: [...(quick ? ['--quick', '--runs', '1'] : []), '--json', f('peak.json')], capS: quick ? 45 : 45, json: f('peak.json'), env: tuned },
    {
      name: 'kernels', script: 'bench/kernels.ts',
      args: quick ? ['--small', '--runs', '3', '--filter', '/^(relu 4194304|matmul 256x256x256|maxpool\\.fwd|conv3\\.fwd)/', '--json', f('kernels.json')] : ['--full', '--json', f('kernels.json')],
      capS: quick ? 45 : 110, json: f('kernels.json'), env: tuned,
    },
    { name: 'tfjs', script: 'bench/compare-tfjs.ts', args: quick ? ['--small', '--runs', '2', '--filter', 'matmul 256', '--json', f('tfjs.json')] : ['--full', '--json', f('tfjs.json')], capS: quick ? 45 : 90, json: f('tfjs.json'), env: tuned },
    {
      name: 'train', script: 'bench/train.ts',
      args: [...(quick ? ['--batch', '4', '--resize', '67', '--steps', '1', '--warmup', '2', '--profile', '1'] : ['--batch', '128', '--resize', '224', '--steps', '10', '--warmup', '2', '--profile', '2']), ...dataArgs, '--json', f('train.json')],
      capS: quick ? 60 : 75, json: f('train.json'), env: tuned,
    },
    { name: 'alexnet', script: 'examples/alexnet.ts', args: [...recipe.args, ...dataArgs, '--out', alexDir, '--checkpoint-every', '0'], capS: Infinity, env: tuned },
  ];
  const selected = phases.filter((p) => (!only || only.includes(p.name)) && !skip.includes(p.name));
  if (selected.some((p) => p.name === 'autotune')) rmSync(cache, { recursive: true, force: true }); // a cold cache
  if (selected.some((p) => p.name === 'alexnet')) rmSync(alexDir, { recursive: true, force: true });
  for (const p of selected) if (p.json) rmSync(p.json, { force: true });

  console.log(`bench:gpu${quick ? ' --quick' : ''}: ${selected.map((p) => p.name).join(', ')} within ${minutes} min; report in ${relative(ROOT, outDir) || '.'}`);
  if (!data) console.log('Fashion-MNIST not found: bench:train uses synthetic images and the AlexNet recipe is skipped (put the four *-ubyte.gz files in data/fashion-mnist or .device/fashion-mnist, or pass --data DIR)');
  const results: PhaseResult[] = [];
  for (let i = 0; i < selected.length; i++) {
    const p = selected[i];
    if (p.name === 'alexnet' && !data) {
      results.push({ name: p.name, ok: false, seconds: 0, exitCode: null, timedOut: false, log: '', note: 'skipped: Fashion-MNIST not found' });
      continue;
    }
    const left = (deadline - performance.now()) / 1000;
    if (left < 5) {
      results.push({ name: p.name, ok: false, seconds: 0, exitCode: null, timedOut: true, log: '', note: 'not started: the deadline was reached' });
      continue;
    }
    // a phase may use its cap, but leaves the later ones (except the open-ended last) at least a few seconds each
    const later = selected.slice(i + 1).filter((q) => Number.isFinite(q.capS)).length;
    const limit = Math.max(5, Math.min(p.capS, left - 10 * later));
    results.push(await runPhase(p, limit, f(`${p.name}.log`)));
  }

  const totalSeconds = (performance.now() - t0) / 1000;
  const at = readJson(f('autotune.json')) as { adapter?: string } | null;
  const peak = readJson(f('peak.json')) as { description?: string } | null;
  const train = readJson(f('train.json')) as { adapter?: string } | null;
  const epochs = readEpochs(join(alexDir, 'metrics.jsonl'));
  const ran = (n: PhaseName) => results.some((r) => r.name === n && r.log);
  const wantEpochs = Number(recipe.args[recipe.args.indexOf('--epochs') + 1]);
  const report = {
    quick,
    startedAt,
    deadlineMinutes: minutes,
    totalSeconds,
    adapter: at?.adapter ?? peak?.description ?? train?.adapter ?? null,
    data,
    phases: results,
    autotune: at,
    peak,
    kernels: readJson(f('kernels.json')),
    tfjs: readJson(f('tfjs.json')),
    train,
    alexnet: ran('alexnet') ? { recipe: recipe.text, epochs, finished: epochs.length >= wantEpochs, testAcc: epochs.length ? epochs[epochs.length - 1].testAcc : null } : null,
  };
  writeFileSync(f('report.json'), JSON.stringify(report, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  writeFileSync(f('report.md'), markdown(report));
  console.log(`\nbench:gpu: ${results.filter((r) => r.ok).length}/${results.length} phases ok in ${totalSeconds.toFixed(0)} s; wrote ${relative(ROOT, f('report.json'))} and ${relative(ROOT, f('report.md'))}`);
  for (const r of results) if (!r.ok) console.log(`  ${r.name}: ${r.note ?? (r.timedOut ? 'stopped at its time limit' : `exit ${r.exitCode}`)}${r.log ? ` (see ${r.log})` : ''}`);
  if (results.some((r) => !r.ok && !r.note?.startsWith('skipped'))) process.exitCode = 1;
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(2);
  },
);
