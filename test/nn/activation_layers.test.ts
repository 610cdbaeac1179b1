// Activation modules (values and gradients against torch 1.13 numbers, GPU = CPU), options
// checking, Identity, and ModuleList (torch's state-dict names, list operations, errors).
import { beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { expectClose, initGpu, randArray } from '../helpers.ts';
import { GELU, Identity, LeakyReLU, LogSoftmax, Sigmoid, Softmax, Tanh } from '../../src/nn/activation_layers.ts';
import { ModuleList } from '../../src/nn/containers.ts';
import { logSoftmax, softmax } from '../../src/autograd/softmax_fn.ts';

const { nn } = wt;

beforeAll(async () => {
  await initGpu();
});

const X = [-3, -1, -0.1, 0, 0.5, 2, 4];

/** y and dsum(y)/dx of module m on `device`. */
async function apply(m: wt.nn.Module, device: 'cpu' | 'gpu', data = X, shape = [X.length]) {
  const x = wt.tensor(data, shape, { device, requiresGrad: true });
  const y = m.call(x);
  y.sum().backward();
  return { y: await y.toArray(), g: await x.grad!.toArray() };
}

describe('activation modules', () => {
  it('GELU (erf and tanh forms), LeakyReLU, Sigmoid, Tanh match torch on GPU and CPU', async () => {
    for (const device of ['gpu', 'cpu'] as const) {
      const t = await apply(new GELU({ approximate: 'tanh' }), device);
      expectClose(t.y, [-0.0036374, -0.158808, -0.0460172, 0, 0.345714, 1.9545977, 3.9999299], 1e-5, 1e-6, `${device} gelu tanh`);
      expectClose(t.g, [-0.0115843, -0.0829641, 0.4204782, 0.5, 0.8673699, 1.0860993, 1.000335], 1e-5, 1e-6, `${device} gelu tanh grad`);
      const e = await apply(new GELU(), device);
      expectClose(e.y, [-0.004049867, -0.158655286, -0.046017211, 0, 0.345731199, 1.95449996, 3.99987316], 1e-5, 1e-6, `${device} gelu`);
      const l = await apply(new LeakyReLU({ negativeSlope: 0.2 }), device);
      expectClose(l.y, [-0.6, -0.2, -0.02, 0, 0.5, 2, 4], 1e-6, 1e-7, `${device} leaky`);
      expectClose(l.g, [0.2, 0.2, 0.2, 0.2, 1, 1, 1], 1e-6, 0, `${device} leaky grad`);
      expectClose((await apply(new LeakyReLU(), device)).y, X.map((v) => (v > 0 ? v : 0.01 * v)), 1e-6, 1e-8, `${device} leaky default`);
      const s = await apply(new Sigmoid(), device);
      const sig = X.map((v) => 1 / (1 + Math.exp(-v)));
      expectClose(s.y, sig, 1e-6, 1e-7, `${device} sigmoid`);
      expectClose(s.g, sig.map((v) => v * (1 - v)), 1e-5, 1e-7, `${device} sigmoid grad`);
      const h = await apply(new Tanh(), device);
      expectClose(h.y, X.map(Math.tanh), 1e-6, 1e-7, `${device} tanh`);
      expectClose(h.g, X.map((v) => 1 - Math.tanh(v) ** 2), 1e-5, 1e-7, `${device} tanh grad`);
    }
  });

  it('Softmax and LogSoftmax modules equal the functions along their dim', async () => {
    const data = randArray(2 * 3 * 5, 1, -3, 3);
    for (const device of ['gpu', 'cpu'] as const) {
      const x = wt.tensor(data, [2, 3, 5], { device });
      for (const dim of [0, 1, -1]) {
        expectClose(await new Softmax({ dim }).call(x).toArray(), await softmax(x, dim).toArray(), 0, 0, `softmax ${dim}`);
        expectClose(await new LogSoftmax({ dim }).call(x).toArray(), await logSoftmax(x, dim).toArray(), 0, 0, `logSoftmax ${dim}`);
      }
    }
    expect(new Softmax({ dim: 1 }).toString()).toBe('Softmax(dim=1)');
    expect(new LeakyReLU().toString()).toBe('LeakyReLU(negativeSlope=0.01)');
    expect(new GELU().toString()).toBe("GELU(approximate='none')");
  });

  it('Identity returns its input; no activation has parameters', () => {
    const x = wt.zeros([2]);
    expect(new Identity().call(x)).toBe(x);
    for (const m of [new Sigmoid(), new Tanh(), new GELU(), new LeakyReLU(), new Softmax({ dim: 0 }), new LogSoftmax({ dim: 0 }), new Identity()])
      expect(Object.keys(m.stateDict())).toEqual([]);
  });

  it('reject unknown options and bad values, naming the module and the accepted keys', () => {
    expect(() => new LeakyReLU({ slope: 0.1 } as never)).toThrow(/LeakyReLU: unknown option 'slope' \(accepted: negativeSlope\)/);
    expect(() => new LeakyReLU({ negativeSlope: NaN })).toThrow(/LeakyReLU: negativeSlope must be a finite number, got NaN/);
    expect(() => new GELU({ approximate: 'fast' as never })).toThrow(/GELU: approximate must be 'none' or 'tanh', got fast/);
    expect(() => new GELU({ inplace: true } as never)).toThrow(/GELU: unknown option 'inplace' \(accepted: approximate\)/);
    expect(() => new Softmax({} as never)).toThrow(/Softmax: dim must be given as an integer/);
    expect(() => new LogSoftmax(1 as never)).toThrow(/LogSoftmax: expected an options object \{ dim \}, got 1/);
    expect(() => new Softmax({ dim: 1, axis: 2 } as never)).toThrow(/Softmax: unknown option 'axis' \(accepted: dim\)/);
  });
});

describe('ModuleList', () => {
  class Net extends nn.Module {
    layers = new ModuleList([new nn.Linear(2, 3, { device: 'cpu' }), new nn.ReLU(), new nn.Linear(3, 1, { device: 'cpu' })]);
    head = new nn.Linear(1, 1, { device: 'cpu' });
    forward(x: wt.Tensor): wt.Tensor {
      for (const m of this.layers) x = m.call(x);
      return this.head.call(x);
    }
  }

  it("registers its modules under torch's names and runs through a parent's forward", async () => {
    const net = new Net();
    // torch: ['layers.0.weight', 'layers.0.bias', 'layers.2.weight', 'layers.2.bias', 'head.weight', 'head.bias']
    expect(Object.keys(net.stateDict())).toEqual(['layers.0.weight', 'layers.0.bias', 'layers.2.weight', 'layers.2.bias', 'head.weight', 'head.bias']);
    expect(net.parameters().length).toBe(6);
    const y = net.call(wt.tensor([1, -2], [1, 2], { device: 'cpu' }));
    expect(y.shape).toEqual([1, 1]);
    y.sum().backward();
    expect(net.parameters().every((p) => p.grad !== null)).toBe(true);
    // a state dict moves between two instances
    const other = new Net();
    other.loadStateDict(net.stateDict());
    expectClose(await other.layers.at(0).stateDict().weight.toArray(), await net.layers.at(0).stateDict().weight.toArray(), 0, 0, 'load');
  });

  it('supports indexing, at(), append, extend, insert, length and iteration', () => {
    const [a, b, c, d] = [new Sigmoid(), new Tanh(), new Identity(), new GELU()];
    const ml = new ModuleList();
    expect(ml.length).toBe(0);
    ml.append(a).extend([b, c]);
    expect(ml.length).toBe(3);
    expect(ml[0]).toBe(a);
    expect(ml[2]).toBe(c);
    expect(ml.at(-1)).toBe(c);
    ml.insert(1, d);
    expect([...ml]).toEqual([a, d, b, c]);
    ml.insert(-1, new nn.ReLU());
    expect([...ml].map((m) => m.constructor.name)).toEqual(['Sigmoid', 'GELU', 'Tanh', 'ReLU', 'Identity']);
    ml.insert(99, a);
    expect(ml.at(5)).toBe(a);
    expect(ml.namedChildren().map(([k]) => k)).toEqual(['0', '1', '2', '3', '4', '5']);
    ml[1] = new Tanh();
    expect(ml[1]).toBeInstanceOf(Tanh);
    expect(new ModuleList([new nn.ReLU()]).toString()).toBe('ModuleList(\n  (0): ReLU()\n)');
  });

  it('rejects non-modules and has no forward', () => {
    expect(() => new ModuleList([new nn.ReLU(), 3 as never])).toThrow(/ModuleList: element 1 must be a Module, got number/);
    expect(() => new ModuleList(5 as never)).toThrow(/ModuleList: expected an iterable of Modules, got number/);
    expect(() => new ModuleList().append({} as never)).toThrow(/ModuleList.append must be a Module, got Object/);
    expect(() => new ModuleList().at(0)).toThrow(/ModuleList.at: index 0 out of range for 0 modules/);
    expect(() => new ModuleList().forward()).toThrow(/ModuleList: has no forward/);
  });
});

describe('Sequential.addModule', () => {
  it("names children after the indexed ones as torch's add_module, runs them in order, at() by position", async () => {
    const seq = new nn.Sequential(new nn.Linear(3, 4));
    seq.addModule('act', new nn.ReLU()).addModule('head', new nn.Linear(4, 2));
    expect(seq.namedChildren().map(([k]) => k)).toEqual(['0', 'act', 'head']);
    expect(Object.keys(seq.stateDict())).toEqual(['0.weight', '0.bias', 'head.weight', 'head.bias']);
    expect(seq.length).toBe(3);
    expect(seq.at(1)).toBeInstanceOf(nn.ReLU);
    expect(seq.at(-1)).toBe(seq.namedChildren()[2][1]);
    const x = wt.tensor(randArray(6, 2), [2, 3]);
    const chained = (seq.at(2) as wt.nn.Linear).call(wt.relu((seq.at(0) as wt.nn.Linear).call(x)));
    expectClose(await seq.call(x).toArray(), await chained.toArray(), 0, 0, 'forward');
    // an index name is the next index only, before any named child
    const s2 = new nn.Sequential().addModule('0', new nn.ReLU());
    expect(s2.namedChildren().map(([k]) => k)).toEqual(['0']);
  });

  it('rejects bad names, taken names and an append after a named child', () => {
    const seq = new nn.Sequential(new nn.ReLU()).addModule('head', new nn.Tanh());
    expect(() => seq.addModule('a.b', new nn.ReLU())).toThrow(/Sequential.addModule: expected a non-empty name without '.', got "a.b"/);
    expect(() => seq.addModule('', new nn.ReLU())).toThrow(/expected a non-empty name/);
    expect(() => seq.addModule('head', new nn.ReLU())).toThrow(/name 'head' is taken/);
    expect(() => seq.addModule('forward', new nn.ReLU())).toThrow(/name 'forward' is taken/);
    expect(() => seq.addModule('5', new nn.ReLU())).toThrow(/an index name must be the next index 2, got '5'/);
    expect(() => seq.addModule('x', 3 as never)).toThrow(/Sequential.addModule must be a Module, got number/);
    expect(() => seq.append(new nn.ReLU())).toThrow(/Sequential.append: this Sequential has a named child 'head'; add after it with addModule/);
  });
});
