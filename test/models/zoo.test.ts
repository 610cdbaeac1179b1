// The model zoo against PyTorch: each d2l model's parameter count, state-dict names and shapes
// (a fingerprint) and d2l's layer-by-layer output shapes equal those of the PyTorch d2l code
// (numbers from scripts/zoo_reference.py, torch 1.13); each model trains a few steps at a tiny
// resize with a finite loss, falling for LeNet and ResNet-18.
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import * as models from '../../src/models/index.ts';
import { initGpu, randArray } from '../helpers.ts';

beforeAll(initGpu);

interface Reference {
  build: () => wt.nn.Sequential;
  params: number;
  stateEntries: number;
  /** sha256 of the state dict's "name [shape]" lines in order, first 16 hex digits. */
  fingerprint: string;
  side: number;
  /** d2l's printout: each top-level layer's class and output shape for a [1, 1, side, side] input. */
  shapes: string[];
}

// scripts/zoo_reference.py (d2l's PyTorch code, 1 channel, 10 classes)
const REF: Record<string, Reference> = {
  lenet: {
    build: () => models.lenet(),
    params: 61_706, stateEntries: 10, fingerprint: 'bb035e83ec181650', side: 28,
    shapes: ['Conv2d [1, 6, 28, 28]', 'Sigmoid [1, 6, 28, 28]', 'AvgPool2d [1, 6, 14, 14]', 'Conv2d [1, 16, 10, 10]', 'Sigmoid [1, 16, 10, 10]',
      'AvgPool2d [1, 16, 5, 5]', 'Flatten [1, 400]', 'Linear [1, 120]', 'Sigmoid [1, 120]', 'Linear [1, 84]', 'Sigmoid [1, 84]', 'Linear [1, 10]'],
  },
  alexnet: {
    build: () => models.alexnet(),
    params: 46_764_746, stateEntries: 16, fingerprint: '821ae45ff174ae61', side: 224,
    shapes: ['Conv2d [1, 96, 54, 54]', 'ReLU [1, 96, 54, 54]', 'MaxPool2d [1, 96, 26, 26]', 'Conv2d [1, 256, 26, 26]', 'ReLU [1, 256, 26, 26]',
      'MaxPool2d [1, 256, 12, 12]', 'Conv2d [1, 384, 12, 12]', 'ReLU [1, 384, 12, 12]', 'Conv2d [1, 384, 12, 12]', 'ReLU [1, 384, 12, 12]',
      'Conv2d [1, 256, 12, 12]', 'ReLU [1, 256, 12, 12]', 'MaxPool2d [1, 256, 5, 5]', 'Flatten [1, 6400]', 'Linear [1, 4096]', 'ReLU [1, 4096]',
      'Dropout [1, 4096]', 'Linear [1, 4096]', 'ReLU [1, 4096]', 'Dropout [1, 4096]', 'Linear [1, 10]'],
  },
  // VGG-11 itself (ratio 1): its first Linear (25088 x 4096) exceeds lavapipe's 128 MiB binding
  // limit, so only its parameters are compared; d2l trains ratio 4
  vgg11: { build: () => models.vgg11(), params: 128_806_154, stateEntries: 22, fingerprint: 'f205921cd02642fd', side: 224, shapes: [] },
  vgg11_ratio4: {
    build: () => models.vgg11({ ratio: 4 }),
    params: 43_093_322, stateEntries: 22, fingerprint: '0c3ee177fd57e777', side: 224,
    shapes: ['Sequential [1, 16, 112, 112]', 'Sequential [1, 32, 56, 56]', 'Sequential [1, 64, 28, 28]', 'Sequential [1, 128, 14, 14]',
      'Sequential [1, 128, 7, 7]', 'Flatten [1, 6272]', 'Linear [1, 4096]', 'ReLU [1, 4096]', 'Dropout [1, 4096]', 'Linear [1, 4096]',
      'ReLU [1, 4096]', 'Dropout [1, 4096]', 'Linear [1, 10]'],
  },
  nin: {
    build: () => models.nin(),
    params: 1_992_166, stateEntries: 24, fingerprint: '5b6e9e3d46fb7647', side: 224,
    shapes: ['Sequential [1, 96, 54, 54]', 'MaxPool2d [1, 96, 26, 26]', 'Sequential [1, 256, 26, 26]', 'MaxPool2d [1, 256, 12, 12]',
      'Sequential [1, 384, 12, 12]', 'MaxPool2d [1, 384, 5, 5]', 'Dropout [1, 384, 5, 5]', 'Sequential [1, 10, 5, 5]',
      'AdaptiveAvgPool2d [1, 10, 1, 1]', 'Flatten [1, 10]'],
  },
  googlenet: {
    build: () => models.googlenet(),
    params: 5_977_530, stateEntries: 116, fingerprint: '0311d11dc020b4d5', side: 96,
    shapes: ['Sequential [1, 64, 24, 24]', 'Sequential [1, 192, 12, 12]', 'Sequential [1, 480, 6, 6]', 'Sequential [1, 832, 3, 3]',
      'Sequential [1, 1024]', 'Linear [1, 10]'],
  },
  resnet18: {
    build: () => models.resnet18(),
    params: 11_178_378, stateEntries: 127, fingerprint: '358a3d2553442434', side: 96,
    shapes: ['Sequential [1, 64, 24, 24]', 'Sequential [1, 64, 24, 24]', 'Sequential [1, 128, 12, 12]', 'Sequential [1, 256, 6, 6]',
      'Sequential [1, 512, 3, 3]', 'AdaptiveAvgPool2d [1, 512, 1, 1]', 'Flatten [1, 512]', 'Linear [1, 10]'],
  },
  densenet: {
    build: () => models.densenet(),
    params: 758_226, stateEntries: 147, fingerprint: '556f2ef658b4586b', side: 96,
    shapes: ['Sequential [1, 64, 24, 24]', 'DenseBlock [1, 192, 24, 24]', 'Sequential [1, 96, 12, 12]', 'DenseBlock [1, 224, 12, 12]',
      'Sequential [1, 112, 6, 6]', 'DenseBlock [1, 240, 6, 6]', 'Sequential [1, 120, 3, 3]', 'DenseBlock [1, 248, 3, 3]',
      'BatchNorm2d [1, 248, 3, 3]', 'ReLU [1, 248, 3, 3]', 'AdaptiveAvgPool2d [1, 248, 1, 1]', 'Flatten [1, 248]', 'Linear [1, 10]'],
  },
  // stages and head added by name (d2l's AnyNet: net.add_module('stage1', ...))
  regnetx32: {
    build: () => models.regnetx32(),
    params: 179_290, stateEntries: 233, fingerprint: '3ac106aa0651f282', side: 96,
    shapes: ['Sequential [1, 32, 48, 48]', 'Sequential [1, 32, 24, 24]', 'Sequential [1, 80, 12, 12]', 'Sequential [1, 10]'],
  },
};

