// conv2d with channel groups (depthwise included) and dilation: every kernel of the family (forward,
// class and column input gradients, weight gradient, im2col) on the GPU against its CPU twin with
// both GEMM designs on awkward geometries; the op layer (all policy paths) GPU vs CPU with each
// design forced by setGemmVariant; gradcheck in float64 on the CPU; PyTorch 1.13 reference values;
// argument errors and nn.Conv2d.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu, randArray, expectClose } from '../helpers.ts';
import { launch } from '../../src/tensor/launch.ts';
import { type Conv2dGeom, conv2dKernel, convOutSize } from '../../src/kernels/conv2d.ts';
import { col2imKernel, conv2dColGradKernel } from '../../src/kernels/conv2d_col.ts';
import {
  conv2dInputGradKernel,
  conv2dWeightGradKernel,
  inputGradClasses,
  weightTransposeKernel,
} from '../../src/kernels/conv2d_backward.ts';
import { im2colKernel } from '../../src/kernels/im2col.ts';
import type { GemmChoice, GemmVariant } from '../../src/kernels/gemm.ts';
import { SMALL_M_TILES, gemmChoiceName } from '../../src/policy/gemm_variants.ts';
import { setGemmVariant } from '../../src/policy/gemm_choice.ts';
import { useColGrad, useSmallMaps } from '../../src/policy/conv_choice.ts';
import { deviceCaps } from '../../src/backend/device.ts';
import { conv2d } from '../../src/autograd/conv.ts';
import { Conv2d } from '../../src/nn/layers.ts';
import * as refs from './conv_groups_torch_refs.ts';

beforeAll(async () => {
  await initGpu();
});
afterAll(() => setGemmVariant(undefined));

type P2 = number | [number, number];
const two = (v: P2): [number, number] => (typeof v === 'number' ? [v, v] : v);

function geom(batch: number, cin: number, h: number, w: number, cout: number, k: P2, s: P2, p: P2, d: P2, groups: number): Conv2dGeom {
  const [kh, kw] = two(k);
  const [sh, sw] = two(s);
  const [ph, pw] = two(p);
  const [dh, dw] = two(d);
  return {
    batch, cin, h, w, cout, kh, kw, sh, sw, ph, pw, dh, dw, groups,
    oh: convOutSize(h, kh, sh, ph, dh), ow: convOutSize(w, kw, sw, pw, dw),
  };
}

// batch, cin, h, w, cout, kernel, stride, padding, dilation, groups
const geoms: [string, Conv2dGeom][] = [
  ['groups 2, 3x3 s1 p1, odd sizes', geom(2, 6, 9, 11, 10, 3, 1, 1, 1, 2)],
  ['groups 3, 8 channels per group (class input gradient), 4 outputs per group (vec4)', geom(2, 24, 5, 7, 12, 3, 1, 1, 1, 3)],
  ['depthwise, multiplier 2, stride 2, batch 1, non-square', geom(1, 5, 13, 12, 10, 3, 2, 1, 1, 5)],
  ['depthwise 32 channels (groups on the grid rows)', geom(2, 32, 8, 8, 32, 3, 1, 1, 1, 32)],
  ['dilation 2, stride 2, padding 2', geom(2, 3, 11, 10, 7, 3, 2, 2, 2, 1)],
  ['dilation 3, rectangular kernel and dilation, 9 channels', geom(1, 9, 10, 9, 5, [3, 2], 1, [3, 1], [3, 2], 1)],
  ['dilation 3 with stride 2 (taps in every class), padding 1', geom(2, 2, 12, 13, 3, 3, 2, 1, 3, 1)],
  ['dilation 2 with stride 4 (classes without taps)', geom(1, 3, 14, 11, 4, [3, 2], [4, 2], [2, 1], [2, 2], 1)],
  ['groups 2 + dilation (2, 3) + stride (2, 1), 8 channels per group', geom(3, 16, 10, 9, 6, 3, [2, 1], [2, 3], [2, 3], 2)],
  ['depthwise dilated 5x5 s2 p4, odd batch', geom(3, 4, 9, 10, 8, 5, 2, 4, 2, 4)],
];

