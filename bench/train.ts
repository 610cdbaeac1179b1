// npm run bench:train: AlexNet training throughput (examples/s) and where a step's time goes.
//   --batch N     batch size (default 128; 32 on a software adapter)
//   --resize R    input side (default 224; 96 on a software adapter)
//   --steps N     timed training steps (default 10; 3 on a software adapter)
//   --warmup N    untimed steps first (default 2)
//   --profile N   steps run layer by layer for the breakdown (default 2; 0 = no breakdown)
//   --lrn         LocalResponseNorm after conv1 and conv2 (Krizhevsky et al.)
//   --model NAME  'alexnet' (default) or 'mlp' (a two-layer perceptron: a quick check of the script)
//   --data DIR    Fashion-MNIST folder; without it the usual places are searched, and synthetic
//                 28x28 images are used when none is found (the data path is the same)
//   --json FILE   write the result to FILE
// Throughput: steps are recorded back to back (one submit per step, no sync in between) and timed
// from the end of the warm-up to the end of the last step, as a training loop runs.
// Breakdown ("timing mode"): each top-level child of the model runs on its own, with a sync after
// its forward and after its backward (a Conv2d followed by a ReLU runs fused, as in Sequential).
// The layers are cut apart by detaching each input, so backward is run layer by layer from the loss.
import { writeFileSync } from 'node:fs';
import * as wt from 'webgpu-tensor';
import { parseArgs } from './lib/bench_args.ts';
import { fmtNum, median, sleep } from './lib/stats.ts';
import { ownTarget } from './lib/timer.ts';

const USAGE =
  'usage: tsx bench/train.ts [--batch N] [--resize R] [--steps N] [--warmup N] [--profile N] [--lrn] [--model alexnet|mlp] [--data DIR] [--json FILE]';

type Module = wt.nn.Module;
type Tensor = wt.Tensor;

/** AlexNet for 1-channel R x R input and 10 classes (the d2l.ai variant, optional LRN). */
function alexnet(resize: number, lrn: boolean): wt.nn.Sequential {
  const { Sequential, Conv2d, ReLU, MaxPool2d, LocalResponseNorm, Flatten, Linear, Dropout } = wt.nn;
  const conv = (s: number, k: number, st: number, p: number) => Math.floor((s + 2 * p - k) / st) + 1;
  const pool = (s: number) => Math.floor((s - 3) / 2) + 1;
  const side = pool(conv(pool(conv(pool(conv(resize, 11, 4, 1)), 5, 1, 2)), 3, 1, 1));
  if (side < 1) throw new Error(`train: --resize ${resize} is too small for AlexNet (needs at least 63)`);
  const m = new Sequential(new Conv2d(1, 96, 11, { stride: 4, padding: 1 }), new ReLU());
  if (lrn) m.append(new LocalResponseNorm(5, 1e-4, 0.75, 2));
  m.append(new MaxPool2d(3, 2)).append(new Conv2d(96, 256, 5, { padding: 2 })).append(new ReLU());
  if (lrn) m.append(new LocalResponseNorm(5, 1e-4, 0.75, 2));
  m.append(new MaxPool2d(3, 2));
  for (const [i, o] of [[256, 384], [384, 384], [384, 256]]) m.append(new Conv2d(i, o, 3, { padding: 1 })).append(new ReLU());
  m.append(new MaxPool2d(3, 2)).append(new Flatten());
  m.append(new Linear(256 * side * side, 4096)).append(new ReLU()).append(new Dropout(0.5));
  m.append(new Linear(4096, 4096)).append(new ReLU()).append(new Dropout(0.5));
  m.append(new Linear(4096, 10));
  return m;
}

function mlp(resize: number): wt.nn.Sequential {
  const { Sequential, Flatten, Linear, ReLU, Dropout } = wt.nn;
  return new Sequential(new Flatten(), new Linear(resize * resize, 1024), new ReLU(), new Dropout(0.5), new Linear(1024, 10));
}

