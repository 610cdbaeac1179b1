// ONNX export: models traced by wt.onnx, run in ONNX Runtime (onnxruntime-node, CPU), must give our
// outputs to 1e-4: d2l's LeNet and ResNet-18 on the GPU, a model using every op the exporter
// writes (modules and functional ops, on the CPU) at opsets 13, 17 and 21, a symbolic batch, the
// file writer, and the errors for ops ONNX cannot express.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import * as wt from 'webgpu-tensor';
import * as onnx from '../../src/node/onnx_node.ts';
import { decodeModel } from '../../src/io/onnx_proto.ts';
import { lenet, resnet18 } from '../../src/models/index.ts';
import { Tensor } from '../../src/tensor/tensor.ts';
import { BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm } from '../../src/nn/norm_layers.ts';
import { AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d } from '../../src/nn/pool_layers.ts';
import { add, div, maximum, minimum, mul, sub, pow, neg, exp, log, sqrt, abs, square, reciprocal, sign } from '../../src/autograd/pointwise.ts';
import { cat, narrow, pad, slice } from '../../src/autograd/region_ops.ts';
import { clamp, where } from '../../src/autograd/clamp_where.ts';
import { layerNorm, groupNorm } from '../../src/autograd/row_norm_fn.ts';
import { softmax } from '../../src/autograd/softmax_fn.ts';
import { expectClose, initGpu, randArray } from '../helpers.ts';

const nn = wt.nn;
type Module = wt.nn.Module;

async function runOrt(model: Uint8Array | string, x: Float32Array, dims: readonly number[]): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const s = await ort.InferenceSession.create(model as Uint8Array);
  try {
    const r = await s.run({ input: new ort.Tensor('float32', x, dims) });
    return { data: r.output.data as Float32Array, dims: r.output.dims };
  } finally {
    await s.release();
  }
}

async function ours(model: Module, x: wt.Tensor): Promise<Float32Array> {
  const y = wt.noGrad(() => model.eval().forward(x));
  return (await y.toArray()) as Float32Array;
}

/** Give every BatchNorm non-trivial running statistics and affine parameters. */
function randomizeNorms(model: Module, seed: number): void {
  wt.noGrad(() => {
    let k = seed;
    for (const m of model.modules())
      if (m instanceof BatchNorm2d || m instanceof BatchNorm1d) {
        const c = m.numFeatures;
        const set = (t: wt.Tensor | null, lo: number, hi: number) => t?.copy_(wt.tensor(randArray(c, k++, lo, hi), [c], { device: t.device }));
        set(m.running_mean, -0.5, 0.5);
        set(m.running_var, 0.5, 2);
        set(m.weight, 0.5, 1.5);
        set(m.bias, -0.3, 0.3);
      }
  });
}

const opTypes = (bytes: Uint8Array) => new Set(decodeModel(bytes).graph!.node!.map((n) => n.opType!));

