// AlexNet on Fashion-MNIST, the d2l.ai chapter 7.1 recipe (train_ch6): xavier-uniform init, SGD,
// cross-entropy; per epoch train loss, train acc, test acc and examples/sec.
//   npm run alexnet                      sensible defaults for the adapter
//   npm run alexnet -- --help            flags
// On a software adapter (lavapipe) a reduced recipe is announced and used unless flags override it.
// <out>/checkpoint.safetensors is replaced atomically at each epoch end, every --checkpoint-every steps
// and on Ctrl-C, so even a killed run can continue with --resume from its last complete checkpoint.
import { mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import * as wt from 'webgpu-tensor';
import { type FlagSpec, helpText, parseFlags } from './lib/cli_args.ts';
import { Progress } from './lib/progress.ts';
import { curvesSvg, type EpochMetrics } from './lib/plot.ts';
import { alexnet, initWeights, layerShapes, minResize } from './lib/alexnet_model.ts';

/**
 * Steps between periodic checkpoints. Writing the reduced recipe's checkpoint (~170 MB with
 * momentum) takes about as long as a few steps on lavapipe, so every 200 steps costs ~1%.
 */
const CKPT_EVERY_SOFTWARE = 200;
const CKPT_EVERY = 1000;

const FLAGS: Record<string, FlagSpec> = {
  epochs: { type: 'int', min: 1, help: 'epochs to train (full recipe: 10)' },
  'batch-size': { type: 'int', min: 1, max: 4096, help: 'mini-batch size (full recipe: 128)' },
  lr: { type: 'float', min: 0, help: 'SGD learning rate (full recipe: 0.01)' },
  momentum: { type: 'float', min: 0, max: 0.999, help: 'SGD momentum (full recipe: 0, like d2l)' },
  resize: { type: 'int', min: 1, max: 512, help: `input side R, images resized 28 -> R on the GPU (full recipe: 224; min ${minResize()})` },
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
  model: { type: 'string', choices: ['seed', 'original'], help: "'seed' (d2l) or 'original' (adds the 2012 paper's LRN layers)" },
  augment: { type: 'bool', help: 'random crops and horizontal flips on the GPU' },
  init: { type: 'string', choices: ['xavier', 'kaiming'], help: "weight init: 'xavier' (d2l) or 'kaiming' (He; the reduced recipe's)" },
  'interrupt-after': { type: 'int', min: 1, help: 'act as if Ctrl-C were pressed after N batches (for testing --resume)' },
  help: { type: 'bool', help: 'show this help' },
};

interface Recipe {
  init: 'xavier' | 'kaiming';
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  resize: number;
  trainLimit?: number;
}

const FULL: Recipe = { init: 'xavier', epochs: 10, batchSize: 128, lr: 0.01, momentum: 0, resize: 224 };
/** Chosen from measurements on a 2-core CPU with lavapipe: finishes in under 10 minutes, >= 75% test acc. */
const REDUCED: Recipe = { init: 'kaiming', epochs: 1, batchSize: 32, lr: 0.005, momentum: 0.9, resize: 67, trainLimit: 11_520 };

async function main(): Promise<void> {
  let flags;
  try {
    flags = parseFlags(process.argv.slice(2), FLAGS);
  } catch (e) {
    console.error(`alexnet: ${(e as Error).message}`);
    process.exit(2);
  }
  if (flags.help) {
    console.log(helpText('Usage: npm run alexnet -- [flags]', FLAGS));
    return;
  }
  const info = await wt.init();
  const adapter = info.description || info.device || info.vendor;
  const base = info.software ? REDUCED : FULL;
  const r: Recipe = {
    init: ((flags.init as string) ?? base.init) as Recipe['init'],
    epochs: (flags.epochs as number) ?? base.epochs,
    batchSize: (flags['batch-size'] as number) ?? base.batchSize,
    lr: (flags.lr as number) ?? base.lr,
    momentum: (flags.momentum as number) ?? base.momentum,
    resize: (flags.resize as number) ?? base.resize,
    trainLimit: (flags['train-limit'] as number) ?? base.trainLimit,
  };
  if (r.resize < minResize()) {
    console.error(`alexnet: --resize must be >= ${minResize()} (the third max-pool needs a 3x3 map), got ${r.resize}`);
    process.exit(2);
  }
  const seed = (flags.seed as number) ?? 0;
  const outDir = (flags.out as string) ?? 'out';
  const modelKind = ((flags.model as string) ?? 'seed') as 'seed' | 'original';
  const evalOnly = !!flags['eval-only'];
  const ckptEvery = (flags['checkpoint-every'] as number) ?? (info.software ? CKPT_EVERY_SOFTWARE : CKPT_EVERY);
  if (evalOnly && !flags.weights && !flags.resume) {
    console.error('alexnet: --eval-only needs --weights FILE (or --resume to evaluate the last checkpoint)');
    process.exit(2);
  }
  mkdirSync(outDir, { recursive: true });
  const ckptPath = join(outDir, 'checkpoint.safetensors');

  console.log(`adapter: ${adapter}${info.software ? ' (software)' : ''}`);
  if (info.software && !evalOnly)
    console.log(
      `software adapter: using a reduced recipe (resize ${r.resize}, batch ${r.batchSize}, SGD lr ${r.lr} momentum ${r.momentum}, ${r.init} init, ` +
        `${r.epochs} epoch(s) on ${r.trainLimit ?? 60000} training images, full 10,000-image test set) that finishes in minutes on a CPU.\n` +
        `  The full d2l recipe: npm run alexnet -- --resize 224 --batch-size 128 --lr 0.01 --momentum 0 --init xavier --epochs 10 --train-limit 60000`,
    );

  const data = await wt.data.loadFashionMNIST({
    dir: flags.data as string | undefined,
    trainLimit: r.trainLimit,
    testLimit: flags['test-limit'] as number | undefined,
  });
  console.log(`data: ${data.dir} (${data.train.n} train, ${data.test.n} test images)`);

  wt.manualSeed(seed);
  const net = alexnet(r.resize, modelKind);
  initWeights(net, r.init);
  for (const line of layerShapes(net, r.resize)) console.log(line);
  const opt = new wt.optim.SGD(net.parameters(), { lr: r.lr, momentum: r.momentum });

  let startEpoch = 0;
  let startBatch = 0;
  let partial = { loss: 0, correct: 0, n: 0, seconds: 0 };
  let history: (EpochMetrics & { examplesPerSec: number; seconds: number })[] = [];
  if (flags.weights) {
    const sd = await wt.load(flags.weights as string);
    net.loadStateDict(sd);
    console.log(`loaded weights from ${flags.weights}`);
  }
  if (flags.resume) {
    if (!existsSync(ckptPath)) {
      console.error(`alexnet: --resume: no checkpoint at ${ckptPath}`);
      process.exit(2);
    }
    const { epoch, extra } = await wt.loadCheckpoint(ckptPath, { model: net, optimizer: opt });
    const ex = (extra ?? {}) as { batch?: number; partial?: typeof partial; history?: typeof history };
    startEpoch = epoch;
    startBatch = ex.batch ?? 0;
    if (ex.partial) partial = ex.partial;
    history = ex.history ?? [];
    console.log(`resumed from ${ckptPath}: epoch ${epoch + 1}, batch ${startBatch}`);
  }

  // evaluation batch 256 (on lavapipe: 10,000 images in ~131 s; batch 64 took ~135 s)
  const testLoader = new wt.data.Loader(data.test, { batchSize: Math.max(r.batchSize, 256), resize: r.resize });
  const evaluate = async (): Promise<number> => {
    net.eval();
    const correct = wt.keep(wt.zeros([]));
    const prog = new Progress('  test', testLoader.numBatches);
    let done = 0;
    await wt.noGrad(async () => {
      for (const b of testLoader.epoch(0)) {
        wt.tidy(() => {
          wt.metrics.accuracyCount(net.forward(b.x), b.y, correct);
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

  if (evalOnly) {
    const acc = await evaluate();
    console.log(`test acc ${acc.toFixed(3)} on ${data.test.n} images`);
    return;
  }

  const trainLoader = new wt.data.Loader(data.train, {
    batchSize: r.batchSize,
    shuffle: true,
    seed,
    resize: r.resize,
    augment: !!flags.augment,
  });

  let interrupted = false;
  process.on('SIGINT', () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.log('\ninterrupt: saving a checkpoint after this batch (Ctrl-C again to quit now)');
  });

  const saveCkpt = (epoch: number, extra: object) => wt.saveCheckpoint(ckptPath, { model: net, optimizer: opt, epoch, extra });

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
    let stepMs = 0;
    for (const b of trainLoader.epoch(epoch, startBatch)) {
      const ts = performance.now();
      wt.tidy(() => {
        const logits = net.forward(b.x);
        const loss = wt.crossEntropy(logits, b.y);
        opt.zeroGrad();
        loss.backward();
        opt.step();
        wt.metrics.accumulateSum(lossSum, loss.detach(), b.size);
        wt.metrics.accuracyCount(logits.detach(), b.y, correct);
      });
      b.x.dispose();
      b.y.dispose();
      seen += b.size;
      batch++;
      if (flags['interrupt-after'] !== undefined && ++stepsThisRun >= (flags['interrupt-after'] as number)) interrupted = true;
      wt.flush();
      // keep at most one step in flight; sleep through most of it (Dawn's wait busy-polls a core)
      if (stepMs > 20) await new Promise((res) => setTimeout(res, stepMs * 0.8));
      await wt.sync();
      stepMs = 0.8 * stepMs + 0.2 * (performance.now() - ts);
      const el = (performance.now() - t0) / 1000;
      if (el - lastShow >= prog.interval || batch === trainLoader.numBatches) {
        lastShow = el;
        prog.update(batch, `loss ${((await lossSum.item()) / seen).toFixed(3)}`);
      }
      const periodic = ckptEvery > 0 && (epoch * trainLoader.numBatches + batch) % ckptEvery === 0;
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
    wt.writeFileAtomicSync(join(outDir, 'curves.svg'), curvesSvg(history));
    await wt.save(net.stateDict(), join(outDir, 'alexnet.safetensors'), { epoch: String(epoch + 1), resize: String(r.resize) });
    partial = { loss: 0, correct: 0, n: 0, seconds: 0 };
    startBatch = 0;
    await saveCkpt(epoch + 1, { batch: 0, history });
  }
  const last = history[history.length - 1];
  if (!last) {
    console.log(`nothing to do: the checkpoint is already at epoch ${startEpoch} of ${r.epochs}`);
    return;
  }
  const totalSeen = history.reduce((s, h) => s + h.examplesPerSec * h.seconds, 0);
  const totalSec = history.reduce((s, h) => s + h.seconds, 0);
  console.log(`loss ${last.trainLoss.toFixed(3)}, train acc ${last.trainAcc.toFixed(3)}, test acc ${last.testAcc.toFixed(3)}`);
  console.log(`${(totalSeen / totalSec).toFixed(1)} examples/sec on ${adapter}`);
  console.log(`wrote ${join(outDir, 'metrics.jsonl')}, ${join(outDir, 'curves.svg')}, ${join(outDir, 'alexnet.safetensors')}`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`alexnet: ${(e as Error).message}`);
    process.exit(1);
  },
);