const cinG = (g: Conv2dGeom) => g.cin / g.groups;
const sizes = (g: Conv2dGeom) => ({
  x: g.batch * g.cin * g.h * g.w,
  w: g.cout * cinG(g) * g.kh * g.kw,
  y: g.batch * g.cout * g.oh * g.ow,
});

type Dev = 'cpu' | 'gpu';
const t = (a: Float32Array, d: Dev) => wt.tensor(a, [a.length], { device: d });

/** fn on both devices with the same data; returns both results after comparing them. */
async function both(what: string, fn: (d: Dev) => wt.Tensor, rtol = 1e-4, atol = 1e-5): Promise<{ gpu: Float32Array; cpu: Float32Array }> {
  const g = fn('gpu');
  const c = fn('cpu');
  const out = { gpu: (await g.toArray()) as Float32Array, cpu: (await c.toArray()) as Float32Array };
  expectClose(out.gpu, out.cpu, rtol, atol, what);
  g.dispose();
  c.dispose();
  return out;
}

// the two designs on every geometry; the 16-row tile (the hardware default for groups of <= 16
// rows; the 32-row one shares its code, tested in gemm_variants.test.ts) on the grouped ones
const small: GemmChoice = { variant: 'tiled', tile: SMALL_M_TILES[0] };
const choices: [string, GemmChoice, (g: Conv2dGeom) => boolean][] = [
  ['lanes', { variant: 'lanes' }, () => true],
  ['tiled', { variant: 'tiled' }, () => true],
  [gemmChoiceName(small), small, (g) => g.groups > 1 && g.groups < g.cin],
];

describe('grouped / dilated conv2d kernels: GPU vs CPU twins', () => {
  for (const [variant, choice, use] of choices)
    for (const [name, g] of geoms.filter(([, g]) => use(g)))
      it(`${variant}: ${name}`, async () => {
        const n = sizes(g);
        const X = randArray(n.x, 1);
        const W = randArray(n.w, 2);
        const B = randArray(g.cout, 3);
        const G = randArray(n.y, 4);
        for (const [bias, relu] of [[false, false], [true, true]])
          await both(`${variant} fwd bias=${bias} relu=${relu}`, (d) =>
            launch(conv2dKernel, { ...g, bias, relu, ...choice }, bias ? [t(X, d), t(W, d), t(B, d), { shape: [n.y] }] : [t(X, d), t(W, d), { shape: [n.y] }])[0],
          );
        // the input-gradient kernels read the weight transposed: [Cin/G*KH*KW, Cout]
        const kkg = cinG(g) * g.kh * g.kw;
        const wT = (d: Dev) => launch(weightTransposeKernel, { rows: g.cout, cols: kkg }, [t(W, d), { shape: [n.w] }])[0];
        const cls = await both(`${variant} input grad (classes)`, (d) => {
          const dx = wt.full([n.x], NaN, { device: d }); // every element must be written
          const w = wT(d);
          const gy = t(G, d);
          for (const c of inputGradClasses(g)) launch(conv2dInputGradKernel, { ...g, cls: c, ...choice }, [w, gy, dx]);
          return dx;
        });
        for (const [b0, nb] of [[0, g.batch], [g.batch - 1, 1]]) {
          const col = await both(`${variant} input grad (column gradient + col2im) images ${b0}+${nb}`, (d) => {
            const dx = wt.full([n.x], NaN, { device: d });
            const w = wT(d);
            const colT = launch(conv2dColGradKernel, { ...g, b0, nb, ...choice }, [w, t(G, d), { shape: [nb * g.cin * g.kh * g.kw * g.oh * g.ow] }])[0];
            for (const c of inputGradClasses(g)) launch(col2imKernel, { ...g, b0, nb, cls: c }, [colT, dx]);
            return dx;
          });
          // both formulations of dX agree on the images this launch wrote
          const per = n.x / g.batch;
          expectClose(col.cpu.subarray(b0 * per, (b0 + nb) * per), cls.cpu.subarray(b0 * per, (b0 + nb) * per), 1e-4, 1e-5, 'column vs class dX (CPU)');
        }
        for (const bPer of [1, g.batch])
          await both(`${variant} weight grad bPer=${bPer}`, (d) =>
            launch(conv2dWeightGradKernel, { ...g, bPer, ...choice }, [t(X, d), t(G, d), { shape: [Math.ceil(g.batch / bPer) * n.w] }])[0],
          );
      });

  it('im2col with dilation, both layouts', async () => {
    for (const g of [geom(2, 3, 7, 8, 4, 3, 1, 2, 2, 1), geom(1, 2, 9, 7, 3, [2, 3], [2, 1], [1, 3], [3, 2], 1)]) {
      const X = randArray(g.batch * g.cin * g.h * g.w, 5);
      const P = g.batch * g.oh * g.ow;
      const K = g.cin * g.kh * g.kw;
      for (const kMajor of [false, true])
        await both(`im2col kMajor=${kMajor}`, (d) => launch(im2colKernel, { ...g, kMajor }, [t(X, d), { shape: [P * K] }])[0], 0, 0);
    }
  });

  it('residue classes with dilation: every input pixel once, every tap of a class reaches it', () => {
    for (const [, g] of geoms) {
      const seen = new Uint8Array(g.h * g.w);
      for (const c of inputGradClasses(g)) {
        for (let qh = 0; qh < c.qh; qh++) for (let qw = 0; qw < c.qw; qw++) seen[(c.ih0 + qh * g.sh) * g.w + c.iw0 + qw * g.sw]++;
        // the class's taps are exactly those kh with (ih + ph - kh*dh) divisible by sh
        const taps = [...Array(g.kh).keys()].filter((kh) => (((c.ih0 + g.ph - kh * g.dh) % g.sh) + g.sh) % g.sh === 0);
        expect(taps).toEqual([...Array(c.jh).keys()].map((j) => c.kh0 + c.ksh * j));
        for (let j = 0; j < c.jh; j++) expect((c.ih0 + g.ph - (c.kh0 + c.ksh * j) * g.dh) / g.sh).toBe(c.th0 - c.odh * j);
      }
      expect([...seen].every((v) => v === 1)).toBe(true);
    }
  });
});