/** The model's top-level stages as run in Sequential.forward (Conv2d + ReLU fused), with names. */
function stages(model: wt.nn.Sequential): { name: string; run: (x: Tensor) => Tensor }[] {
  const mods = model.children();
  const counts = new Map<string, number>();
  const next = (k: string) => {
    const n = (counts.get(k) ?? 0) + 1;
    counts.set(k, n);
    return n;
  };
  const out: { name: string; run: (x: Tensor) => Tensor }[] = [];
  let linearBase = 0;
  for (let i = 0; i < mods.length; i++) {
    const m = mods[i];
    if (m instanceof wt.nn.Conv2d) {
      const n = next('conv');
      linearBase = n;
      if (mods[i + 1] instanceof wt.nn.ReLU) {
        out.push({ name: `conv${n}+relu`, run: (x) => m.forwardRelu(x) });
        i++;
      } else out.push({ name: `conv${n}`, run: (x) => m.forward(x) });
      continue;
    }
    const kind =
      m instanceof wt.nn.Linear
        ? `fc${linearBase + next('fc')}`
        : m instanceof wt.nn.MaxPool2d
          ? `pool${next('pool')}`
          : m instanceof wt.nn.LocalResponseNorm
            ? `lrn${next('lrn')}`
            : m instanceof wt.nn.Dropout
              ? `drop${next('drop')}`
              : m instanceof wt.nn.ReLU
                ? `relu${next('relu')}`
                : m.constructor.name.toLowerCase();
    out.push({ name: kind, run: (x) => m.forward(x) });
  }
  return out;
}

/** A split of random 28x28 images (used when Fashion-MNIST is not on disk). */
function syntheticSplit(n: number): wt.data.Split {
  const images = new Uint8Array(n * 28 * 28);
  const labels = new Uint8Array(n);
  let s = 12345;
  for (let i = 0; i < images.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    images[i] = s >>> 24;
  }
  for (let i = 0; i < n; i++) labels[i] = i % 10;
  return { images, labels, n, rows: 28, cols: 28 };
}

/** An endless stream of batches. */
function* batches(loader: wt.data.Loader): Generator<wt.data.Batch> {
  for (let e = 0; ; e++) yield* loader.epoch(e);
}

/** Fastest time seen per key (timed passes only): how long to sleep before the next sync. */
const bestMs = new Map<string, number>();
/** Sync; on a software adapter sleep first for most of the time this key took before (Dawn
 * busy-polls a core while awaiting, which the rasteriser then lacks). */
async function timedSync(key: string): Promise<void> {
  const e = wt.deviceInfo().software ? (bestMs.get(key) ?? 0) : 0;
  if (e > 2) await sleep(e * 0.8);
  await wt.sync();
}

