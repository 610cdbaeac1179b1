// GEMM variants (src/kernels/gemm.ts, src/policy/gemm_variants.ts): every 'tiled' tile configuration
// (workgroup tiles 16..128 rows, 64..128 columns, 4x4..8x8 outputs per invocation, K slices 8..32, double buffering on
// and off, vec4 loads on and off, subgroup-shared A where lavapipe offers subgroups) against the CPU
// twin on awkward matmul shapes (M, N, K odd or not multiples of the tile, K below the slice, batch
// 1, transposed and broadcast operands, fused bias / ReLU) and through a conv2d forward by params;
// split-K with S = 1, 2, 3, 7 on both designs (partials and the reduced result, matmul and the conv
// weight gradient by params); the caps rules and the candidate lists. lavapipe compiles slowly, so
// each config gets two matmul shapes that share one pipeline and one conv; the pairs rotate over
// the configs so the set covers every loader path.
import { describe, it, expect, beforeAll } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu, randArray, expectClose } from '../helpers.ts';
import { launch } from '../../src/tensor/launch.ts';
import { matmulKernel, type MatmulParams } from '../../src/kernels/matmul.ts';
import { conv2dKernel, type Conv2dGeom } from '../../src/kernels/conv2d.ts';
import { conv2dWeightGradKernel } from '../../src/kernels/conv2d_backward.ts';
import { splitKReduceKernel } from '../../src/kernels/split_k_reduce.ts';
import {
  type GemmChoice, type TileConfig, DEFAULT_TILE, gemmBody, gemmGroups, gemmProblems, gemmSpec, tileProblems,
} from '../../src/kernels/gemm.ts';
import { BASELINE_CAPS, type Caps } from '../../src/kernels/kernel.ts';
import { SMALL_M_TILES, TILE_CONFIGS, gemmCandidates, gemmChoiceName, defaultGemmChoice } from '../../src/policy/gemm_variants.ts';
import { gemmTuningCandidates } from '../../src/policy/tuning_candidates.ts';
import { deviceCaps } from '../../src/backend/device.ts';
import { mm } from '../../src/autograd/matmul_op.ts';

beforeAll(async () => {
  await initGpu();
});

type Dev = 'cpu' | 'gpu';
const t = (a: Float32Array, d: Dev) => wt.tensor(a, [a.length], { device: d });

interface MmCase {
  name: string;
  batch: number;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  bcastB?: boolean;
  bias: boolean;
  relu: boolean;
}

const mc = (name: string, batch: number, m: number, n: number, k: number, tr: string, o: Partial<MmCase> = {}): MmCase =>
  ({ name, batch, m, n, k, transA: tr[0] === 'T', transB: tr[1] === 'T', bias: false, relu: false, ...o });

// Pairs of awkward shapes that share one pipeline (same transposes, load / store widths and
// epilogue: shapes are uniforms), so a config sees two shapes for one compile. The four pairs
// cover every tile-load path: A / B scalar along K or across rows, vec4 along K, vec4 across rows.
const PAIRS: MmCase[][] = [
  // vec4 along K for A and B
  [mc('NT batch 3 33x9x36, B broadcast', 3, 33, 9, 36, 'NT', { bcastB: true, bias: true }), mc('NT 70x13x8 (K < slice)', 1, 70, 13, 8, 'NT', { bias: true })],
  // vec4 across rows (A) and columns (B), vec4 stores
  [mc('TN batch 2 132x68x20', 2, 132, 68, 20, 'TN', { relu: true }), mc('TN 4x8x3 (K odd, < slice)', 1, 4, 8, 3, 'TN', { relu: true })],
  // scalar: A along K, B across columns
  [mc('NN 67x131x45', 1, 67, 131, 45, 'NN', { bias: true, relu: true }), mc('NN 1x65x7 (M = 1, K < slice)', 1, 1, 65, 7, 'NN', { bias: true, relu: true })],
  // scalar: A across rows, B along K
  [mc('TT 1x65x7', 1, 1, 65, 7, 'TT'), mc('TT batch 2 19x33x5', 2, 19, 33, 5, 'TT')],
];

function mmParams(c: MmCase, choice: GemmChoice): MatmulParams {
  return {
    batch: c.batch, m: c.m, n: c.n, k: c.k, transA: c.transA, transB: c.transB,
    aBatch: c.m * c.k, bBatch: c.bcastB ? 0 : c.n * c.k, bias: c.bias, relu: c.relu, ...choice,
  };
}