/** Forward + backward on one device; returns the output and the gradients of x, w (and b). */
async function fwdBwd(device: Dev, shapes: number[][], fn: (...xs: wt.Tensor[]) => wt.Tensor): Promise<Float32Array[]> {
  const xs = shapes.map((s, i) => wt.tensor(randArray(s.reduce((a, b) => a * b, 1), 20 + i), s, { device, requiresGrad: true }));
  const y = fn(...xs);
  y.backward(wt.tensor(randArray(y.size, 99), y.shape, { device }));
  const out = [(await y.toArray()) as Float32Array];
  for (const x of xs) out.push((await x.grad!.toArray()) as Float32Array);
  [y, ...xs].forEach((v) => v.dispose());
  return out;
}

async function parity(what: string, shapes: number[][], fn: (...xs: wt.Tensor[]) => wt.Tensor): Promise<void> {
  const g = await fwdBwd('gpu', shapes, fn);
  const c = await fwdBwd('cpu', shapes, fn);
  g.forEach((v, i) => expectClose(v, c[i], 1e-4, 1e-4, `${what} ${i ? `grad ${i - 1}` : 'output'}`));
}

describe('conv2d op with groups / dilation: GPU vs CPU (forward and both gradients)', () => {
  for (const variant of ['lanes', 'tiled'] as GemmVariant[])
    it(`${variant}: every path`, async () => {
      setGemmVariant(variant);
      try {
        // class-GEMM dX (3 channels per group), bias, fused ReLU
        await parity('groups 3', [[2, 9, 7, 6], [6, 3, 3, 3], [6]], (x, w, b) => conv2d(x, w, b, { padding: 1, groups: 3, relu: true }));
        // column-gradient dX (2 channels, 8 outputs per group), dilation, bias
        expect(useColGrad(geom(2, 4, 9, 8, 16, 3, 1, 2, 2, 2))).toBe(true);
        await parity('groups 2 column path', [[2, 4, 9, 8], [16, 2, 3, 3], [16]], (x, w, b) => conv2d(x, w, b, { padding: 2, dilation: 2, groups: 2 }));
        // class-GEMM dX (8 channels per group), dilation, stride
        await parity('groups 2 dilated', [[2, 16, 9, 8], [10, 8, 3, 2], [10]], (x, w, b) =>
          conv2d(x, w, b, { stride: [2, 1], padding: [2, 1], dilation: [2, 3], groups: 2 }));
        // depthwise, multiplier 2 (class dX) and 4 (column dX), batch 1
        await parity('depthwise x2', [[1, 7, 11, 10], [14, 1, 3, 3], [14]], (x, w, b) => conv2d(x, w, b, { padding: 1, stride: 2, groups: 7 }));
        await parity('depthwise x4', [[1, 3, 9, 10], [12, 1, 3, 3], [12]], (x, w, b) => conv2d(x, w, b, { padding: 2, dilation: 2, groups: 3 }));
        // dilation on small maps (explicit im2col path: forward, flipped-weight dX, im2col dW)
        const g = geom(3, 9, 7, 7, 10, 3, 1, 2, 2, 1);
        expect(useSmallMaps(g, deviceCaps())).toBe(true);
        // dX = the stride-1 convolution of dY with the flipped weight, padding 2*(3-1)-2, dilation 2
        expect(useSmallMaps(geom(3, 10, 7, 7, 9, 3, 1, 2, 2, 1), deviceCaps())).toBe(true);
        await parity('dilated small map', [[3, 9, 7, 7], [10, 9, 3, 3], [10]], (x, w, b) => conv2d(x, w, b, { padding: 2, dilation: 2 }));
        // a grouped small map never takes the explicit path
        expect(useSmallMaps({ ...g, groups: 3 }, deviceCaps())).toBe(false);
        await parity('grouped small map', [[2, 9, 5, 5], [6, 3, 3, 3]], (x, w) => conv2d(x, w, null, { padding: 1, groups: 3 }));
        // dilated, no padding, few input channels: column gradient (8 outputs) and class GEMM (3)
        await parity('dilated 3 column path', [[2, 2, 12, 11], [8, 2, 3, 3]], (x, w) => conv2d(x, w, null, { dilation: 3, stride: 2 }));
        await parity('dilated 3 class path', [[2, 2, 12, 11], [3, 2, 3, 3]], (x, w) => conv2d(x, w, null, { dilation: 3, stride: 2 }));
      } finally {
        setGemmVariant(undefined);
      }
    });
});

