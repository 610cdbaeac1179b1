// The demo's model and training loop, shared by the page (main.ts) and the Node comparison
// (node_speed.ts) so both time exactly the same work: d2l's LeNet layout (Conv 1->6 5x5 p2, act,
// AvgPool 2/2, Conv 6->16 5x5, act, AvgPool 2/2, Flatten, Linear 400->120, act, Linear 120->84,
// act, Linear 84->10) on 28x28 Fashion-MNIST, Adam, cross-entropy; the state-dict names are
// torch.nn.Sequential's ("0.weight", "3.weight", "7.weight", ...). ReLU by default: d2l's sigmoid
// version needs epochs before its loss moves, a page demo gets a few hundred steps.
import * as wt from 'webgpu-tensor';

export type Activation = 'relu' | 'sigmoid';

export interface DemoOptions {
  /** Examples per step (default 64). */
  batch?: number;
  /** Adam learning rate (default 0.002). */
  lr?: number;
  activation?: Activation;
  /** Seed of the weights and of the shuffle (default 0). */
  seed?: number;
}

/** LeNet as d2l.ai builds it, with a choice of activation. x: [B, 1, 28, 28] -> logits [B, 10]. */
export function lenet(activation: Activation = 'relu'): wt.nn.Sequential {
  const act = () => (activation === 'relu' ? new wt.nn.ReLU() : new wt.nn.Sigmoid());
  return new wt.nn.Sequential(
    new wt.nn.Conv2d(1, 6, 5, { padding: 2 }),
    act(),
    new wt.nn.AvgPool2d(2, 2),
    new wt.nn.Conv2d(6, 16, 5),
    act(),
    new wt.nn.AvgPool2d(2, 2),
    new wt.nn.Flatten(),
    new wt.nn.Linear(16 * 5 * 5, 120),
    act(),
    new wt.nn.Linear(120, 84),
    act(),
    new wt.nn.Linear(84, 10),
  );
}

/** One training step's numbers (read back from the GPU). */
export interface StepResult {
  step: number;
  loss: number;
  /** Fraction of this batch classified correctly. */
  acc: number;
  /** Examples in the batch. */
  size: number;
}

/** Trains `net` on a split with shuffled batches, one step per call. */
export class DemoTrainer {
  readonly net: wt.nn.Sequential;
  readonly opt: wt.optim.Adam;
  private readonly loader: wt.data.Loader;
  private batches: IterableIterator<wt.data.Batch>;
  private epoch = 0;
  steps = 0;

  constructor(train: wt.data.Split, o: DemoOptions = {}) {
    wt.manualSeed(o.seed ?? 0);
    this.net = lenet(o.activation ?? 'relu');
    this.opt = new wt.optim.Adam(this.net.parameters(), { lr: o.lr ?? 0.002 });
    this.loader = new wt.data.Loader(train, { batchSize: o.batch ?? 64, shuffle: true, seed: o.seed ?? 0, dropLast: true });
    this.batches = this.loader.epoch(0);
  }

  private nextBatch(): wt.data.Batch {
    let r = this.batches.next();
    if (r.done) {
      this.batches = this.loader.epoch(++this.epoch);
      r = this.batches.next();
    }
    return r.value as wt.data.Batch;
  }

  /**
   * Forward, backward and an optimizer step on the next batch. The GPU work is recorded before this
   * returns; the promise resolves once the step's loss and accuracy are read back, so a caller may
   * record the next steps first (`train` keeps a few in flight: a readback costs a round trip, in
   * Firefox ~100 ms).
   */
  step(): Promise<StepResult> {
    const b = this.nextBatch();
    this.net.train();
    const [loss, correct] = wt.tidy(() => {
      const logits = this.net.forward(b.x);
      const l = wt.crossEntropy(logits, b.y);
      l.backward();
      return [l.detach(), wt.metrics.accuracyCount(logits.detach(), b.y)];
    });
    this.opt.step();
    this.net.zeroGrad();
    b.x.dispose();
    b.y.dispose();
    const step = ++this.steps;
    return Promise.all([loss.item(), correct.item()]).then(([lv, cv]) => {
      loss.dispose();
      correct.dispose();
      return { step, loss: lv, acc: cv / b.size, size: b.size };
    });
  }
}

/** Steps in flight in {@link train}: enough to hide a readback's round trip behind the next steps'
 * GPU work, few enough that the chart trails the GPU by little. */
export const IN_FLIGHT = 3;

/**
 * Run `steps` steps with up to IN_FLIGHT recorded ahead of the readbacks; `onStep` sees each
 * result in order and may return true to stop early. Resolves with the results.
 */
export async function train(
  trainer: DemoTrainer,
  steps: number,
  onStep: (r: StepResult) => boolean | void | Promise<boolean | void>,
): Promise<StepResult[]> {
  const done: StepResult[] = [];
  const pending: Promise<StepResult>[] = [];
  let stop = false;
  for (let s = 0; s < steps || pending.length; s++) {
    if (s < steps && !stop) pending.push(trainer.step());
    if (pending.length >= IN_FLIGHT || s >= steps || stop) {
      const r = await pending.shift()!;
      done.push(r);
      if ((await onStep(r)) === true) stop = true;
    }
  }
  return done;
}

/** Class probabilities for images [n, 28, 28] bytes (0..255), in eval mode. */
export async function predict(net: wt.nn.Module, images: Uint8Array, n: number): Promise<Float32Array> {
  net.eval();
  const probs = wt.tidy(() =>
    wt.noGrad(() => {
      const x = wt.tensor(Float32Array.from(images.subarray(0, n * 784), (v) => v / 255), [n, 1, 28, 28]);
      return wt.softmax(net.forward(x), 1);
    }),
  );
  const out = (await probs.toArray()) as Float32Array;
  probs.dispose();
  return out;
}

/** Accuracy on the first `n` images of a split, in batches of 256. */
export async function evaluate(net: wt.nn.Module, split: wt.data.Split, n = split.n): Promise<number> {
  let correct = 0;
  for (let lo = 0; lo < n; lo += 256) {
    const m = Math.min(256, n - lo);
    const p = await predict(net, split.images.subarray(lo * 784), m);
    for (let i = 0; i < m; i++) {
      let best = 0;
      for (let c = 1; c < 10; c++) if (p[i * 10 + c] > p[i * 10 + best]) best = c;
      if (best === split.labels[lo + i]) correct++;
    }
  }
  return correct / Math.max(n, 1);
}
