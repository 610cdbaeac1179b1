// The training loop shared by the examples (npm run alexnet, npm run train): d2l's train_ch6 on
// Fashion-MNIST (cross-entropy, per epoch train loss, train acc, test acc and examples/sec) with an
// optimizer (SGD, Adam, AdamW), an optional per-batch learning-rate schedule (cosine, one-cycle),
// label smoothing and augmentation; a progress bar, metrics.jsonl, curves.svg and the weights
// after each epoch; <out>/checkpoint.safetensors replaced atomically at each epoch end, every
// --checkpoint-every steps and on Ctrl-C, so even a killed run can continue with --resume; with
// --onnx the trained model in eval mode as <out>/<name>.onnx (opset 17, symbolic batch).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as wt from 'webgpu-tensor';
import type { FlagSpec, Parsed } from './cli_args.ts';
import { curvesSvg, type EpochMetrics } from './plot.ts';
import { Progress } from './progress.ts';

/**
 * Steps between periodic checkpoints. Writing AlexNet's reduced-recipe checkpoint (~170 MB with
 * momentum) takes about as long as a few steps on lavapipe, so every 200 steps costs ~1%.
 */
export const CKPT_EVERY_SOFTWARE = 200;
export const CKPT_EVERY = 1000;

export type OptimizerName = 'sgd' | 'adam' | 'adamw';
export type SchedulerName = 'none' | 'cosine' | 'onecycle' | 'warmup-cosine';
export type InitName = 'xavier' | 'kaiming';

/** Everything that decides how a model is trained. */
export interface Recipe {
  init: InitName;
  epochs: number;
  batchSize: number;
  lr: number;
  /** SGD momentum (ignored by Adam/AdamW). */
  momentum: number;
  resize: number;
  /** Use only the first N training images (all 60,000 when absent). */
  trainLimit?: number;
  optimizer: OptimizerName;
  /** Per-batch schedule: 'cosine' anneals lr to 0 over the run; 'onecycle' is OneCycleLR(maxLr = lr);
   * 'warmup-cosine' rises linearly over the first WARMUP_FRACTION of the steps, then anneals to 0. */
  scheduler: SchedulerName;
  weightDecay: number;
  labelSmoothing: number;
  augment: boolean;
  /** Clip the gradients' total 2-norm to this before each step (0: no clipping). */
  clipGradNorm: number;
  /** Standardise the inputs with Fashion-MNIST's training mean and std (FASHION_MEAN, FASHION_STD). */
  normalize: boolean;
  /** 'identity': NiN's last block starts with identity 1x1 convs and bias 1 (wt.models.ninHeadInit_),
   * applied by the entry after `init`; 'default': `init` alone. */
  headInit: HeadInitName;
}

export type HeadInitName = 'default' | 'identity';

/** The share of the steps 'warmup-cosine' warms up over. */
export const WARMUP_FRACTION = 0.1;
/** Mean and standard deviation of Fashion-MNIST's 60,000 training pixels (scaled to [0, 1]). */
export const FASHION_MEAN = 0.286;
export const FASHION_STD = 0.353;