const f64 = (shape: number[], seed: number) =>
  wt.tensor(Float64Array.from(randArray(shape.reduce((a, b) => a * b, 1), seed)), shape, { device: 'cpu', dtype: 'float64', requiresGrad: true });
const gc = wt.testing.gradcheck;

describe('gradcheck (float64 CPU): x, w, bias', () => {
  it('groups 2, class-GEMM dX (2 channels, 3 outputs per group), bias', () => {
    expect(gc((x, w, b) => conv2d(x, w, b, { padding: 1, groups: 2 }), [f64([2, 4, 5, 4], 1), f64([6, 2, 3, 3], 2), f64([6], 3)])).toBe(true);
  });
  it('groups 2, column-gradient dX (1 channel, 4 outputs per group), dilation 2, stride 2', () => {
    expect(gc((x, w, b) => conv2d(x, w, b, { stride: 2, padding: 1, dilation: 2, groups: 2 }), [f64([1, 2, 7, 6], 12), f64([8, 1, 3, 2], 13), f64([8], 14)])).toBe(true);
  });
  it('groups 2 with 8 channels per group (class dX), dilation 2, stride 2', () => {
    expect(gc((x, w, b) => conv2d(x, w, b, { stride: 2, padding: 2, dilation: 2, groups: 2 }), [f64([1, 16, 6, 5], 4), f64([4, 8, 3, 2], 5), f64([4], 6)])).toBe(true);
  });
  it('depthwise with multiplier 2, dilation (2, 3), stride (2, 1)', () => {
    expect(gc((x, w, b) => conv2d(x, w, b, { stride: [2, 1], padding: [2, 3], dilation: [2, 3], groups: 3 }), [f64([2, 3, 7, 8], 7), f64([6, 1, 3, 3], 8), f64([6], 9)])).toBe(true);
  });
  it('depthwise, one filter per channel (depthwise_conv.ts), stride (2, 1), dilation (1, 2)', () => {
    expect(gc((x, w, b) => conv2d(x, w, b, { stride: [2, 1], padding: [1, 2], dilation: [1, 2], groups: 3 }), [f64([2, 3, 6, 7], 15), f64([3, 1, 3, 3], 16), f64([3], 17)])).toBe(true);
  });
  it('dilation 2 with stride 2 (classes without taps), no bias', () => {
    expect(gc((x, w) => conv2d(x, w, null, { stride: 2, padding: 1, dilation: 2 }), [f64([1, 2, 8, 7], 10), f64([3, 2, 3, 3], 11)])).toBe(true);
  });
});