/** Free a model's GPU memory. */
function release(net: wt.nn.Module): void {
  for (const t of [...net.parameters(), ...net.buffers()]) t.dispose();
}

function fingerprint(net: wt.nn.Module): string {
  const lines = Object.entries(net.stateDict()).map(([k, v]) => `${k} [${v.shape.join(', ')}]`);
  return createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 16);
}

describe('model zoo: the PyTorch d2l models', () => {
  for (const [name, ref] of Object.entries(REF))
    it(`${name}: parameter count, state-dict names and shapes, d2l's output shapes`, () => {
      const net = ref.build();
      try {
        expect(models.parameterCount(net)).toBe(ref.params);
        expect(Object.keys(net.stateDict()).length).toBe(ref.stateEntries);
        expect(fingerprint(net)).toBe(ref.fingerprint);
        if (ref.shapes.length) {
          const lines = models.summary(net, [1, 1, ref.side, ref.side]);
          expect(lines.map((l) => l.replace(/ output shape:\t/, ' '))).toEqual(ref.shapes);
        }
      } finally {
        release(net);
      }
    });

  it('the zoo table builds each model by name; names and options are checked', () => {
    expect(models.MODEL_NAMES).toEqual(['lenet', 'alexnet', 'vgg11', 'nin', 'googlenet', 'resnet18', 'densenet', 'regnetx32']);
    const net = models.buildModel('resnet18', { numClasses: 3 });
    expect(net.at(-1)).toBeInstanceOf(wt.nn.Linear);
    expect((net.at(-1) as wt.nn.Linear).outFeatures).toBe(3);
    release(net);
    expect(() => models.buildModel('resnet50')).toThrow(/unknown model 'resnet50' \(models: lenet, alexnet/);
    expect(() => models.buildModel('densenet', { imageSize: 28 })).toThrow(/densenet needs images of at least 29x29, got imageSize 28/);
    expect(() => models.buildModel('lenet', { ratio: 2 })).toThrow(/lenet has no ratio option/);
    expect(() => models.resnet18({ classes: 10 } as never)).toThrow(/resnet18: unknown option 'classes' \(accepted: inChannels, numClasses\)/);
    expect(() => models.lenet({ imageSize: 8 })).toThrow(/lenet: imageSize 8 is too small; the net needs at least 12/);
    expect(() => models.vgg11({ ratio: 3 })).toThrow(/vgg11: ratio must divide 64, got 3/);
    expect(() => models.alexnet({ lrn: 1 } as never)).toThrow(/alexnet: lrn must be a boolean, got 1/);
    expect(() => models.nin({ inChannels: 0 })).toThrow(/nin: inChannels must be a positive integer, got 0/);
    expect(models.ZOO.alexnet.minImageSize).toBe(65);
    expect(models.ZOO.nin.minImageSize).toBe(67);
    expect(() => new models.ResNeXtBlock(3, 16, 5, 1)).toThrow(/ResNeXtBlock: expected groups \(channels per group\) dividing the 16 bottleneck channels, got 5/);
    expect(() => models.anynet([], 8)).toThrow(/anynet: expected at least one stage, got none/);
    expect(() => models.regnetx32({ imageSize: 96 } as never)).toThrow(/regnetx32: unknown option 'imageSize' \(accepted: inChannels, numClasses\)/);
  });

  it('forwardMacs counts conv and linear multiply-accumulates from the shapes (LeNet by hand)', () => {
    const net = models.lenet();
    // conv1 6x28x28 outputs x 1x5x5, conv2 16x10x10 x 6x5x5, then 400x120, 120x84, 84x10
    expect(models.forwardMacs(net, [1, 1, 28, 28])).toBe(6 * 28 * 28 * 25 + 16 * 10 * 10 * 150 + 400 * 120 + 120 * 84 + 84 * 10);
    expect(models.forwardMacs(net, [2, 1, 28, 28])).toBe(2 * 416_520);
    // the counting wrappers are gone afterwards
    expect(Object.getOwnPropertyNames(net.at(0))).not.toContain('forward');
    release(net);
  });

  it('forwardMacs counts a grouped conv per group: by hand, and RegNetX-32 as hooks on the PyTorch model count', () => {
    const conv = new wt.nn.Sequential(new wt.nn.Conv2d(4, 8, 3, { padding: 1, groups: 2 }));
    // 8x5x5 outputs, each over (4 / 2) x 3 x 3 inputs
    expect(models.forwardMacs(conv, [1, 4, 5, 5])).toBe(8 * 25 * 2 * 9);
    release(conv);
    // PyTorch forward hooks on scripts/zoo_reference.py's regnetx32: sum of out.numel() * weight[0].numel()
    const net = models.regnetx32();
    expect(models.forwardMacs(net, [1, 1, 96, 96])).toBe(40_293_152);
    release(net);
  });

  it('summary prints d2l-style lines and keeps the training mode', () => {
    const net = models.resnet18();
    net.train();
    const lines = models.summary(net, [2, 1, 32, 32]);
    expect(lines[0]).toBe('Sequential output shape:\t[2, 64, 8, 8]');
    expect(lines.at(-1)).toBe('Linear output shape:\t[2, 10]');
    expect(net.training).toBe(true);
    expect(() => models.summary(net, [1, 1, 0, 4])).toThrow(/summary: inputShape must be an array of positive integers/);
    release(net);
  });
});

/** `steps` Adam steps on one fixed batch of 8 random images; the losses. */
async function trainSteps(net: wt.nn.Module, side: number, steps: number, lr: number): Promise<number[]> {
  const x = wt.tensor(randArray(8 * side * side, 11), [8, 1, side, side]);
  const y = wt.tensor([0, 1, 2, 3, 4, 5, 6, 7], [8], { dtype: 'int32' });
  const opt = new wt.optim.Adam(net.parameters(), { lr });
  net.train();
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const loss = wt.tidy(() => {
      opt.zeroGrad();
      const l = wt.crossEntropy(net.forward(x), y);
      l.backward();
      opt.step();
      return l;
    });
    losses.push(await loss.item());
    loss.dispose();
  }
  x.dispose();
  y.dispose();
  return losses;
}