/** The flags every training entry point takes (an entry adds its own, e.g. --model). */
export function trainingFlags(minResize: string): Record<string, FlagSpec> {
  return {
    epochs: { type: 'int', min: 1, help: 'epochs to train' },
    'batch-size': { type: 'int', min: 1, max: 4096, help: 'mini-batch size' },
    lr: { type: 'float', min: 0, help: 'learning rate (the peak with --scheduler onecycle)' },
    momentum: { type: 'float', min: 0, max: 0.999, help: 'SGD momentum (d2l: 0)' },
    optimizer: { type: 'string', choices: ['sgd', 'adam', 'adamw'], help: 'optimizer (d2l: sgd)' },
    scheduler: { type: 'string', choices: ['none', 'cosine', 'onecycle', 'warmup-cosine'], help: 'learning-rate schedule, stepped per batch (d2l: none)' },
    'clip-grad-norm': { type: 'float', min: 0, help: "clip the gradients' total 2-norm to N before each step (0: off; d2l: off)" },
    'head-init': { type: 'string', choices: ['default', 'identity'], help: "NiN only: 'identity' starts the last block's 1x1 convs as identities and its conv's bias at 1 (no dead class logits)" },
    normalize: { type: 'bool', help: `standardise inputs with Fashion-MNIST's mean ${FASHION_MEAN} and std ${FASHION_STD} (d2l: off)` },
    'weight-decay': { type: 'float', min: 0, help: 'L2 penalty (SGD, Adam) or decoupled decay (AdamW) (d2l: 0)' },
    'label-smoothing': { type: 'float', min: 0, max: 1, help: 'cross-entropy label smoothing in [0, 1) (d2l: 0)' },
    resize: { type: 'int', min: 1, max: 512, help: `input side R, images resized 28 -> R on the GPU (${minResize})` },
    'train-limit': { type: 'int', min: 1, help: 'use only the first N training images' },
    'test-limit': { type: 'int', min: 1, help: 'evaluate on only the first N test images (default: all 10,000)' },
    seed: { type: 'int', min: 0, help: 'seed for init, dropout, shuffling (default 0)' },
    data: { type: 'string', help: 'directory with the Fashion-MNIST *-ubyte(.gz) files' },
    out: { type: 'string', help: 'output directory (default ./out)' },
    resume: { type: 'bool', help: 'continue from <out>/checkpoint.safetensors' },
    'checkpoint-every': {
      type: 'int',
      min: 0,
      help: `also write the checkpoint every N training steps, so a killed run loses at most N steps (default ${CKPT_EVERY_SOFTWARE} on a software adapter, ${CKPT_EVERY} otherwise; 0: only at epoch ends and on Ctrl-C)`,
    },
    weights: { type: 'string', help: 'start from (or, with --eval-only, evaluate) these safetensors weights' },
    'eval-only': { type: 'bool', help: 'only evaluate on the test set (use with --weights)' },
    augment: { type: 'bool', help: 'random crops and horizontal flips on the GPU' },
    init: { type: 'string', choices: ['xavier', 'kaiming'], help: "weight init: 'xavier' (d2l) or 'kaiming' (He)" },
    onnx: { type: 'bool', help: 'after training (or --eval-only), export the model in eval mode to <out>/<name>.onnx (opset 17, any batch size)' },
    'interrupt-after': { type: 'int', min: 1, help: 'act as if Ctrl-C were pressed after N batches (for testing --resume)' },
    help: { type: 'bool', help: 'show this help' },
  };
}

/** The base recipe with any recipe flags given on the command line applied. */
export function applyFlags(base: Recipe, flags: Parsed): Recipe {
  const pick = <T>(k: string, v: T): T => (flags[k] === undefined ? v : (flags[k] as T));
  return {
    init: pick('init', base.init),
    epochs: pick('epochs', base.epochs),
    batchSize: pick('batch-size', base.batchSize),
    lr: pick('lr', base.lr),
    momentum: pick('momentum', base.momentum),
    resize: pick('resize', base.resize),
    trainLimit: pick('train-limit', base.trainLimit),
    optimizer: pick('optimizer', base.optimizer),
    scheduler: pick('scheduler', base.scheduler),
    weightDecay: pick('weight-decay', base.weightDecay),
    labelSmoothing: pick('label-smoothing', base.labelSmoothing),
    augment: flags.augment === undefined ? base.augment : !!flags.augment,
    clipGradNorm: pick('clip-grad-norm', base.clipGradNorm),
    normalize: flags.normalize === undefined ? base.normalize : !!flags.normalize,
    headInit: pick('head-init', base.headInit),
  };
}

const OPT_NAMES: Record<OptimizerName, string> = { sgd: 'SGD', adam: 'Adam', adamw: 'AdamW' };

