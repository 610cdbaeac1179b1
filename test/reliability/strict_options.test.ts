// Strict options: every public function and constructor that takes an options object rejects an
// unknown key (a typo, a PyTorch spelling) with an Error naming the op, the key and the accepted
// keys, before any work. One block per family.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { checkOptions } from '../../src/backend/options.ts';
import { initGpu } from '../helpers.ts';

const { nn, optim, data } = wt;
const dir = mkdtempSync(join(tmpdir(), 'wt-strict-'));

beforeAll(async () => {
  await initGpu();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `f` fails (throws or rejects) naming `op`, the unknown `key` and, among the accepted keys, `known`. */
async function rejects(f: () => unknown, op: string, key: string, known: string): Promise<void> {
  let err: unknown = null;
  try {
    await f();
  } catch (e) {
    err = e;
  }
  expect(err, `${op} accepted '${key}'`).toBeInstanceOf(Error);
  const msg = (err as Error).message;
  expect(msg.startsWith(`${op}: unknown option '${key}'`), msg).toBe(true);
  expect(msg).toMatch(new RegExp(`accepted(?: options)?:? .*\\b${known}\\b`));
}

// `never` casts: the point is a key the types do not allow
const bad = <T extends object>(o: T, key = 'bogus') => ({ ...o, [key]: 1 }) as never;

describe('the shared helper', () => {
  it('names the op, the key and the accepted keys; rejects non-objects and class instances', () => {
    expect(() => checkOptions('op', { a: 1, b: 2 }, ['a'])).toThrow("op: unknown option 'b' (accepted: a)");
    expect(() => checkOptions('op', 5, ['a'])).toThrow('op: expected an options object { a }, got 5');
    expect(() => checkOptions('op', wt.zeros([1], { device: 'cpu' }), ['a'])).toThrow('op: expected an options object { a }, got a Tensor');
    expect(checkOptions('op', undefined, ['a'])).toEqual({});
    expect(checkOptions('op', Object.create(null) as object, ['a'])).toEqual({});
  });
});

describe('creation', () => {
  it('tensor, zeros, ones, full, arange, rand, randn', async () => {
    await rejects(() => wt.tensor([1, 2], [2], bad({ dtype: 'float32' }, 'dType')), 'tensor', 'dType', 'dtype');
    await rejects(() => wt.zeros([2], bad({}, 'requires_grad')), 'zeros', 'requires_grad', 'requiresGrad');
    await rejects(() => wt.ones([2], bad({})), 'ones', 'bogus', 'device');
    await rejects(() => wt.full([2], 3, bad({})), 'full', 'bogus', 'dtype');
    await rejects(() => wt.arange(0, 4, 1, bad({})), 'arange', 'bogus', 'device');
    await rejects(() => wt.rand([2], bad({ low: 0 }, 'max')), 'rand', 'max', 'high');
    await rejects(() => wt.randn([2], bad({ std: 2 }, 'stddev')), 'randn', 'stddev', 'std');
    // rand / randn own keys are accepted
    expect(wt.randn([3], { mean: 1, std: 0, device: 'cpu' }).data).toEqual(new Float32Array([1, 1, 1]));
  });
});

describe('conv2d and linear', () => {
  it('conv2d, its raw gradients, and the Conv2d / Linear modules', async () => {
    const x = wt.zeros([1, 1, 4, 4]);
    const w = wt.zeros([2, 1, 3, 3]);
    await rejects(() => wt.conv2d(x, w, null, bad({ stride: 1 }, 'pading')), 'conv2d', 'pading', 'padding');
    await rejects(() => nn.grad.conv2dInput([1, 1, 4, 4], w, wt.zeros([1, 2, 2, 2]), bad({}, 'group')), 'conv2dInputGrad', 'group', 'stride');
    await rejects(() => nn.grad.conv2dWeight(x, [2, 1, 3, 3], wt.zeros([1, 2, 2, 2]), bad({})), 'conv2dWeightGrad', 'bogus', 'padding');
    await rejects(() => new nn.Conv2d(1, 2, 3, bad({ padding: 1 }, 'padding_mode')), 'Conv2d', 'padding_mode', 'padding');
    await rejects(() => new nn.Linear(3, 2, bad({ bias: false }, 'dtype')), 'Linear', 'dtype', 'bias');
  });
});

describe('pooling', () => {
  it('maxPool2d, avgPool2d and their modules', async () => {
    const x = wt.zeros([1, 1, 4, 4]);
    await rejects(() => wt.maxPool2d(x, 2, 2, 0, bad({}, 'ceil_mode')), 'maxPool2d', 'ceil_mode', 'ceilMode');
    await rejects(() => wt.avgPool2d(x, 2, bad({ stride: 2 }, 'count_include_pad')), 'avgPool2d', 'count_include_pad', 'countIncludePad');
    await rejects(() => new nn.MaxPool2d(2, 2, 0, bad({}, 'dilation')), 'MaxPool2d', 'dilation', 'ceilMode');
    await rejects(() => new nn.AvgPool2d(2, bad({}, 'dilation')), 'AvgPool2d', 'dilation', 'padding');
  });
});

describe('dropout', () => {
  it('dropout(x, { p, training }) and Dropout({ p })', async () => {
    const x = wt.ones([8]);
    await rejects(() => wt.dropout(x, bad({ p: 0.5 }, 'inplace')), 'dropout', 'inplace', 'training');
    await rejects(() => new nn.Dropout(bad({ p: 0.5 }, 'inplace')), 'Dropout', 'inplace', 'p');
    // the object forms work
    expect(Array.from(await wt.dropout(x, { p: 0.5, training: false }).toArray())).toEqual(Array(8).fill(1));
    expect(new nn.Dropout({ p: 0.2 }).p).toBe(0.2);
  });
});

describe('losses', () => {
  it('functional losses and loss modules', async () => {
    const x = wt.zeros([2, 3]);
    const y = wt.tensor([0, 1], [2], { dtype: 'int32' });
    await rejects(() => wt.crossEntropy(x, y, bad({}, 'label_smoothing')), 'crossEntropy', 'label_smoothing', 'labelSmoothing');
    await rejects(() => wt.nllLoss(x, y, bad({}, 'ignore_index')), 'nllLoss', 'ignore_index', 'ignoreIndex');
    await rejects(() => wt.mseLoss(x, x, bad({}, 'size_average')), 'mseLoss', 'size_average', 'reduction');
    await rejects(() => wt.l1Loss(x, x, bad({})), 'l1Loss', 'bogus', 'reduction');
    await rejects(() => wt.binaryCrossEntropyWithLogits(x, x, bad({}, 'pos_weight')), 'binaryCrossEntropyWithLogits', 'pos_weight', 'posWeight');
    await rejects(() => new nn.CrossEntropyLoss(bad({})), 'CrossEntropyLoss', 'bogus', 'weight');
    await rejects(() => new nn.MSELoss(bad({})), 'MSELoss', 'bogus', 'reduction');
  });
});

describe('norms', () => {
  it('BatchNorm1d / 2d, LayerNorm, GroupNorm', async () => {
    await rejects(() => new nn.BatchNorm2d(3, bad({}, 'track_running_stats')), 'BatchNorm2d', 'track_running_stats', 'trackRunningStats');
    await rejects(() => new nn.BatchNorm1d(3, bad({})), 'BatchNorm1d', 'bogus', 'momentum');
    await rejects(() => new nn.LayerNorm(3, bad({}, 'elementwise_affine')), 'LayerNorm', 'elementwise_affine', 'elementwiseAffine');
    await rejects(() => new nn.GroupNorm(1, 3, bad({})), 'GroupNorm', 'bogus', 'affine');
  });
});

describe('optimizers and schedulers', () => {
  it('constructors, parameter groups, schedulers and the functional updates', async () => {
    const p = wt.zeros([2], { requiresGrad: true });
    const g = wt.zeros([2]);
    await rejects(() => new optim.SGD([p], bad({ lr: 0.1 }, 'weight_decay')), 'SGD', 'weight_decay', 'weightDecay');
    await rejects(() => new optim.Adam([p], bad({}, 'beta1')), 'Adam', 'beta1', 'betas');
    await rejects(() => new optim.AdamW([p], bad({})), 'AdamW', 'bogus', 'lr');
    await rejects(() => new optim.RMSprop([p], bad({})), 'RMSprop', 'bogus', 'alpha');
    await rejects(() => new optim.SGD([bad({ params: [p] }, 'learning_rate')], { lr: 0.1 }), 'SGD parameter group', 'learning_rate', 'lr');
    const opt = new optim.SGD([p], { lr: 0.1 });
    await rejects(() => new optim.lrScheduler.StepLR(opt, bad({ stepSize: 1 }, 'step_size')), 'StepLR', 'step_size', 'stepSize');
    await rejects(() => new optim.lrScheduler.CosineAnnealingLR(opt, bad({ tMax: 5 }, 'T_max')), 'CosineAnnealingLR', 'T_max', 'tMax');
    const sgd = { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, firstStep: true };
    await rejects(() => optim.functional.sgd(p, g, null, bad(sgd)), 'sgdUpdate', 'bogus', 'firstStep');
    const adam = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1 };
    await rejects(() => optim.functional.adam(p, g, wt.zeros([2]), wt.zeros([2]), null, bad(adam, 'betas')), 'adamUpdate', 'betas', 'beta1');
    const rms = { lr: 0.1, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0 };
    await rejects(() => optim.functional.rmsprop(p, g, wt.zeros([2]), null, null, bad(rms)), 'rmspropUpdate', 'bogus', 'centered');
  });
});

describe('modules', () => {
  it('activations, registerBuffer, loadStateDict, the init functions', async () => {
    await rejects(() => new nn.GELU(bad({}, 'inplace')), 'GELU', 'inplace', 'approximate');
    await rejects(() => new nn.LeakyReLU(bad({}, 'negative_slope')), 'LeakyReLU', 'negative_slope', 'negativeSlope');
    await rejects(() => new nn.Softmax(bad({ dim: 1 })), 'Softmax', 'bogus', 'dim');
    const m = new nn.Linear(2, 2);
    await rejects(() => m.registerBuffer('stat', wt.zeros([1]), bad({}, 'persistant')), 'registerBuffer', 'persistant', 'persistent');
    await rejects(() => m.loadStateDict(m.stateDict(), bad({}, 'assign')), 'loadStateDict', 'assign', 'strict');
    await rejects(() => nn.init.kaimingUniform_(m.weight, bad({}, 'gain')), 'kaimingUniform_', 'gain', 'nonlinearity');
  });
});

describe('data', () => {
  const split = { images: new Uint8Array(4 * 28 * 28), labels: new Uint8Array(4), n: 4, rows: 28, cols: 28 };
  it('Loader (and its augment options), resizePacked, the Fashion-MNIST readers', async () => {
    await rejects(() => new data.Loader(split, bad({ batchSize: 2 }, 'drop_last')), 'Loader', 'drop_last', 'dropLast');
    await rejects(() => new data.Loader(split, { batchSize: 2, augment: bad({ pad: 2 }, 'crop') }), 'Loader augment', 'crop', 'flip');
    const packed = data.uploadBytes(split.images.subarray(0, 28 * 28), 'gpu');
    await rejects(() => data.resizePacked(packed, bad({ n: 1, inH: 28, inW: 28, outH: 8, outW: 8 }, 'mode')), 'resizePacked', 'mode', 'outH');
    await rejects(() => data.fashionMNISTFromBytes({} as never, bad({})), 'fashionMNISTFromBytes', 'bogus', 'trainLimit');
    await rejects(() => data.fetchFashionMNIST(bad({}, 'url')), 'fetchFashionMNIST', 'url', 'baseUrl');
    await rejects(() => data.loadFashionMNIST(bad({}, 'root')), 'loadFashionMNIST', 'root', 'dir');
    await rejects(() => data.locateFashionMNIST(bad({}, 'download')), 'locateFashionMNIST', 'download', 'searchPath');
  });
});

describe('save, load and checkpoints', () => {
  it('files and bytes', async () => {
    const m = new nn.Linear(2, 2);
    const path = join(dir, 'm.safetensors');
    await wt.save(m.stateDict(), path);
    await rejects(() => wt.save(m.stateDict(), path, undefined, bad({}, 'int64')), 'save', 'int64', 'int32As');
    await rejects(() => wt.saveBytes(m.stateDict(), undefined, bad({})), 'saveBytes', 'bogus', 'int32As');
    await rejects(() => wt.load(path, bad({}, 'map_location')), 'load', 'map_location', 'device');
    await rejects(() => wt.loadBytes(new Uint8Array(8), bad({})), 'load', 'bogus', 'device');
    const ck = join(dir, 'c.safetensors');
    await rejects(() => wt.saveCheckpoint(ck, bad({ model: m, epoch: 1 }, 'optim')), 'saveCheckpoint', 'optim', 'optimizer');
    await wt.saveCheckpoint(ck, { model: m, epoch: 1 });
    await rejects(() => wt.loadCheckpoint(ck, bad({ model: m }, 'lrScheduler')), 'loadCheckpoint', 'lrScheduler', 'scheduler');
    await rejects(() => wt.saveCheckpointBytes(bad({ model: m, epoch: 1 })), 'saveCheckpoint', 'bogus', 'extra');
  });
});

describe('init and the runtime', () => {
  it('init, memory, profiler.createTimer, backward, gradcheck, kernels', async () => {
    await rejects(() => wt.init(bad({}, 'power_preference')), 'init', 'power_preference', 'powerPreference');
    await rejects(() => wt.init(bad({}, 'dawn_options')), 'init', 'dawn_options', 'dawnOptions');
    await rejects(() => wt.memory(bad({}, 'details')), 'memory', 'details', 'detail');
    await rejects(() => wt.profiler.createTimer(8, bad({})), 'profiler.createTimer', 'bogus', 'device');
    const x = wt.ones([2], { requiresGrad: true });
    await rejects(() => x.sum().backward(undefined, bad({}, 'retain_graph')), 'backward', 'retain_graph', 'retainGraph');
    const xc = wt.ones([2], { device: 'cpu', dtype: 'float64', requiresGrad: true });
    await rejects(() => wt.testing.gradcheck((t) => t.sum(), [xc], bad({})), 'gradcheck', 'bogus', 'atol');
    const a = wt.ones([2, 2]);
    await rejects(() => wt.kernels.gemm(a, a, bad({}, 'transposeA')), 'kernels.gemm', 'transposeA', 'transA');
    await rejects(() => wt.kernels.runKernel(wt.kernels.scalarSumKernel, { n: 2, scale: 1, accumulate: false }, [a, { shape: [1] }], bad({})), 'runKernel scalar_sum', 'bogus', 'device');
  });
});