describe('PyTorch 1.13 reference values (grouped + dilated, forward and gradients)', () => {
  const cases = [
    ['groups 2 + dilation (2, 3)', refs.groupedDilated],
    ['depthwise x2 + dilation 2', refs.depthwiseDilated],
    ['depthwise (one filter per channel), stride (2, 1), dilation (1, 2)', refs.depthwiseOne],
    ['depthwise (one filter per channel), 5x3, stride (1, 3), dilation (2, 1)', refs.depthwiseOneRect],
  ] as const;
  for (const [name, r] of cases)
    for (const run of ['cpu float64', 'gpu lanes', 'gpu tiled'] as const)
      it(`${name}: ${run}`, async () => {
        const device: Dev = run === 'cpu float64' ? 'cpu' : 'gpu';
        const dtype = device === 'cpu' ? 'float64' : 'float32';
        if (device === 'gpu') setGemmVariant(run === 'gpu lanes' ? 'lanes' : 'tiled');
        try {
          const mk = (v: readonly number[], s: readonly number[]) => wt.tensor(Float64Array.from(v), [...s], { device, dtype, requiresGrad: true });
          const x = mk(r.x, r.xShape);
          const w = mk(r.w, r.wShape);
          const b = mk(r.b, [r.wShape[0]]);
          const y = conv2d(x, w, b, r.options as never);
          expect(y.shape).toEqual(r.yShape);
          y.backward(wt.tensor(Float64Array.from(r.gy), [...r.yShape], { device, dtype }));
          const [rtol, atol] = device === 'cpu' ? [1e-10, 1e-10] : [1e-4, 1e-5];
          expectClose(await y.toArray(), r.y, rtol, atol, 'y');
          expectClose(await x.grad!.toArray(), r.dx, rtol, atol, 'dx');
          expectClose(await w.grad!.toArray(), r.dw, rtol, atol, 'dw');
          expectClose(await b.grad!.toArray(), r.db, rtol, atol, 'db');
          [x, w, b, y].forEach((v) => v.dispose());
        } finally {
          setGemmVariant(undefined);
        }
      });
});

describe('policy', () => {
  it('the input gradient counts channels per group', () => {
    expect(useColGrad(geom(1, 64, 8, 8, 64, 3, 1, 1, 1, 64))).toBe(false); // depthwise: 1 in, 1 out per group
    expect(useColGrad(geom(1, 64, 8, 8, 256, 3, 1, 1, 1, 64))).toBe(true); // depthwise, multiplier 4
    expect(useColGrad(geom(1, 64, 8, 8, 256, 3, 1, 1, 1, 8))).toBe(false); // 8 per group
    expect(useColGrad(geom(1, 1, 35, 35, 96, 11, 4, 1, 1, 1))).toBe(true); // conv1
  });
});