/** The matmul kernel on `device`; the output holds `outBatches` [M, N] blocks (split-K partials). */
async function runMm(d: Dev, p: MatmulParams, seed: number, outBatches = p.batch): Promise<Float32Array> {
  const na = p.aBatch ? p.batch * p.m * p.k : p.m * p.k;
  const nb = p.bBatch ? p.batch * p.n * p.k : p.n * p.k;
  const a = t(randArray(na, seed), d);
  const b = t(randArray(nb, seed + 1), d);
  const bias = t(randArray(p.n, seed + 2), d);
  const out = { shape: [outBatches, p.m, p.n] };
  const c = launch(matmulKernel, p, p.bias ? [a, b, bias, out] : [a, b, out])[0];
  const r = (await c.toArray()) as Float32Array;
  [a, b, bias, c].forEach((x) => x.dispose());
  return r;
}

async function mmParity(c: MmCase, choice: GemmChoice, seed: number): Promise<void> {
  const p = mmParams(c, choice);
  expectClose(await runMm('gpu', p, seed), await runMm('cpu', p, seed), 1e-4, 1e-5, `${gemmChoiceName(choice)} ${c.name}`);
}

function geom(batch: number, cin: number, h: number, w: number, cout: number, k: number, s: number, p: number): Conv2dGeom {
  const o = (x: number) => Math.floor((x + 2 * p - k) / s) + 1;
  return { batch, cin, h, w, cout, kh: k, kw: k, sh: s, sw: s, ph: p, pw: p, oh: o(h), ow: o(w), dh: 1, dw: 1, groups: 1 };
}
// conv forward GEMM: M = Cout, N = OH*OW, K = Cin*KH*KW (split into ci, kh, kw)
const CONVS: [string, Conv2dGeom][] = [
  ['3x3 s1 p1, odd sizes (K = 27)', geom(2, 3, 9, 11, 5, 3, 1, 1)],
  ['2x2 s2, K = 32 (vec4 weights), Cout 12', geom(3, 8, 8, 8, 12, 2, 2, 0)],
];

async function convParity(name: string, g: Conv2dGeom, choice: GemmChoice, seed: number): Promise<void> {
  const nx = g.batch * g.cin * g.h * g.w;
  const nw = g.cout * g.cin * g.kh * g.kw;
  const ny = g.batch * g.cout * g.oh * g.ow;
  const run = async (d: Dev) => {
    const ins = [t(randArray(nx, seed), d), t(randArray(nw, seed + 1), d), t(randArray(g.cout, seed + 2), d)];
    const y = launch(conv2dKernel, { ...g, bias: true, relu: true, ...choice }, [...ins, { shape: [ny] }])[0];
    const r = await y.toArray();
    [...ins, y].forEach((x) => x.dispose());
    return r;
  };
  expectClose(await run('gpu'), await run('cpu'), 1e-4, 1e-5, `${gemmChoiceName(choice)} conv ${name}`);
}

describe('GEMM tile configurations: GPU vs CPU twin', () => {
  it('every config of the family runs on lavapipe (its caps allow all of them)', () => {
    const caps = deviceCaps();
    for (const tc of TILE_CONFIGS) expect(tileProblems(tc, caps), gemmChoiceName({ variant: 'tiled', tile: tc })).toEqual([]);
    // the family holds every option at least once
    expect(TILE_CONFIGS.some((c) => c.double) && TILE_CONFIGS.some((c) => !c.vec4) && TILE_CONFIGS.some((c) => c.sg === 4) && TILE_CONFIGS.some((c) => c.sg === 8)).toBe(true);
    for (const [bm, bn] of [[64, 64], [128, 64], [64, 128], [128, 128], [16, 128], [32, 128]]) expect(TILE_CONFIGS.some((c) => c.bm === bm && c.bn === bn)).toBe(true);
    for (const tk of [8, 16, 32]) expect(TILE_CONFIGS.some((c) => c.tk === tk)).toBe(true);
  });

  TILE_CONFIGS.forEach((tc, i) => {
    const choice: GemmChoice = { variant: 'tiled', tile: tc };
    // one pipeline pair per config, rotating. Scalar loads differ from the vec4 program only where
    // vec4 is offered (a vec4 pair and the conv with vec4 weights). Subgroup-shared A keeps vec4
    // registers when A offers vec4 along K and TK / G is a multiple of 4 (the NT pair), else scalar
    // registers (the TT pair). The conv takes the scalar loaders (K = 27) after a vec4 pair.
    const pair = !tc.vec4 ? PAIRS[i % 2] : tc.sg ? PAIRS[(tc.tk / tc.sg) % 4 === 0 ? 0 : 3] : PAIRS[i % 4];
    const conv = tc.vec4 && (pair === PAIRS[0] || pair === PAIRS[1]) ? CONVS[0] : CONVS[1];
    it(`${gemmChoiceName(choice)}: ${pair.map((s) => s.name).join('; ')}; conv ${conv[0]}`, async () => {
      for (const [j, c] of pair.entries()) await mmParity(c, choice, 10 * i + 3 * j);
      await convParity(conv[0], conv[1], choice, 7 * i);
    });
  });
});