describe('model zoo: a few training steps at tiny resizes', () => {
  // side: the smallest convenient input; steps: enough to see the loss fall on a fixed batch
  // (below `falls` x the first loss). The sigmoid LeNet first learns the label marginal: its loss
  // drops from ~2.6 to the ln(8) = 2.08 plateau in a few steps and leaves it only much later.
  const CASES: [string, number, number, number, number | null][] = [
    ['lenet', 16, 10, 0.01, 0.9],
    ['resnet18', 16, 8, 0.002, 0.7],
    ['alexnet', 65, 2, 0.0005, null],
    ['vgg11', 32, 2, 0.0005, null],
    ['nin', 67, 2, 0.001, null],
    ['googlenet', 16, 2, 0.001, null],
    ['densenet', 32, 2, 0.002, null],
    ['regnetx32', 16, 8, 0.002, 0.7],
  ];
  for (const [name, side, steps, lr, falls] of CASES)
    it(`${name} at ${side}x${side}: loss finite${falls ? ' and falling' : ''}`, async () => {
      wt.manualSeed(5);
      const net = models.buildModel(name, { imageSize: side, ...(name === 'vgg11' ? { ratio: 4 } : {}) });
      models.initWeights(net, name === 'lenet' ? 'xavier' : 'kaiming');
      const losses = await trainSteps(net, side, steps, lr);
      release(net);
      expect(losses.every(Number.isFinite), `losses ${losses}`).toBe(true);
      if (falls !== null) expect(losses.at(-1)!, `losses ${losses}`).toBeLessThan(losses[0] * falls);
    });
});