describe('onnx export: d2l models in ONNX Runtime', () => {
  beforeAll(async () => {
    await initGpu();
  });

  it('LeNet (1x1x28x28, GPU): exported graph matches our logits to 1e-4', async () => {
    wt.manualSeed(1);
    const net = lenet();
    const x = wt.tensor(randArray(28 * 28, 2), [1, 1, 28, 28]);
    const bytes = await onnx.exportBytes(net, x);
    const r = await runOrt(bytes, randArray(28 * 28, 2), [1, 1, 28, 28]);
    expect(r.dims).toEqual([1, 10]);
    expectClose(r.data, await ours(net, x), 1e-4, 1e-4, 'lenet');
    expect(opTypes(bytes)).toEqual(new Set(['Conv', 'Sigmoid', 'AveragePool', 'Flatten', 'Gemm']));
    // initializers are the state dict, under its names
    const init = decodeModel(bytes).graph!.initializer!.map((t) => t.name);
    expect(init.slice(0, 10).sort()).toEqual(Object.keys(net.stateDict()).sort());
  });

  it('ResNet-18 (1x1x32x32, GPU, BatchNorm in inference form): matches to 1e-4', async () => {
    wt.manualSeed(3);
    const net = resnet18();
    randomizeNorms(net, 10);
    const xs = randArray(32 * 32, 4);
    const x = wt.tensor(xs, [1, 1, 32, 32]);
    const before = await (net.stateDict()['1.0.bn1.running_mean'] as Tensor).toArray();
    net.train();
    const bytes = await onnx.exportBytes(net, x);
    // the trace ran in eval mode and put the training flags back; running statistics untouched
    expect(net.modules().every((m) => m.training)).toBe(true);
    expect(await (net.stateDict()['1.0.bn1.running_mean'] as Tensor).toArray()).toEqual(before);
    const r = await runOrt(bytes, xs, [1, 1, 32, 32]);
    expectClose(r.data, await ours(net, x), 1e-4, 1e-4, 'resnet18');
    const ops = opTypes(bytes);
    for (const op of ['Conv', 'BatchNormalization', 'Relu', 'MaxPool', 'Add', 'GlobalAveragePool', 'Flatten', 'Gemm']) expect(ops).toContain(op);
    // node names follow the modules owning the weights
    expect(decodeModel(bytes).graph!.node!.some((n) => n.name!.startsWith('/1.0.conv1/Conv'))).toBe(true);
  });

  it('ResNet-18 with dynamicBatch: exported at batch 1, runs at batch 3 (64x64)', async () => {
    wt.manualSeed(5);
    const net = resnet18({ numClasses: 7 });
    randomizeNorms(net, 20);
    const x1 = wt.tensor(randArray(64 * 64, 6), [1, 1, 64, 64]);
    const bytes = await onnx.exportBytes(net, x1, { dynamicBatch: true });
    const io = decodeModel(bytes).graph!;
    expect(io.input![0].type!.tensorType!.shape!.dim![0].dimParam).toBe('batch');
    expect(io.output![0].type!.tensorType!.shape!.dim![0].dimParam).toBe('batch');
    const x3 = randArray(3 * 64 * 64, 7);
    const r = await runOrt(bytes, x3, [3, 1, 64, 64]);
    expect(r.dims).toEqual([3, 7]);
    expectClose(r.data, await ours(net, wt.tensor(x3, [3, 1, 64, 64])), 1e-4, 1e-4, 'resnet18 batch 3');
  });
});

/** A user's block built from functional ops (every pointwise and shape op the exporter writes). */
class Functional extends nn.Module {
  lin = new nn.Linear(6, 6, { device: 'cpu' });
  /** a constant mask held outside the state (a '_' field) */
  _mask = wt.tensor(randArray(6, 40).map((v) => (v > 0 ? 1 : 0)), [6], { device: 'cpu' });
  forward(x: wt.Tensor): wt.Tensor {
    // x [B, 4, 6]
    const a = add(mul(x, 0.5), sub(x, 1));
    const b = div(maximum(a, minimum(x, 0.25)), add(abs(x), 1));
    const c = add(neg(exp(clamp(b, -2, 2))), log(add(square(x), 1)));
    const d = add(mul(sqrt(add(abs(c), 1)), reciprocal(add(abs(x), 2))), pow(add(abs(x), 1), 1.5));
    const e = add(mul(sign(x), 0.1), this.lin.forward(d)); // Linear on a 3-D input: MatMul + Add
    const f = where(this._mask, e, mul(e, -2));
    const g = cat([narrow(f, 1, 1, 2), slice(f, 1, 0, 4, 2)], 1); // [B, 4, 6]
    const h = pad(g, [1, 2], -0.5); // [B, 4, 9]
    const t = h.permute([0, 2, 1]).reshape([h.shape[0], 9, 2, 2]).sum(3).mean(2, true); // [B, 9, 1]
    const u = add(t.expand([h.shape[0], 9, 4]), h.transpose(1, 2).max(2, true)); // [B, 9, 4]
    const v = add(u, h.transpose(1, 2).min(2, true)).matmul(wt.tensor(randArray(16, 41), [4, 4], { device: 'cpu' }));
    const w = layerNorm(v, [4], this.lin.weight.narrow(0, 0, 4).sum(1), null, 1e-4);
    const z = softmax(groupNorm(w.reshape([h.shape[0], 9, 2, 2]), 3), 1).unsqueeze(1).squeeze(1);
    return z.flatten(1).logSoftmax(1).clone();
  }
}