describe('split-K: GPU vs CPU twin', () => {
  const sgDouble = TILE_CONFIGS.find((c) => c.sg === 8 && c.double)!;
  const wide = TILE_CONFIGS.find((c) => c.bm === 128 && c.bn === 128 && c.double && c.tk === 8)!;
  // S = 1, 2, 3, 7 on the two default designs; S = 3 on two more tiles (subgroup-shared A with
  // double buffering; 8x8 outputs per invocation)
  const runs: [GemmChoice, number[]][] = [
    [{ variant: 'lanes' }, [1, 2, 3, 7]],
    [{ variant: 'tiled' }, [1, 2, 3, 7]],
    [{ variant: 'tiled', tile: sgDouble }, [3]],
    [{ variant: 'tiled', tile: wide }, [3]],
  ];
  // K = 97: with S = 7 and 32-deep slices the last ranges are empty (their partials must be zeros)
  const c: MmCase = { name: 'TN batch 2 5x70x97', batch: 2, m: 5, n: 70, k: 97, transA: true, transB: false, bias: false, relu: false };
  for (const [base, counts] of runs)
    it(`${gemmChoiceName(base)}: S = ${counts.join(', ')}, partials and reduced (bias + ReLU)`, async () => {
      for (const s of counts) {
        const choice = { ...base, splitK: s };
        // the partials [S, batch, M, N] against the twin's, range by range
        const p = mmParams(c, choice);
        expectClose(await runMm('gpu', p, 5, s * p.batch), await runMm('cpu', p, 5, s * p.batch), 1e-4, 1e-5, `${gemmChoiceName(choice)} partials`);
        // mm with the choice (the same partial pipeline, then the reduction adding bias and ReLU)
        // against the plain CPU matmul
        const a = randArray(c.batch * c.k * c.m, 8);
        const b = randArray(c.batch * c.k * c.n, 9);
        const bias = randArray(c.n, 10);
        const res = async (d: Dev) => {
          const ts = [wt.tensor(a, [c.batch, c.k, c.m], { device: d }), wt.tensor(b, [c.batch, c.k, c.n], { device: d }), wt.tensor(bias, [c.n], { device: d })];
          const y = mm(ts[0], ts[1], true, false, c.batch, ts[2], true, choice);
          const r = await y.toArray();
          [...ts, y].forEach((x) => x.dispose());
          return r;
        };
        expectClose(await res('gpu'), await res('cpu'), 1e-4, 1e-5, `${gemmChoiceName(choice)} mm + reduction`);
      }
    });

  it('conv weight gradient by params: split-K partials [S * splits, Cout, Cin*KH*KW] sum to dW', async () => {
    const g = geom(3, 3, 9, 11, 5, 3, 1, 1);
    const n = g.cin * g.kh * g.kw;
    const nx = g.batch * g.cin * g.h * g.w;
    const ny = g.batch * g.cout * g.oh * g.ow;
    for (const base of [{ variant: 'lanes' }, { variant: 'tiled' }, { variant: 'tiled', tile: sgDouble }] as GemmChoice[]) {
      const bPer = 2; // 2 batch splits on z, times S ranges of K = bPer * OH * OW
      const s = 3;
      const run = async (d: Dev, choice: GemmChoice, parts: number) => {
        const ins = [t(randArray(nx, 1), d), t(randArray(ny, 2), d)];
        const part = launch(conv2dWeightGradKernel, { ...g, bPer: d === 'gpu' ? bPer : g.batch, ...choice }, [...ins, { shape: [parts * g.cout * n] }])[0];
        const dw = launch(splitKReduceKernel, { splits: parts, count: g.cout * n, m: g.cout, n, bias: null, relu: false }, [part, { shape: [g.cout * n] }])[0];
        const r = await dw.toArray();
        [...ins, part, dw].forEach((x) => x.dispose());
        return r;
      };
      expectClose(await run('gpu', { ...base, splitK: s }, s * Math.ceil(g.batch / bPer)), await run('cpu', base, 1), 1e-4, 1e-5, `${gemmChoiceName(base)} dW split-K`);
    }
  });

  it('split-K refuses a fused bias / ReLU in the partial pass', () => {
    const p = mmParams(PAIRS[2][0], { variant: 'tiled', splitK: 2 });
    expect(() => matmulKernel.wgsl(p, deviceCaps())).toThrow(/split-K partial sums take no bias or ReLU/);
  });
});