describe('argument errors (before any GPU work)', () => {
  const x = () => wt.zeros([1, 6, 8, 8]);
  it('conv2d: groups, dilation, options', () => {
    expect(() => conv2d(wt.zeros([1, 5, 8, 8]), wt.zeros([4, 3, 3, 3]), null, { groups: 2 })).toThrow(
      'conv2d: Given groups=2, weight of size [4,3,3,3], expected input [1,5,8,8] to have 6 channels, but got 5 channels instead',
    );
    expect(() => conv2d(x(), wt.zeros([4, 2, 3, 3]), null, { groups: 3 })).toThrow(
      'conv2d: Given groups=3, expected weight to be divisible by 3 at dimension 0, but got weight of size [4,2,3,3] instead',
    );
    expect(() => conv2d(x(), wt.zeros([6, 2, 3, 3]), null, { groups: 0 })).toThrow(/conv2d: non-positive groups is not supported: groups must be a positive integer, got 0/);
    expect(() => conv2d(x(), wt.zeros([6, 2, 3, 3]), null, { groups: 1.5 })).toThrow(/conv2d: .*got 1.5/);
    expect(() => conv2d(x(), wt.zeros([6, 6, 3, 3]), null, { dilation: 0 })).toThrow(/conv2d: dilation must be an integer >= 1 or a pair of them, got 0/);
    expect(() => conv2d(x(), wt.zeros([6, 6, 3, 3]), null, { dilation: [2, 1, 1] as never })).toThrow(/conv2d: dilation must be/);
    expect(() => conv2d(x(), wt.zeros([6, 6, 3, 3]), null, { dilation: 4 })).toThrow(
      'conv2d: kernel 3x3 (dilated 9x9) is larger than the padded input 8x8 (x [1,6,8,8], padding 0,0)',
    );
    expect(() => conv2d(x(), wt.zeros([6, 6, 3, 3]), null, { dilations: 2 } as never)).toThrow(
      "conv2d: unknown option 'dilations' (accepted: stride, padding, dilation, groups, relu)",
    );
    expect(() => conv2d(x(), wt.zeros([6, 6, 3, 3]), null, null as never)).toThrow(/conv2d: expected an options object/);
    expect(() => wt.nn.grad.conv2dWeight(x(), [6, 6, 3, 3], wt.zeros([1, 6, 6, 6]), { group: 2 } as never)).toThrow(
      /conv2dWeightGrad: unknown option 'group'/,
    );
  });

  it('nn.Conv2d: groups, dilation, options', () => {
    expect(() => new Conv2d(5, 6, 3, { groups: 2 })).toThrow('Conv2d: inChannels must be divisible by groups, got inChannels 5 and groups 2');
    expect(() => new Conv2d(6, 5, 3, { groups: 2 })).toThrow('Conv2d: outChannels must be divisible by groups, got outChannels 5 and groups 2');
    expect(() => new Conv2d(6, 6, 3, { groups: 0 })).toThrow('Conv2d: groups must be a positive integer, got 0');
    expect(() => new Conv2d(6, 6, 3, { dilation: 0 })).toThrow('Conv2d: dilation must be a positive integer, got 0');
    expect(() => new Conv2d(6, 6, 3, { padding_mode: 'zeros' } as never)).toThrow(
      "Conv2d: unknown option 'padding_mode' (accepted: stride, padding, dilation, groups, bias, device)",
    );
  });
});

describe('nn.Conv2d with groups and dilation', () => {
  it('weight [out, in/groups, kh, kw], PyTorch names, same values as the function', async () => {
    const m = new Conv2d(6, 12, [3, 2], { groups: 3, dilation: 2, padding: 2, stride: [1, 2], device: 'cpu' });
    expect(m.weight.shape).toEqual([12, 2, 3, 2]);
    expect(m.bias!.shape).toEqual([12]);
    expect(Object.keys(m.stateDict())).toEqual(['weight', 'bias']);
    expect(m.toString()).toContain('Conv2d(6, 12, kernelSize=(3, 2), stride=(1, 2), padding=2, dilation=2, groups=3)');
    // kaiming-uniform bound from fan_in = in/groups * kh * kw (torch's reset_parameters)
    const bound = 1 / Math.sqrt(2 * 3 * 2);
    expect(Math.max(...(await m.weight.toArray()).map(Math.abs))).toBeLessThanOrEqual(bound);
    const x = wt.tensor(randArray(2 * 6 * 7 * 9, 5), [2, 6, 7, 9], { device: 'cpu' });
    const y = m.forward(x);
    const want = conv2d(x, m.weight, m.bias, { groups: 3, dilation: 2, padding: 2, stride: [1, 2] });
    expectClose(await y.toArray(), await want.toArray(), 0, 0, 'module vs function');
    // Sequential fuses Conv2d + ReLU: same values
    const s = new wt.nn.Sequential(m, new wt.nn.ReLU());
    const ys = s.forward(x);
    expectClose(await ys.toArray(), (await want.toArray()).map((v) => Math.max(v, 0)), 0, 0, 'fused ReLU');
  });
});