function everyOpModel(): Module {
  const d = { device: 'cpu' as const };
  return new nn.Sequential(
    new nn.Conv2d(3, 8, 3, { padding: 1, ...d }),
    new nn.ReLU(), // fused into the conv kernel, written as Conv + Relu
    new BatchNorm2d(8, d),
    new nn.MaxPool2d(3, 2, 1, { ceilMode: true }),
    new nn.LocalResponseNorm(3, 1e-3, 0.7, 1.5),
    new nn.Conv2d(8, 8, [3, 1], { stride: [1, 2], padding: [1, 0], bias: false, ...d }),
    new nn.Sigmoid(),
    new AvgPool2d(3, { stride: 1, padding: 1, countIncludePad: false }),
    new nn.Tanh(),
    new AvgPool2d(2, { stride: 1, divisorOverride: 3 }),
    new nn.GELU(),
    new AdaptiveMaxPool2d([2, 2]),
    new nn.LeakyReLU({ negativeSlope: 0.2 }),
    new GroupNorm(2, 8, d),
    new LayerNorm([2, 2], d),
    new nn.GELU({ approximate: 'tanh' }),
    new nn.Dropout(0.3),
    new AdaptiveAvgPool2d([1, 2]),
    new nn.Flatten(),
    new nn.Linear(16, 24, d),
    new BatchNorm1d(24, d),
    new nn.Identity(),
    new nn.Softmax({ dim: 1 }),
    new nn.Linear(24, 24, d),
    new FunctionalAdapter(),
    new nn.LogSoftmax({ dim: 1 }),
  );
}

/** [B, 24] -> the Functional block on [B, 4, 6] -> [B, 36]. */
class FunctionalAdapter extends nn.Module {
  inner = new Functional();
  forward(x: wt.Tensor): wt.Tensor {
    return this.inner.forward(x.reshape([x.shape[0], 4, 6]));
  }
}

describe('onnx export: every op', () => {
  // [2, 3, 12, 9] -> conv 12x9 -> max pool (ceil) 7x5 -> conv 7x3 -> pools 7x3, 6x2 -> adaptive 2x2, 1x2
  const shape = [2, 3, 12, 9];
  const xs = randArray(2 * 3 * 12 * 9, 50);

  for (const opsetVersion of [13, 17, 21])
    it(`a model using every exported op (modules and functional ops) matches ONNX Runtime at opset ${opsetVersion}`, async () => {
      wt.manualSeed(7);
      const net = everyOpModel();
      randomizeNorms(net, 30);
      const x = wt.tensor(xs, shape, { device: 'cpu' });
      const bytes = await onnx.exportBytes(net, x, { opsetVersion });
      const r = await runOrt(bytes, xs, shape);
      expectClose(r.data, await ours(net, x), 1e-4, 1e-5, `every op, opset ${opsetVersion}`);
      const ops = opTypes(bytes);
      const want = [
        'Conv', 'Relu', 'BatchNormalization', 'MaxPool', 'LRN', 'Sigmoid', 'AveragePool', 'Tanh', 'LeakyRelu', 'Flatten', 'Gemm',
        'Softmax', 'LogSoftmax', 'Add', 'Sub', 'Mul', 'Div', 'Max', 'Min', 'Neg', 'Exp', 'Log', 'Sqrt', 'Abs', 'Sign', 'Reciprocal',
        'Pow', 'Clip', 'MatMul', 'Transpose', 'Where', 'Concat', 'Slice', 'Pad', 'Reshape', 'ReduceSum', 'ReduceMean', 'ReduceMax',
        'ReduceMin', 'Expand',
      ];
      for (const op of want) expect(ops, op).toContain(op);
      expect(ops.has('LayerNormalization')).toBe(opsetVersion >= 17);
      expect(ops.has('Gelu')).toBe(opsetVersion >= 20);
      expect(Number(decodeModel(bytes).opsetImport![0].version)).toBe(opsetVersion);
    });
});