/** "resize 67, batch 32, SGD lr 0.005 momentum 0.9, kaiming init, 1 epoch(s) on 11520 training images". */
export function describeRecipe(r: Recipe): string {
  const opt = `${OPT_NAMES[r.optimizer]} lr ${r.lr}${r.optimizer === 'sgd' ? ` momentum ${r.momentum}` : ''}` +
    `${r.weightDecay ? ` weight decay ${r.weightDecay}` : ''}${r.scheduler !== 'none' ? `, ${r.scheduler} schedule` : ''}`;
  const extras = [
    r.labelSmoothing ? `label smoothing ${r.labelSmoothing}` : '',
    r.augment ? 'augmentation' : '',
    r.clipGradNorm ? `gradient norm clipped to ${r.clipGradNorm}` : '',
    r.normalize ? 'standardised inputs' : '',
    r.headInit !== 'default' ? `${r.headInit} head init` : '',
  ].filter(Boolean);
  return `resize ${r.resize}, batch ${r.batchSize}, ${opt}, ${r.init} init${extras.length ? `, ${extras.join(', ')}` : ''}, ` +
    `${r.epochs} epoch(s) on ${r.trainLimit ?? 60000} training images`;
}

/** The flags that reproduce a recipe from any starting point. */
export function recipeFlags(r: Recipe): string {
  const f = [
    `--resize ${r.resize}`, `--batch-size ${r.batchSize}`, `--optimizer ${r.optimizer}`, `--lr ${r.lr}`,
    ...(r.optimizer === 'sgd' ? [`--momentum ${r.momentum}`] : []),
    `--scheduler ${r.scheduler}`, `--weight-decay ${r.weightDecay}`, `--label-smoothing ${r.labelSmoothing}`,
    `--init ${r.init}`, `--epochs ${r.epochs}`, `--train-limit ${r.trainLimit ?? 60000}`,
  ];
  if (r.augment) f.push('--augment');
  if (r.clipGradNorm) f.push(`--clip-grad-norm ${r.clipGradNorm}`);
  if (r.normalize) f.push('--normalize');
  if (r.headInit !== 'default') f.push(`--head-init ${r.headInit}`);
  return f.join(' ');
}

type AnyOptimizer = wt.optim.SGD | wt.optim.Adam | wt.optim.AdamW;

function makeOptimizer(net: wt.nn.Module, r: Recipe): AnyOptimizer {
  const params = net.parameters();
  if (r.optimizer === 'adam') return new wt.optim.Adam(params, { lr: r.lr, weightDecay: r.weightDecay });
  if (r.optimizer === 'adamw') return new wt.optim.AdamW(params, { lr: r.lr, weightDecay: r.weightDecay });
  return new wt.optim.SGD(params, { lr: r.lr, momentum: r.momentum, weightDecay: r.weightDecay });
}

/** The per-batch learning-rate schedule of a recipe over `totalSteps` steps (null: constant lr). */
export function makeScheduler(opt: AnyOptimizer, r: Recipe, totalSteps: number): wt.optim.lrScheduler.LRScheduler | null {
  const { lrScheduler } = wt.optim;
  if (r.scheduler === 'cosine') return new lrScheduler.CosineAnnealingLR(opt, { tMax: Math.max(1, totalSteps) });
  if (r.scheduler === 'onecycle')
    return new lrScheduler.OneCycleLR(opt, {
      maxLr: r.lr,
      totalSteps: Math.max(1, totalSteps),
      // torch cycles SGD's momentum between 0.85 and 0.95 even when it was 0; keep plain SGD plain
      cycleMomentum: r.optimizer !== 'sgd' || r.momentum > 0,
    });
  if (r.scheduler === 'warmup-cosine') {
    const total = Math.max(2, totalSteps);
    const warm = Math.max(1, Math.round(total * WARMUP_FRACTION));
    // LinearLR's factor goes 1/warm, 2/warm, ... 1; the cosine then runs over the remaining steps
    return new lrScheduler.SequentialLR(opt, {
      schedulers: [
        new lrScheduler.LinearLR(opt, { startFactor: 1 / warm, endFactor: 1, totalIters: Math.max(1, warm - 1) }),
        new lrScheduler.CosineAnnealingLR(opt, { tMax: total - warm }),
      ],
      milestones: [warm],
    });
  }
  return null;
}