describe('caps rules and candidates (no GPU)', () => {
  const swiftshader: Caps = { ...BASELINE_CAPS, software: true, subgroups: true, subgroupMinSize: 4, subgroupMaxSize: 4 };
  const lavapipe: Caps = { ...BASELINE_CAPS, software: true, subgroups: true, subgroupMinSize: 8, subgroupMaxSize: 8, maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupStorageSize: 32768 };
  const nvidia: Caps = { ...BASELINE_CAPS, subgroups: true, subgroupMinSize: 32, subgroupMaxSize: 32, maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupStorageSize: 49152 };
  const tile = (o: Partial<TileConfig>): TileConfig => ({ ...DEFAULT_TILE, ...o });

  it('invocations, workgroup memory and subgroup sizes gate the configs', () => {
    expect(tileProblems(DEFAULT_TILE, BASELINE_CAPS)).toEqual([]);
    expect(tileProblems(tile({ bm: 128, bn: 64 }), swiftshader).join()).toMatch(/512 invocations .* maxComputeInvocationsPerWorkgroup 256/);
    expect(tileProblems(tile({ bm: 128, bn: 64 }), lavapipe)).toEqual([]);
    expect(tileProblems(tile({ double: true }), BASELINE_CAPS).join()).toMatch(/32768 bytes .* maxComputeWorkgroupStorageSize 16384/);
    expect(tileProblems(tile({ double: true }), lavapipe)).toEqual([]);
    expect(tileProblems(tile({ sg: 8 }), swiftshader).join()).toMatch(/sg 8 needs subgroups of at least 8 lanes \(this adapter: 4-4\)/);
    expect(tileProblems(tile({ sg: 4 }), swiftshader)).toEqual([]);
    expect(tileProblems(tile({ sg: 4 }), BASELINE_CAPS).join()).toMatch(/this adapter: none/);
    expect(tileProblems(tile({ tm: 6 }), lavapipe).join()).toMatch(/tm must be one of 4, 8/);
    expect(gemmProblems({ variant: 'tiled', splitK: 0 }, lavapipe).join()).toMatch(/splitK must be an integer/);
    expect(gemmProblems({ variant: 'lanes' }, swiftshader).join()).toMatch(/at least 8 lanes/);
    expect(gemmProblems({ variant: 'lanes', lanesSubgroups: 2 }, nvidia).join()).toMatch(/exactly 8 lanes/);
  });

  it('an unsupported variant is refused when its WGSL is generated, naming the reason', () => {
    const p = mmParams(PAIRS[2][0], { variant: 'tiled', tile: tile({ sg: 8 }) });
    expect(() => matmulKernel.wgsl(p, swiftshader)).toThrow(/matmul: the GEMM design tiled:.*sg8 cannot run here: sg 8 needs subgroups/);
  });

  it('the default tile keeps the default pipeline key and grid', () => {
    expect(gemmSpec({ variant: 'tiled' }, 10)).toBe('tiled');
    expect(gemmSpec({ variant: 'tiled', tile: { ...DEFAULT_TILE } }, 10)).toBe('tiled');
    expect(gemmGroups({ variant: 'tiled' }, 65, 129)).toEqual([3, 2]);
    expect(gemmGroups({ variant: 'tiled', tile: tile({ bm: 128, bn: 128, tm: 8, tn: 8 }), splitK: 3 }, 65, 129)).toEqual([6, 1]);
  });

  it('candidates: the untuned default first, every one runnable, split-K only for small grids with long K', () => {
    for (const caps of [swiftshader, lavapipe, nvidia, BASELINE_CAPS])
      for (const shape of [{ m: 1024, n: 1024, k: 1024 }, { m: 96, n: 121, k: 128 * 54 * 54 }, { m: 5, n: 7, k: 3 }]) {
        const c = gemmCandidates('matmul', shape, caps);
        expect(c[0]).toEqual(defaultGemmChoice('matmul', shape, caps));
        for (const x of c) expect(gemmProblems(x, caps), gemmChoiceName(x)).toEqual([]);
        expect(new Set(c.map(gemmChoiceName)).size).toBe(c.length);
        const split = c.filter((x) => (x.splitK ?? 1) > 1);
        if (shape.k > 10000) expect(split.length).toBeGreaterThan(0);
        else expect(split).toEqual([]);
      }
    expect(defaultGemmChoice('matmul', { m: 1, n: 1, k: 1 }, lavapipe)).toEqual({ variant: 'lanes', lanesSubgroups: 1 });
    // hardware: the smallest few-row tile that holds M, else the default tile
    const bmOf = (c: GemmChoice) => (c.variant === 'tiled' ? (c.tile ?? DEFAULT_TILE).bm : 0);
    expect(SMALL_M_TILES.map((t) => t.bm)).toEqual([16, 32]);
    expect([1, 16, 17, 32, 33, 1000].map((m) => bmOf(defaultGemmChoice('matmul', { m, n: 64, k: 9 }, nvidia)))).toEqual([16, 16, 32, 32, 64, 64]);
    expect(defaultGemmChoice('matmul', { m: 33, n: 1, k: 1 }, nvidia)).toEqual({ variant: 'tiled' });
    // few-row tiles are offered only for problems of at most their rows
    expect(gemmCandidates('matmul', { m: 40, n: 512, k: 64 }, nvidia).map(bmOf).filter((b) => b > 0 && b < 64)).toEqual([]);
    expect(gemmCandidates('matmul', { m: 20, n: 512, k: 64 }, nvidia).map(bmOf).filter((b) => b > 0 && b < 64)).toEqual([32]);
    // a grouped convolution is sized per group: ResNeXt's 32 groups of 4 rows take the 16-row tile
    const resnext = { batch: 8, cin: 128, h: 28, w: 28, cout: 128, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, oh: 28, ow: 28, dh: 1, dw: 1, groups: 32 };
    expect(bmOf(gemmTuningCandidates('conv2d', resnext, nvidia)[0].value)).toBe(16);
    expect(bmOf(gemmTuningCandidates('conv2d', { ...resnext, groups: 1 }, nvidia)[0].value)).toBe(64);
    // a few output channels from many inputs keeps the default tile: the input gradient has Cin rows
    expect(bmOf(gemmTuningCandidates('conv2d', { ...resnext, groups: 1, cout: 16, cin: 512 }, nvidia)[0].value)).toBe(64);
    expect(bmOf(gemmTuningCandidates('conv2d', { ...resnext, groups: 1, cout: 16, cin: 16 }, nvidia)[0].value)).toBe(16);
    // SwiftShader-like caps: lanes at width 4 first (its subgroups are 4 lanes), never 8-lane lanes,
    // no configs past 256 invocations / 16 KiB, sg4 only
    const sw = gemmCandidates('conv2d', { m: 256, n: 256, k: 256 }, swiftshader);
    expect(sw[0]).toEqual({ variant: 'lanes', lanesSubgroups: 2, lanesWidth: 4 });
    expect(sw.some((x) => (x.variant === 'lanes' && (x.lanesWidth ?? 8) > 4) || (x.tile?.sg ?? 0) > 4)).toBe(false);
    expect(sw.some((x) => x.variant === 'tiled')).toBe(true);
    // 128-wide tiles are not offered for a 64-row problem; split-K not for conv ops
    expect(gemmCandidates('matmul', { m: 64, n: 512, k: 64 }, nvidia).some((x) => (x.tile?.bm ?? 64) > 64)).toBe(false);
    expect(gemmCandidates('conv2d_weight_grad', { m: 96, n: 121, k: 373248 }, nvidia).some((x) => (x.splitK ?? 1) > 1)).toBe(false);
  });

  it('gemmBody is a pure function of (choice, caps): no device needed', () => {
    const desc = { m: 'u.m', n: 'u.n', kDims: ['1u', '1u', 'u.k'] as [string, string, string], kSplit: false,
      A: { setup: () => '', load: () => '0.0', fast: 'k' as const }, B: { setup: () => '', load: () => '0.0', fast: 'i' as const },
      store: () => '' };
    for (const tc of TILE_CONFIGS) expect(gemmBody('x', { variant: 'tiled', tile: tc }, desc, 8, lavapipe)).toContain('fn main');
  });
});