async function main(): Promise<void> {
  const args = parseArgs(
    process.argv.slice(2),
    { values: ['batch', 'resize', 'steps', 'warmup', 'profile', 'model', 'data', 'json'], flags: ['lrn'] },
    USAGE,
  );
  // timestamps at full resolution (Dawn quantises them by default)
  const info = await wt.init({ dawnOptions: ['disable-dawn-features=timestamp_quantization'] });
  const sw = info.software;
  const modelName = args.str('model', 'alexnet')!;
  if (modelName !== 'alexnet' && modelName !== 'mlp') throw new Error(`--model must be alexnet or mlp, got ${modelName}\n${USAGE}`);
  const missing = (['conv2d', 'maxPool2d', 'crossEntropy', 'dropout'] as const).filter(
    (f) => typeof (wt as unknown as Record<string, unknown>)[f] !== 'function',
  );
  if (modelName === 'alexnet' && missing.length)
    throw new Error(
      `bench/train: webgpu-tensor does not export ${missing.map((f) => `wt.${f}`).join(', ')} yet, so AlexNet cannot train; ` +
        'this bench runs once those ops land (try --model mlp to check the script).',
    );
  const batch = args.int('batch') ?? (sw ? 32 : 128);
  const resize = args.int('resize') ?? (sw ? 96 : 224);
  const steps = Math.max(1, args.int('steps') ?? (sw ? 3 : 10));
  const warmup = args.int('warmup') ?? 2;
  const profile = args.int('profile') ?? 2;

  // ---- data ----
  let split: wt.data.Split;
  let source: string;
  const need = batch * Math.max(4, steps + warmup + profile + 1);
  const dir = args.str('data');
  if (wt.data.locateFashionMNIST(dir ? { dir } : {})) {
    const ds = await wt.data.loadFashionMNIST({ dir, download: false, trainLimit: need, testLimit: 1 });
    split = ds.train;
    source = `Fashion-MNIST (${ds.dir}), first ${split.n} training images`;
  } else {
    if (dir) throw new Error(`bench/train: no Fashion-MNIST files in ${dir}`);
    split = syntheticSplit(need);
    source = `synthetic 28x28 images (${split.n}; Fashion-MNIST not found)`;
  }
  const loader = new wt.data.Loader(split, { batchSize: batch, shuffle: true, seed: 1, resize, dropLast: true });
  const stream = batches(loader);

  // ---- model ----
  wt.manualSeed(0);
  const model = modelName === 'alexnet' ? alexnet(resize, args.has('lrn')) : mlp(resize);
  model.train();
  const params = model.parameters();
  const nParams = params.reduce((s, p) => s + p.size, 0);
  const opt = new wt.optim.SGD(params, { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
  const lossFn = (logits: Tensor, y: Tensor) => wt.crossEntropy(logits, y);
  console.log(`adapter: ${info.description || info.device} (${sw ? 'software' : 'hardware'})`);
  console.log(`model: ${modelName}${args.has('lrn') ? ' + LRN' : ''}, ${(nParams / 1e6).toFixed(1)} M parameters; batch ${batch}, input 1x${resize}x${resize}; SGD momentum 0.9`);
  console.log(`data: ${source}, resized on the device\n`);

  /** JS ms spent recording the last trainStep (data upload, forward, backward, optimizer). */
  let lastRecordMs = 0;
  const trainStep = () => {
    const t0 = performance.now();
    const b = stream.next().value as wt.data.Batch;
    wt.tidy(() => {
      const loss = lossFn(model.forward(b.x), b.y);
      loss.backward();
      opt.step();
      opt.zeroGrad();
    });
    b.x.dispose();
    b.y.dispose();
    lastRecordMs = performance.now() - t0;
    wt.flush();
  };

  // ---- throughput ----
  let estStep = 0; // the last warm-up step's time (the first one also compiles pipelines)
  const idleRecord: number[] = []; // recording ms of warm-up steps after the first, the GPU idle
  for (let i = 0; i < warmup; i++) {
    const t0 = performance.now();
    trainStep();
    await wt.sync();
    if (i > 0) {
      estStep = performance.now() - t0;
      idleRecord.push(lastRecordMs);
    }
  }
  const bg0 = wt.profiler.stats().bindGroups;
  // Dawn busy-polls a core while awaiting the queue: sleep through most of the expected time first
  const t = performance.now();
  for (let i = 0; i < steps; i++) trainStep();
  const recordMs = performance.now() - t;
  // (on a software adapter only: there the polling takes a core from the rasteriser)
  if (sw && estStep > 0) await sleep(Math.max(0, estStep * steps * 0.8 - recordMs));
  await wt.sync();
  const totalMs = performance.now() - t;
  const stepMs = totalMs / steps;
  const eps = (batch * steps) / (totalMs / 1000);
  const bindGroupsPerStep = (wt.profiler.stats().bindGroups - bg0) / steps;
  const recordIdleMs = idleRecord.length ? median(idleRecord) : NaN;
  console.log(`throughput: ${fmtNum(eps)} examples/s (${fmtNum(stepMs)} ms per step of ${batch}; ${steps} steps after ${warmup} warm-up; JS recording ${fmtNum(recordMs / steps)} ms per step)`);
  console.log(
    `recording: ${Number.isFinite(recordIdleMs) ? `${fmtNum(recordIdleMs)} ms per step with the GPU idle (warm-up steps after the first)` : 'no idle measurement (--warmup < 2)'}; ` +
      `${fmtNum(bindGroupsPerStep)} bind groups created per timed step`,
  );
  if (wt.memory) console.log(`GPU memory: ${(wt.memory().inUse / 2 ** 20).toFixed(0)} MiB in use, ${(wt.memory().pooled / 2 ** 20).toFixed(0)} MiB pooled`);

  // ---- per-layer breakdown ----
  const st = stages(model);
  const times = new Map<string, number[]>();
  let pass = 0;
  const wallTimes = new Map<string, number[]>();
  const push = (m: Map<string, number[]>, k: string, ms: number) => m.set(k, [...(m.get(k) ?? []), ms]);
  // GPU time of each pass from timestamp brackets around its submit (wall clock where unavailable)
  const target = ownTarget();
  const timer = target.timer();
  const pending: { key: string; idx: number; wall: number }[] = [];
  const clock = async (key: string, f: () => void | Promise<void>) => {
    const s0 = target.submits();
    const t0 = performance.now();
    await f();
    // work submitted while recording (an upload into a busy buffer) would escape the bracket
    const idx = timer && target.submits() === s0 ? timer.begin() : -1;
    wt.flush();
    if (idx >= 0) timer!.end(idx);
    await timedSync(key);
    pending.push({ key, idx, wall: performance.now() - t0 });
  };
  const collect = async () => {
    const ts = timer ? await timer.read() : [];
    timer?.reset();
    for (const p of pending.splice(0)) {
      if (pass >= 1) bestMs.set(p.key, Math.min(p.wall, bestMs.get(p.key) ?? Infinity));
      if (pass < 2) continue;
      const gpu = p.idx >= 0 && Number.isFinite(ts[p.idx]) ? ts[p.idx] : p.wall;
      push(times, p.key, gpu);
      push(wallTimes, p.key, p.wall);
    }
  };
  // two untimed passes first: the first compiles what timing mode runs and training does not; the
  // second gives each pass's expected time (the sleep before its sync)
  for (pass = 0; pass < (profile > 0 ? profile + 2 : 0); pass++) {
    await wt.tidy(async () => {
      let b!: wt.data.Batch;
      await clock('data', () => void (b = stream.next().value as wt.data.Batch));
      const outs: Tensor[] = [];
      const ins: Tensor[] = [];
      let x = b.x;
      for (let i = 0; i < st.length; i++) {
        // cut the graph: each stage gets a leaf input, requiring grad only where training's
        // gradient reaches (not the data, nor what parameter-free stages made of it)
        const a = i === 0 ? x : x.requiresGrad ? x.detach().requiresGrad_() : x.detach();
        ins.push(a);
        let y!: Tensor;
        await clock(`${st[i].name}.fwd`, () => void (y = st[i].run(a)));
        outs.push(y);
        x = y;
      }
      const logits = x.detach().requiresGrad_();
      let loss!: Tensor;
      await clock('loss.fwd', () => void (loss = lossFn(logits, b.y)));
      await clock('loss.bwd', () => loss.backward());
      let g = logits.grad!;
      for (let i = st.length - 1; i >= 0 && outs[i].requiresGrad; i--) {
        const gi = g;
        await clock(`${st[i].name}.bwd`, () => outs[i].backward(gi));
        if (!ins[i].requiresGrad) break;
        g = ins[i].grad!;
      }
      await clock('optimizer', () => {
        opt.step();
        opt.zeroGrad();
      });
      for (const a of ins) if (a.requiresGrad) a.zeroGrad();
      logits.zeroGrad();
      b.x.dispose();
      b.y.dispose();
    });
    await collect();
    if (process.env.WT_BENCH_DEBUG) console.log(`[train] pass ${pass}: ${[...bestMs].map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
  }

  const rows: { layer: string; fwd: number; bwd: number }[] = [];
  const med = (k: string) => (times.has(k) ? median(times.get(k)!) : NaN);
  if (profile > 0) {
    rows.push({ layer: 'data', fwd: med('data'), bwd: NaN });
    for (const s of st) rows.push({ layer: s.name, fwd: med(`${s.name}.fwd`), bwd: med(`${s.name}.bwd`) });
    rows.push({ layer: 'loss', fwd: med('loss.fwd'), bwd: med('loss.bwd') });
    rows.push({ layer: 'optimizer', fwd: med('optimizer'), bwd: NaN });
    const sum = rows.reduce((s, r) => s + (r.fwd || 0) + (r.bwd || 0), 0);
    const wallSum = [...wallTimes.values()].reduce((s, a) => s + median(a), 0);
    const fw = (x: number) => (Number.isFinite(x) ? fmtNum(x) : '');
    const clockName = timer ? 'GPU time from timestamps' : 'wall clock';
    console.log(`\nper-layer time (timing mode: each pass submitted and synced alone; ${clockName}; median of ${profile} steps; ms)`);
    console.log(`${'layer'.padEnd(14)} ${'forward'.padStart(9)} ${'backward'.padStart(9)} ${'total'.padStart(9)} ${'share'.padStart(6)}`);
    for (const r of rows) {
      const tot = (r.fwd || 0) + (r.bwd || 0);
      console.log(`${r.layer.padEnd(14)} ${fw(r.fwd).padStart(9)} ${fw(r.bwd).padStart(9)} ${fw(tot).padStart(9)} ${`${((100 * tot) / sum).toFixed(1)}%`.padStart(6)}`);
    }
    console.log(`${'sum'.padEnd(14)} ${''.padStart(9)} ${''.padStart(9)} ${fmtNum(sum).padStart(9)}`);
    console.log(`timing-mode step: ${fmtNum(wallSum)} ms wall (recording + GPU + one sync per pass); throughput step: ${fmtNum(stepMs)} ms`);
  }

  const j = args.str('json');
  if (j) {
    const result = {
      adapter: info.description || info.device,
      software: sw,
      model: modelName,
      lrn: args.has('lrn'),
      batch,
      resize,
      steps,
      warmup,
      data: source,
      examplesPerSec: eps,
      stepMs,
      recordMsPerStep: recordMs / steps,
      recordIdleMsPerStep: Number.isFinite(recordIdleMs) ? recordIdleMs : null,
      bindGroupsPerStep,
      breakdownClock: timer ? 'timestamp' : 'wall',
      breakdown: rows.map((r) => ({ layer: r.layer, fwdMs: Number.isFinite(r.fwd) ? r.fwd : null, bwdMs: Number.isFinite(r.bwd) ? r.bwd : null })),
    };
    writeFileSync(j, JSON.stringify(result, null, 2) + '\n');
    console.log(`wrote ${j}`);
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