export interface TrainingRun {
  /** Short name: the weights file is <out>/<name>.safetensors. */
  name: string;
  /** Title of curves.svg. */
  title: string;
  net: wt.nn.Module;
  recipe: Recipe;
  /** The adapter's description, for the final line. */
  adapter: string;
  software: boolean;
  flags: Parsed;
  /** Metadata stored with the weights (besides epoch and resize). */
  weightsMeta?: Record<string, string>;
}

type Row = EpochMetrics & { examplesPerSec: number; seconds: number };

/** The input standardisation a weights file's metadata records: { mean, std } (inputMean /
 * inputStd), null when the file was written by this trainer (it records `resize`) without one, or
 * undefined when the file says nothing (another tool's: the recipe decides). */
export function weightsStandardisation(metadata: Record<string, string>, path: string): { mean: number; std: number } | null | undefined {
  if (metadata.inputMean !== undefined || metadata.inputStd !== undefined) {
    const [mean, std] = [Number(metadata.inputMean), Number(metadata.inputStd)];
    if (!Number.isFinite(mean) || !Number.isFinite(std) || std <= 0)
      throw new UsageError(`--weights ${path}: expected a finite inputMean and a positive inputStd in its metadata, got ${metadata.inputMean} and ${metadata.inputStd}`);
    return { mean, std };
  }
  return metadata.resize !== undefined ? null : undefined;
}

/**
 * Load the data, then train (or with --eval-only evaluate) `run.net` on Fashion-MNIST by
 * `run.recipe`, reading the run flags (--data, --out, --seed, --test-limit, --resume, --weights,
 * --eval-only, --checkpoint-every, --interrupt-after, --onnx) from `run.flags`. Exits the process with
 * 130 after saving a checkpoint on Ctrl-C.
 */
