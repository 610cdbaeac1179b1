// d2l's ResNet residual block (8.6), its ResNeXt block (8.6.5) and DenseNet dense block (8.7), built from the library's layers,
// trained a few steps on the GPU: the loss falls and GPU memory stays flat from step to step.
import { beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu, randArray } from '../helpers.ts';

const { nn } = wt;

beforeAll(initGpu);

/** d2l 8.6 Residual: relu(bn2(conv2(relu(bn1(conv1(x))))) + conv3?(x)). */
class Residual extends nn.Module {
  conv1: wt.nn.Conv2d;
  conv2: wt.nn.Conv2d;
  conv3: wt.nn.Conv2d | null;
  bn1: wt.nn.BatchNorm2d;
  bn2: wt.nn.BatchNorm2d;
  constructor(inC: number, c: number, use1x1 = false, stride = 1) {
    super();
    this.conv1 = new nn.Conv2d(inC, c, 3, { padding: 1, stride });
    this.conv2 = new nn.Conv2d(c, c, 3, { padding: 1 });
    this.conv3 = use1x1 ? new nn.Conv2d(inC, c, 1, { stride }) : null;
    this.bn1 = new nn.BatchNorm2d(c);
    this.bn2 = new nn.BatchNorm2d(c);
  }
  forward(x: wt.Tensor): wt.Tensor {
    let y = wt.relu(this.bn1.call(this.conv1.call(x)));
    y = this.bn2.call(this.conv2.call(y));
    return wt.relu(y.add(this.conv3 ? this.conv3.call(x) : x));
  }
}

/** d2l 8.7 conv_block: BN, ReLU, 3x3 conv. */
const convBlock = (inC: number, c: number) => new nn.Sequential(new nn.BatchNorm2d(inC), new nn.ReLU(), new nn.Conv2d(inC, c, 3, { padding: 1 }));

/** d2l 8.7 DenseBlock: each block's output is concatenated to its input along the channels. */
class DenseBlock extends nn.Module {
  net: wt.nn.ModuleList;
  constructor(numConvs: number, inC: number, growth: number) {
    super();
    this.net = new nn.ModuleList(Array.from({ length: numConvs }, (_, i) => convBlock(inC + i * growth, growth)));
  }
  forward(x: wt.Tensor): wt.Tensor {
    for (const blk of this.net) x = wt.cat([x, blk.call(x)], 1);
    return x;
  }
}

async function trainFew(body: wt.nn.Module, outC: number, inC: number): Promise<{ losses: number[]; inUse: number[] }> {
  wt.manualSeed(3);
  const net = new nn.Sequential(body, new nn.AdaptiveAvgPool2d([1, 1]), new nn.Flatten(), new nn.Linear(outC, 4));
  const opt = new wt.optim.Adam(net.parameters(), { lr: 0.03 });
  const x = wt.tensor(randArray(6 * inC * 9 * 9, 5), [6, inC, 9, 9]);
  const y = wt.tensor([0, 1, 2, 3, 1, 2], [6], { dtype: 'int32' });
  const losses: number[] = [];
  const inUse: number[] = [];
  for (let step = 0; step < 20; step++) {
    const loss = await wt.tidy(() => {
      opt.zeroGrad();
      const l = wt.crossEntropy(net.call(x), y);
      l.backward();
      opt.step();
      return l;
    });
    losses.push(await loss.item());
    loss.dispose();
    inUse.push(wt.memory().inUse);
  }
  // free everything the run made, so no garbage is left for the GC to reclaim during the next
  // test's steps (that would move its memory readings)
  const state = Object.values(opt.stateDict().state).flatMap((st) => Object.values(st).filter((v): v is wt.Tensor => v instanceof wt.Tensor));
  const grads = net.parameters().flatMap((p) => (p.grad ? [p.grad] : []));
  [x, y, ...state, ...grads, ...net.parameters(), ...net.buffers()].forEach((t) => t.dispose());
  return { losses, inUse };
}

describe('modern CNN blocks from library pieces', () => {
  it('ResNet residual block (with 1x1 projection and stride 2) trains: loss falls, memory flat', async () => {
    const body = new nn.Sequential(new Residual(3, 8, true, 2), new Residual(8, 8));
    const { losses, inUse } = await trainFew(body, 8, 3);
    expect(losses[losses.length - 1]).toBeLessThan(losses[0] * 0.7);
    expect(new Set(inUse.slice(2)).size).toBe(1);
  });
  it('ResNeXt block (grouped 3x3 conv, 1x1 projection, stride 2; wt.models.ResNeXtBlock) trains: loss falls, memory flat', async () => {
    // 16 bottleneck channels in 4 groups of 4 (d2l: groups=bot_channels//groups), then 4 groups of 4 again
    const body = new nn.Sequential(new wt.models.ResNeXtBlock(3, 16, 4, 1, true, 2), new wt.models.ResNeXtBlock(16, 16, 4, 1));
    expect(body.at(0).children()[1]).toMatchObject({ groups: 4, inChannels: 16, outChannels: 16 });
    const { losses, inUse } = await trainFew(body, 16, 3);
    expect(losses[losses.length - 1]).toBeLessThan(losses[0] * 0.7);
    expect(new Set(inUse.slice(2)).size).toBe(1);
  });
  it('DenseNet dense block trains: loss falls, memory flat', async () => {
    const body = new DenseBlock(2, 3, 5);
    const { losses, inUse } = await trainFew(body, 13, 3);
    expect(losses[losses.length - 1]).toBeLessThan(losses[0] * 0.7);
    expect(new Set(inUse.slice(2)).size).toBe(1);
  });
});