describe('onnx export: file, options and errors', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'wt-onnx-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('export() writes the same bytes to a file atomically (no temporary file left)', async () => {
    wt.manualSeed(11);
    const net = new nn.Sequential(new nn.Linear(5, 3, { device: 'cpu' }), new nn.ReLU());
    const x = wt.tensor(randArray(10, 12), [2, 5], { device: 'cpu' });
    const path = join(dir, 'small.onnx');
    await onnx.export(net, x, path, { opsetVersion: 17 });
    expect(readFileSync(path).equals(await onnx.exportBytes(net, x))).toBe(true);
    expect(readdirSync(dir)).toEqual(['small.onnx']);
    const r = await runOrt(path, randArray(10, 12), [2, 5]);
    expectClose(r.data, await ours(net, x), 1e-5, 1e-6, 'file');
  });

  it('rejects bad arguments and unknown options, naming them', async () => {
    const net = new nn.Sequential(new nn.ReLU());
    const x = wt.zeros([1, 2], { device: 'cpu' });
    await expect(onnx.exportBytes(net, x, { opset: 17 } as never)).rejects.toThrow(/unknown option 'opset' \(accepted: opsetVersion, dynamicBatch, inputName, outputName\)/);
    await expect(onnx.exportBytes(net, x, { opsetVersion: 9 })).rejects.toThrow(/opsetVersion must be an integer from 13 to 21, got 9/);
    await expect(onnx.exportBytes({} as never, x)).rejects.toThrow(/model must be a Module/);
    await expect(onnx.exportBytes(net, wt.zeros([2], { device: 'cpu', dtype: 'int32' }))).rejects.toThrow(/exampleInput must be float32/);
    await expect(onnx.exportBytes(net, x, { inputName: 'a', outputName: 'a' })).rejects.toThrow(/must differ/);
    await expect(onnx.export(net, x, '')).rejects.toThrow(/path must be a non-empty string/);
  });

  it('adaptive pools over bins of one size at a fixed stride (13 -> 6) export as plain pools', async () => {
    const xs13 = randArray(2 * 3 * 13 * 13, 17);
    const x = wt.tensor(xs13, [2, 3, 13, 13], { device: 'cpu' });
    for (const [pool, op] of [[new AdaptiveAvgPool2d(6), 'AveragePool'], [new AdaptiveMaxPool2d([6, 6]), 'MaxPool']] as const) {
      const net = new nn.Sequential(pool);
      const bytes = await onnx.exportBytes(net, x);
      expect(opTypes(bytes)).toContain(op);
      const r = await runOrt(bytes, xs13, [2, 3, 13, 13]);
      expectClose(r.data, await ours(net, x), 1e-6, 1e-6, op);
    }
  });

  it('names ops ONNX cannot express: even LRN size, uneven adaptive bins, losses', async () => {
    const x = wt.tensor(randArray(2 * 4 * 5 * 5, 13), [2, 4, 5, 5], { device: 'cpu' });
    await expect(onnx.exportBytes(new nn.Sequential(new nn.LocalResponseNorm(2)), x)).rejects.toThrow(/even size \(2\)/);
    await expect(onnx.exportBytes(new nn.Sequential(new AdaptiveAvgPool2d(3)), x)).rejects.toThrow(/from 5x5 to 3x3 has uneven bins/);
    class Loss extends nn.Module {
      forward(t: wt.Tensor) {
        return wt.crossEntropy(t.flatten(1), wt.tensor([1, 2], [2], { device: 'cpu', dtype: 'int32' }));
      }
    }
    await expect(onnx.exportBytes(new Loss(), x)).rejects.toThrow(/the op '.*' cannot be exported to ONNX \(supported: conv2d/);
  });

  it('refuses a forward that turns the input into a constant through an unrecorded op (comparison)', async () => {
    class Gate extends nn.Module {
      forward(t: wt.Tensor) {
        return where(wt.gt(t, 0), t, mul(t, 0.1));
      }
    }
    const x = wt.tensor(randArray(8, 14), [2, 4], { device: 'cpu' });
    await expect(onnx.exportBytes(new Gate(), x)).rejects.toThrow(/op autograd does not record/);
    // a constant made inside the forward that does not depend on the input is embedded
    class Bias extends nn.Module {
      forward(t: wt.Tensor) {
        return add(t, wt.full([4], 0.5, { device: 'cpu' }));
      }
    }
    const r = await runOrt(await onnx.exportBytes(new Bias(), x), randArray(8, 14), [2, 4]);
    expectClose(r.data, Array.from(randArray(8, 14), (v) => v + 0.5), 1e-6, 1e-6, 'constant');
  });

  it('a model that returns its input still has an output', async () => {
    const x = wt.tensor(randArray(6, 15), [2, 3], { device: 'cpu' });
    const r = await runOrt(await onnx.exportBytes(new nn.Sequential(new nn.Identity()), x), randArray(6, 15), [2, 3]);
    expectClose(r.data, randArray(6, 15), 0, 0, 'identity');
  });
});