export async function runTraining(run: TrainingRun): Promise<void> {
  const { net, recipe: r, flags } = run;
  const seed = (flags.seed as number) ?? 0;
  const outDir = (flags.out as string) ?? 'out';
  const evalOnly = !!flags['eval-only'];
  const ckptEvery = (flags['checkpoint-every'] as number) ?? (run.software ? CKPT_EVERY_SOFTWARE : CKPT_EVERY);
  mkdirSync(outDir, { recursive: true });
  const ckptPath = join(outDir, 'checkpoint.safetensors');
  const weightsPath = join(outDir, `${run.name}.safetensors`);

  const data = await wt.data.loadFashionMNIST({
    dir: flags.data as string | undefined,
    trainLimit: r.trainLimit,
    testLimit: flags['test-limit'] as number | undefined,
  });
  console.log(`data: ${data.dir} (${data.train.n} train, ${data.test.n} test images)`);

  const trainLoader = new wt.data.Loader(data.train, {
    batchSize: r.batchSize,
    shuffle: true,
    seed,
    resize: r.resize,
    augment: r.augment,
  });
  const opt = makeOptimizer(net, r);
  const sched = makeScheduler(opt, r, r.epochs * trainLoader.numBatches);

  let startEpoch = 0;
  let startBatch = 0;
  let partial = { loss: 0, correct: 0, n: 0, seconds: 0 };
  let history: Row[] = [];
  // the input standardisation: the recipe's, unless --weights names a file this trainer wrote,
  // whose metadata records the one its weights expect
  let norm: { mean: number; std: number } | null = r.normalize ? { mean: FASHION_MEAN, std: FASHION_STD } : null;
  if (flags.weights) {
    const { tensors, metadata } = await wt.loadSafetensors(flags.weights as string);
    net.loadStateDict(tensors);
    console.log(`loaded weights from ${flags.weights}`);
    const fileNorm = weightsStandardisation(metadata, flags.weights as string);
    if (fileNorm !== undefined && JSON.stringify(fileNorm) !== JSON.stringify(norm)) {
      norm = fileNorm;
      console.log(
        norm
          ? `inputs standardised as ${flags.weights} records: (x - ${norm.mean}) / ${norm.std}`
          : `inputs not standardised: ${flags.weights} records no standardisation`,
      );
    }
  }
  if (flags.resume) {
    if (!existsSync(ckptPath)) throw new UsageError(`--resume: no checkpoint at ${ckptPath}`);
    const { epoch, extra } = await wt.loadCheckpoint(ckptPath, { model: net, optimizer: opt, ...(sched ? { scheduler: sched } : {}) });
    const ex = (extra ?? {}) as { batch?: number; partial?: typeof partial; history?: Row[] };
    startEpoch = epoch;
    startBatch = ex.batch ?? 0;
    if (ex.partial) partial = ex.partial;
    history = ex.history ?? [];
    console.log(`resumed from ${ckptPath}: epoch ${epoch + 1}, batch ${startBatch}`);
  }

  // the model's input: the resized batch, standardised when the recipe says so
  const input = (x: wt.Tensor): wt.Tensor => (norm ? x.sub(norm.mean).div(norm.std) : x);

  // evaluation batch 256 (AlexNet on lavapipe: 10,000 images in ~131 s; batch 64 took ~135 s)
  const testLoader = new wt.data.Loader(data.test, { batchSize: Math.max(r.batchSize, 256), resize: r.resize });
  const evaluate = async (): Promise<number> => {
    net.eval();
    const correct = wt.keep(wt.zeros([]));
    const prog = new Progress('  test', testLoader.numBatches);
    let done = 0;
    await wt.noGrad(async () => {
      for (const b of testLoader.epoch(0)) {
        wt.tidy(() => {
          wt.metrics.accuracyCount(net.forward(input(b.x)), b.y, correct);
        });
        b.x.dispose();
        b.y.dispose();
        done++;
        wt.flush();
        if (done % 4 === 0) await wt.sync();
        prog.update(done);
      }
    });
    prog.end();
    const acc = (await correct.item()) / data.test.n;
    correct.dispose();
    net.train();
    return acc;
  };

  // the graph is traced on one [1, 1, R, R] image in eval mode (dropout off, BatchNorm on its running
  // statistics); dynamicBatch makes dim 0 symbolic, so the file takes any batch size
  const onnxPath = join(outDir, `${run.name}.onnx`);
  const exportOnnx = async (): Promise<void> => {
    if (!flags.onnx) return;
    net.eval();
    const example = wt.zeros([1, 1, r.resize, r.resize]);
    try {
      await wt.onnx.export(net, example, onnxPath, { opsetVersion: 17, dynamicBatch: true });
    } finally {
      example.dispose();
      net.train();
    }
    console.log(`wrote ${onnxPath} (ONNX opset 17, input [N, 1, ${r.resize}, ${r.resize}]${norm ? `, standardised: (x - ${norm.mean}) / ${norm.std}` : ''})`);
  };

  if (evalOnly) {
    const acc = await evaluate();
    console.log(`test acc ${acc.toFixed(3)} on ${data.test.n} images`);
    await exportOnnx();
    return;
  }

  let interrupted = false;
  process.on('SIGINT', () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.log('\ninterrupt: saving a checkpoint after this batch (Ctrl-C again to quit now)');
  });

  const saveCkpt = (epoch: number, extra: object) =>
    wt.saveCheckpoint(ckptPath, { model: net, optimizer: opt, ...(sched ? { scheduler: sched } : {}), epoch, extra });
  const totalSteps = r.epochs * trainLoader.numBatches;
  const ceOptions = r.labelSmoothing > 0 ? { labelSmoothing: r.labelSmoothing } : undefined;

  // the weights expect standardised inputs: say so in the file
  const normMeta: Record<string, string> = norm ? { inputMean: String(norm.mean), inputStd: String(norm.std) } : {};
  let stepsThisRun = 0;
  net.train();
  for (let epoch = startEpoch; epoch < r.epochs; epoch++) {
    const lossSum = wt.keep(wt.full([], partial.loss));
    const correct = wt.keep(wt.full([], partial.correct));
    let seen = partial.n;
    let batch = startBatch;
    const t0 = performance.now() - partial.seconds * 1000;
    const prog = new Progress(`epoch ${epoch + 1}/${r.epochs}`, trainLoader.numBatches);
    let lastShow = 0;
    for (const b of trainLoader.epoch(epoch, startBatch)) {
      wt.tidy(() => {
        const logits = net.forward(input(b.x));
        const loss = wt.crossEntropy(logits, b.y, ceOptions);
        opt.zeroGrad();
        loss.backward();
        if (r.clipGradNorm > 0) wt.nn.utils.clipGradNorm_(net.parameters(), r.clipGradNorm);
        opt.step();
        wt.metrics.accumulateSum(lossSum, loss.detach(), b.size);
        wt.metrics.accuracyCount(logits.detach(), b.y, correct);
      });
      b.x.dispose();
      b.y.dispose();
      seen += b.size;
      batch++;
      const step = epoch * trainLoader.numBatches + batch;
      if (sched && step < totalSteps) sched.step();
      if (flags['interrupt-after'] !== undefined && ++stepsThisRun >= (flags['interrupt-after'] as number)) interrupted = true;
      // one step in flight: the next step is recorded while the GPU runs this one
      await wt.sync({ inFlight: 1 });
      const el = (performance.now() - t0) / 1000;
      if (el - lastShow >= prog.interval || batch === trainLoader.numBatches) {
        lastShow = el;
        prog.update(batch, `loss ${((await lossSum.item()) / seen).toFixed(3)}`);
      }
      const periodic = ckptEvery > 0 && step % ckptEvery === 0;
      if (interrupted || periodic) {
        // mid-epoch: the running sums go into the checkpoint, so a resumed epoch reports the same totals
        const p = { loss: await lossSum.item(), correct: await correct.item(), n: seen, seconds: (performance.now() - t0) / 1000 };
        await saveCkpt(epoch, { batch, partial: p, history });
      }
      if (interrupted) {
        prog.end();
        console.log(`saved ${ckptPath} at epoch ${epoch + 1}, batch ${batch}; continue with --resume`);
        process.exit(130);
      }
    }
    prog.end();
    const seconds = (performance.now() - t0) / 1000;
    const trainLoss = (await lossSum.item()) / seen;
    const trainAcc = (await correct.item()) / seen;
    lossSum.dispose();
    correct.dispose();
    const testAcc = await evaluate();
    const row = { epoch: epoch + 1, trainLoss, trainAcc, testAcc, examplesPerSec: seen / seconds, seconds };
    history.push(row);
    console.log(
      `epoch ${epoch + 1}: loss ${trainLoss.toFixed(3)}, train acc ${trainAcc.toFixed(3)}, test acc ${testAcc.toFixed(3)}, ` +
        `${row.examplesPerSec.toFixed(1)} examples/sec, ${seconds.toFixed(0)} s`,
    );
    wt.writeFileAtomicSync(join(outDir, 'metrics.jsonl'), history.map((h) => JSON.stringify(h)).join('\n') + '\n');
    wt.writeFileAtomicSync(join(outDir, 'curves.svg'), curvesSvg(history, `${run.title} on Fashion-MNIST`));
    await wt.save(net.stateDict(), weightsPath, { ...run.weightsMeta, ...normMeta, epoch: String(epoch + 1), resize: String(r.resize) });
    partial = { loss: 0, correct: 0, n: 0, seconds: 0 };
    startBatch = 0;
    await saveCkpt(epoch + 1, { batch: 0, history });
  }
  const last = history[history.length - 1];
  if (!last) {
    console.log(`nothing to do: the checkpoint is already at epoch ${startEpoch} of ${r.epochs}`);
    await exportOnnx();
    return;
  }
  const totalSeen = history.reduce((s, h) => s + h.examplesPerSec * h.seconds, 0);
  const totalSec = history.reduce((s, h) => s + h.seconds, 0);
  console.log(`loss ${last.trainLoss.toFixed(3)}, train acc ${last.trainAcc.toFixed(3)}, test acc ${last.testAcc.toFixed(3)}`);
  console.log(`${(totalSeen / totalSec).toFixed(1)} examples/sec on ${run.adapter}`);
  console.log(`wrote ${join(outDir, 'metrics.jsonl')}, ${join(outDir, 'curves.svg')}, ${weightsPath}`);
  await exportOnnx();
}

/** A mistake in the command line: the entry prints it and exits with status 2. */
export class UsageError extends Error {}