describe('ninHeadInit_', () => {
  it("keeps every class logit alive at 67 px: identity 1x1 convs, bias 1, the logits the first conv's ReLU", async () => {
    wt.manualSeed(3);
    const net = models.nin();
    models.initWeights(net, 'kaiming');
    models.ninHeadInit_(net);
    net.eval();
    const block = net.children()[7] as wt.nn.Sequential;
    const [c0, c1, c2] = block.children().filter((m): m is wt.nn.Conv2d => m instanceof wt.nn.Conv2d);
    expect(Array.from(await c1.weight.toArray())).toEqual(Array.from({ length: 100 }, (_, i) => (i % 11 === 0 ? 1 : 0)));
    expect(Array.from(await c2.bias!.toArray())).toEqual(new Array(10).fill(0));
    expect(Array.from(await c0.bias!.toArray())).toEqual(new Array(10).fill(1));
    // torch's default init of the conv: |w| <= 1/sqrt(fan_in) = 1/sqrt(384 * 9)
    const w0 = await c0.weight.toArray();
    expect(Math.max(...Array.from(w0, Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(384 * 9) + 1e-7);
    const x = wt.tensor(randArray(8 * 67 * 67, 11).map((v) => Math.abs(v)), [8, 1, 67, 67]);
    const logits = await wt.noGrad(() => net.forward(x)).toArray();
    // every class has a positive logit on some image (a class at 0 on all images would get no gradient)
    for (let c = 0; c < 10; c++) expect(Math.max(...Array.from({ length: 8 }, (_, i) => logits[i * 10 + c])), `class ${c}`).toBeGreaterThan(0);
    x.dispose();
    release(net);
  });
  it('refuses a model that is not nin()', () => {
    const net = models.lenet();
    expect(() => models.ninHeadInit_(net)).toThrow(/ninHeadInit_: expected the Sequential of nin\(\)/);
    expect(() => models.ninHeadInit_(models.nin(), NaN)).toThrow(/bias must be a finite number, got NaN/);
  });
});
