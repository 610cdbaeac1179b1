// Normalisation modules: BatchNorm2d's training steps against PyTorch 1.13 (output, running
// statistics after 2 steps, gradients, eval output), BatchNorm1d's cumulative average, train/eval
// behaviour, trackRunningStats / affine switches, state-dict names and dtypes as torch's, a round
// trip through wt.save / wt.load (num_batches_tracked as I64), LayerNorm / GroupNorm modules, errors.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm } from '../../src/nn/norm_layers.ts';
import { groupNorm, layerNorm } from '../../src/autograd/row_norm_fn.ts';
import { initGpu, randArray, expectClose } from '../helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'wt-norms-'));
beforeAll(async () => {
  await initGpu();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// PyTorch (float64), seq(n, f) = [f(i) for i in range(n)], shape [3, 4, 3, 5]:
//   m = nn.BatchNorm2d(4); m.weight = seq(4, 1 + 0.1 c); m.bias = seq(4, 0.05 c)
//   m(x1), x1 = seq(180, sin(0.37 i + 0.1) * 2 + (i % 7) * 0.3)
//   y = m(x2), x2 = seq(180, cos(0.23 i) * 1.5 - (i % 5) * 0.2 + 1); sum(y * gp).backward(), gp = seq(180, cos(0.11 i))
//   then m.eval(); yEval = m(x1)
const bn2d = {
  y: [
    2.31133025, 2.07636584, 1.76593782, 1.38606162, 0.946410313, 1.44086576, 0.922600965, 0.389638137, -0.140287005,
    -0.649598726, -0.140746355, -0.561315127, -0.918428212, -1.20361141, -1.41217885, -1.60912155, -1.67363094,
    -1.66342842, -1.59065445, -1.47074497, -0.220067498, -0.0611810191, 0.0874941265, 0.206524511, 0.278038013,
    1.38821598, 1.32189916, 1.17252802, 0.93636642, 0.614249198, 2.60850116, 2.08901195, 1.5063087, 0.878356007,
    0.225501622, 0.777439537, 0.139930301, -0.458140278, -0.997998255, -1.46393558, -0.636102666, -0.923269575,
    -1.11500206, -1.21392686, -1.22755866, -0.944336959, -0.824993767, -0.666374912, -0.48980581, -0.317557265,
    1.05977703, 1.15864321, 1.19231243, 1.14604002, 1.00929162, 2.00774754, 1.67780838, 1.25532928, 0.749589626,
    0.174253917, 1.32656352, 0.800931444, 0.267009326, -0.257416589, -0.755060196, -0.228985349, -0.627684342,
    -0.959432168, -1.21709054, -1.39742325, -0.520206041, -0.552424889, -0.521656275, -0.439854641, -0.321662195,
    -0.0822686101, 0.0752099107, 0.215293768, 0.319002013, 0.369269501, 1.45339655, 1.35759592, 1.17686094,
    0.90910728, 0.556833668, 1.22854113, 0.732163432, 0.183791159, -0.399297572, -0.997996226, 0.630207401,
    0.00471233644, -0.574222519, -1.08883105, -1.52473501, -0.663666598, -0.916146295, -1.07356673, -1.14036176,
    -1.12573826, 0.164843575, 0.298241982, 0.462741211, 0.636952782, 0.798976695, 1.19173753, 1.26883931, 1.2749404,
    1.19674807, 1.0254091, 1.9884256, 1.62406464, 1.16999428, 0.637157721, 0.0406465808, 0.630355597, -0.0357870759,
    -0.704219401, -1.35270831, -1.96007112, -0.309754171, -0.685168044, -0.990603243, -1.22030729, -1.37251627,
    -0.468487101, -0.476617885, -0.425753751, -0.328907514, -0.201513742, 0.920444738, 1.0570921, 1.17195816,
    1.24865928, 1.27282191, 1.50817523, 1.38202051, 1.16964505, 0.870630961, 0.489123357, 1.13516294, 0.618035333,
    0.0549239575, -0.536116799, -1.13556159, -0.62189157, -1.17884959, -1.68715445, -2.13163829, -2.5004945,
    -0.678690613, -0.896407098, -1.02010393, -1.0559911, -1.0149033, 0.296305468, 0.443407074, 0.613964062,
    0.786268906, 0.938522028, 2.25801465, 2.31008237, 2.28729289, 2.1781217, 1.97559379, 1.95637246, 1.558415,
    1.07420572, 0.51627516, -0.0989634359, 0.479370995, -0.190194325, -0.853917098, -1.4898123, -2.07736051,
    -1.36713903, -1.80756678, -2.15696948, -2.40991648, -2.56605717,
  ],
  rm: [
    0.0947970084, 0.194269047, 0.104291769, 0.183216189,
  ],
  rv: [
    1.14606746, 1.14014647, 1.11663588, 1.12098921,
  ],
  gx: [
    0.394601577, 0.408322674, 0.416567744, 0.419047862, 0.415308097, 0.322717836, 0.304713363, 0.278569701,
    0.243658384, 0.199467235, 0.0636182015, 0.000119329482, -0.0728728756, -0.154823797, -0.244846417, 0.615478167,
    0.488870472, 0.372396052, 0.266235734, 0.1701864, 0.196208764, 0.118582448, 0.0488839681, -0.0138450458,
    -0.0705243727, -0.00946865807, -0.0562395777, -0.0987004293, -0.136903831, -0.170594234, -1.18921914,
    -1.09293748, -0.974283078, -0.836122939, -0.681800742, -0.673471199, -0.498007961, -0.317739596, -0.136359696,
    0.0427346126, 0.0580842603, 0.224199504, 0.380729872, 0.526431912, 0.660687139, -0.70816087, -0.581855682,
    -0.461717527, -0.348656905, -0.243478433, -0.181267879, -0.0939223509, -0.0163951723, 0.0507767091, 0.107090974,
    0.117702534, 0.150908872, 0.171925411, 0.180381645, 0.175964592, 0.428134691, 0.432907238, 0.4275781,
    0.411263952, 0.383246483, 0.260991733, 0.208401873, 0.143575761, 0.0670353876, -0.0203042191, -0.199183074,
    -0.303822862, -0.414251819, -0.528166432, -0.643047863, 0.433622604, 0.340704012, 0.252463139, 0.168201352,
    0.0873226442, 0.121892924, 0.0467786122, -0.0254188098, -0.0942625494, -0.158995779, -0.10607977, -0.159160944,
    -0.204244306, -0.239697458, -0.263860555, -0.810949048, -0.661721039, -0.506428823, -0.348362216, -0.190502116,
    -0.193891032, -0.043615265, 0.100350841, 0.237098373, 0.366288133, 0.329622624, 0.444704363, 0.554038703,
    0.658849139, 0.760465558, -0.409339236, -0.300473631, -0.198804813, -0.105192773, -0.0204955878, 0.0200593895,
    0.0843675514, 0.137229381, 0.177853651, 0.205507848, 0.185172581, 0.185056452, 0.170396884, 0.140976046,
    0.0967771211, 0.423368366, 0.3862207, 0.334492259, 0.268636008, 0.189532699, 0.0164382021, -0.0848480962,
    -0.194313218, -0.309597103, -0.428113304, -0.629180637, -0.745921991, -0.857646232, -0.961748786, -1.05584673,
    0.300554856, 0.200544666, 0.101491465, 0.00428777948, -0.0898372208, -0.0668683907, -0.149983798, -0.22473942,
    -0.28908311, -0.340972854, -0.266000985, -0.287425681, -0.291383581, -0.276905429, -0.243509269, -0.413579853,
    -0.285494945, -0.16069082, -0.0396652311, 0.07759721, 0.0330840669, 0.144602529, 0.254773971, 0.36484402,
    0.476068835, 0.431100764, 0.547796597, 0.668209199, 0.792431096, 0.920048902, -0.136767455, -0.0443109821,
    0.0381802429, 0.109522702, 0.168584145, 0.179944322, 0.211415827, 0.22785038, 0.228659623, 0.21347559,
    0.147806862, 0.100546519, 0.0377575079, -0.0398348846, -0.131217181,
  ],
  gw: [
    3.83609083, -4.58856257, 5.86432287, 1.32593295,
  ],
  gb: [
    18.0336554, -35.6245366, -12.3963654, 37.5861595,
  ],
  nbt: 2,
  yEval: [
    0.0979588228, 1.03776142, 1.86305086, 2.50005587, 2.9004886, 3.04808015, 2.96078246, 0.726730282, 0.343942151,
    -0.0594539528, -0.390932476, -0.56770157, -0.527908583, -0.239011524, -1.66379186, -1.06021841, -0.0680414537,
    0.99668259, 2.03167707, 2.9386891, 3.6367876, 1.90995221, 2.067659, 1.96702709, 1.66350529, 1.24000261,
    0.795666889, 0.43246565, -1.92197954, -1.87324856, -1.56097503, -0.903071988, 0.0128904867, 1.10905041,
    2.28315692, 1.03765972, 2.03397502, 2.79861573, 3.27420057, 3.44247059, 3.32676048, 2.9888403, 0.135805485,
    -0.353355097, -0.751076333, -1.0902174, -1.02634697, -0.634292352, 0.0827382826, -1.50090481, -0.313095298,
    0.956799349, 2.18675944, 3.26017025, 4.08160524, 4.58974164, 2.18720255, 2.05694803, 1.6880044, 1.18016105,
    0.46450305, 0.139558137, -0.026621193, -1.93522395, -1.63227964, -1.08247095, -0.322284135, 0.583320882,
    1.54970249, 2.48399326, 1.33606071, 1.9569222, 2.33886643, 2.46812683, 2.3651364, 2.2434032, 1.81607339,
    -0.789765185, -1.14566749, -1.32499984, -1.26166167, -0.922396761, -0.311294275, 0.530764689, -0.631724611,
    0.434332308, 1.46311363, 2.35720739, 3.03743093, 3.45354795, 4.10561577, 1.59094348, 1.24319931, 0.770808347,
    0.283815719, -0.105757162, -0.299074193, -0.22386158, -2.22893948, -1.550086, -0.617821267, 0.487786311,
    1.66320717, 2.79546286, 3.77741712, 2.25612397, 2.74598515, 2.90389929, 2.75834803, 2.37888565, 1.86672519,
    1.34103976, -1.65562459, -1.85989575, -1.77272959, -1.35606904, -0.616452568, 0.395870805, 1.59374245,
    0.286433043, 1.11622395, 1.920929, 2.52951609, 2.8975436, 3.01312851, 2.89855474, 0.645648697, 0.254980718,
    -0.144254723, -0.460095195, -0.611865389, -0.541096137, -0.219437938, -1.61410632, -0.840689407, 0.0274324453,
    1.09411995, 2.1178902, 3.00200946, 3.66864507, 1.90603504, 2.02849735, 1.89792132, 1.57380853, 1.14185489,
    0.702352058, 0.356613425, -1.97010291, -1.88712981, -1.5272333, -0.842057287, 0.102146343, 1.21446706,
    2.39046671, 1.13233878, 2.10320898, 2.83303411, 3.26914498, 3.3986253, 3.25005974, 2.88966519, 0.0275788935,
    -0.455985207, -0.834219458, -1.00982239, -1.04210108, -0.607008635, 0.149367105, -1.40394878, -0.198934605,
    1.07271359, 2.28873879, 3.33441227, 4.11806162, 4.58347819, 2.13906699, 1.97345529, 1.58045483, 1.06311097,
    0.541298377,
  ],
};

const seq = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));
const SHAPE = [3, 4, 3, 5];
const x1 = seq(180, (i) => Math.sin(0.37 * i + 0.1) * 2 + (i % 7) * 0.3);
const x2 = seq(180, (i) => Math.cos(0.23 * i) * 1.5 - (i % 5) * 0.2 + 1);
const gp = seq(180, (i) => Math.cos(0.11 * i));

function headerOf(path: string): Record<string, { dtype: string; shape: number[] }> {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  return JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
}

describe('BatchNorm2d', () => {
  for (const device of ['gpu', 'cpu'] as const)
    it(`two training steps match PyTorch on the ${device}: output, running statistics, gradients, eval output`, async () => {
      const m = new BatchNorm2d(4, { device });
      wt.noGrad(() => {
        m.weight!.copy_(wt.tensor(seq(4, (c) => 1 + 0.1 * c), [4], { device }));
        m.bias!.copy_(wt.tensor(seq(4, (c) => 0.05 * c), [4], { device }));
      });
      m.forward(wt.tensor(x1, SHAPE, { device })).dispose();
      const x = wt.tensor(x2, SHAPE, { device, requiresGrad: true });
      const y = m.forward(x);
      y.backward(wt.tensor(gp, SHAPE, { device }));
      expectClose(await y.toArray(), bn2d.y, 1e-5, 1e-5, 'y');
      expectClose(await m.running_mean!.toArray(), bn2d.rm, 1e-5, 1e-6, 'running_mean');
      expectClose(await m.running_var!.toArray(), bn2d.rv, 1e-5, 1e-6, 'running_var');
      expect(await m.num_batches_tracked!.item()).toBe(bn2d.nbt);
      expectClose(await x.grad!.toArray(), bn2d.gx, 1e-4, 1e-5, 'dx');
      expectClose(await m.weight!.grad!.toArray(), bn2d.gw, 1e-4, 1e-5, 'dweight');
      expectClose(await m.bias!.grad!.toArray(), bn2d.gb, 1e-4, 1e-5, 'dbias');
      m.eval();
      const rm = await m.running_mean!.toArray();
      expectClose(await m.forward(wt.tensor(x1, SHAPE, { device })).toArray(), bn2d.yEval, 1e-5, 1e-5, 'eval y');
      // eval neither updates the statistics nor counts
      expect(Array.from(await m.running_mean!.toArray())).toEqual(Array.from(rm));
      expect(await m.num_batches_tracked!.item()).toBe(2);
    });

  it('has torch state-dict names, shapes and dtypes; round-trips through wt.save / wt.load with I64 counter', async () => {
    const m = new BatchNorm2d(3);
    expect(Object.keys(m.stateDict())).toEqual(['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
    expect(m.namedParameters().map(([k]) => k)).toEqual(['weight', 'bias']);
    expect(m.namedBuffers().map(([k]) => k)).toEqual(['running_mean', 'running_var', 'num_batches_tracked']);
    expect(m.num_batches_tracked!.dtype).toBe('int32');
    expect(m.num_batches_tracked!.shape).toEqual([]);
    expect(await m.weight!.toList()).toEqual([1, 1, 1]);
    expect(await m.bias!.toList()).toEqual([0, 0, 0]);
    expect(await m.running_var!.toList()).toEqual([1, 1, 1]);
    for (let k = 0; k < 3; k++) m.forward(wt.tensor(randArray(2 * 3 * 4, 90 + k, -1, 3), [2, 3, 2, 2])).dispose();
    const path = join(dir, 'bn.safetensors');
    await wt.save(m.stateDict(), path, undefined, { int32As: 'I64' });
    expect(headerOf(path).num_batches_tracked).toMatchObject({ dtype: 'I64', shape: [] });
    const b = new BatchNorm2d(3);
    expect(b.loadStateDict(await wt.load(path))).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(await b.num_batches_tracked!.item()).toBe(3);
    expect(Array.from(await b.running_mean!.toArray())).toEqual(Array.from(await m.running_mean!.toArray()));
    expect(Array.from(await b.running_var!.toArray())).toEqual(Array.from(await m.running_var!.toArray()));
    // the loaded module normalises like the saved one
    m.eval();
    b.eval();
    const x = wt.tensor(randArray(24, 99), [2, 3, 2, 2]);
    expect(Array.from(await b.forward(x).toArray())).toEqual(Array.from(await m.forward(x).toArray()));
  });

  it('affine false has no parameters; trackRunningStats false has no buffers and uses batch statistics in eval', async () => {
    const a = new BatchNorm2d(2, { affine: false });
    expect(a.weight).toBeNull();
    expect(Object.keys(a.stateDict())).toEqual(['running_mean', 'running_var', 'num_batches_tracked']);
    const t = new BatchNorm2d(2, { trackRunningStats: false });
    expect(Object.keys(t.stateDict())).toEqual(['weight', 'bias']);
    expect(t.running_mean).toBeNull();
    expect(t.num_batches_tracked).toBeNull();
    const x = wt.tensor(randArray(2 * 2 * 9, 5, 2, 6), [2, 2, 3, 3]);
    const yTrain = await t.forward(x).toArray();
    t.eval();
    expect(Array.from(await t.forward(x).toArray())).toEqual(Array.from(yTrain));
    // batch statistics: each channel has mean ~0 and biased variance ~1
    for (let c = 0; c < 2; c++) {
      const v = [0, 1].flatMap((n) => Array.from(yTrain.slice((n * 2 + c) * 9, (n * 2 + c + 1) * 9)));
      const mean = v.reduce((s, e) => s + e, 0) / v.length;
      expect(Math.abs(mean)).toBeLessThan(1e-5);
      expect(Math.abs(v.reduce((s, e) => s + (e - mean) ** 2, 0) / v.length - 1)).toBeLessThan(1e-3);
    }
  });

  it('moves parameters and buffers with to(); resetRunningStats / resetParameters restore the defaults', async () => {
    const m = new BatchNorm2d(2);
    m.forward(wt.tensor(randArray(16, 3, 1, 4), [2, 2, 2, 2])).dispose();
    await m.to('cpu');
    expect(m.buffers().map((b) => b.device)).toEqual(['cpu', 'cpu', 'cpu']);
    expect(m.parameters().map((p) => p.device)).toEqual(['cpu', 'cpu']);
    expect(await m.num_batches_tracked!.item()).toBe(1);
    m.forward(wt.tensor(randArray(16, 4, 1, 4), [2, 2, 2, 2], { device: 'cpu' })).dispose();
    expect(await m.num_batches_tracked!.item()).toBe(2);
    m.resetRunningStats();
    expect(await m.running_mean!.toList()).toEqual([0, 0]);
    expect(await m.running_var!.toList()).toEqual([1, 1]);
    expect(await m.num_batches_tracked!.item()).toBe(0);
    wt.noGrad(() => m.weight!.copy_(wt.tensor([3, 4], [2], { device: 'cpu' })));
    m.resetParameters();
    expect(await m.weight!.toList()).toEqual([1, 1]);
    expect(await m.bias!.toList()).toEqual([0, 0]);
  });

  it('rejects bad inputs and options', () => {
    const m = new BatchNorm2d(3);
    expect(() => m.forward(wt.zeros([2, 3, 4]))).toThrow('BatchNorm2d: expected 4D input (got 3D input [2,3,4])');
    expect(() => m.forward(wt.zeros([1, 3, 1, 1]))).toThrow('batchNorm: expected more than 1 value per channel when training, got input of shape [1,3,1,1]');
    expect(() => m.forward(wt.zeros([2, 4, 2, 2]))).toThrow('batchNorm: expected runningMean of shape [4] (one per channel), got [3]');
    expect(() => new BatchNorm2d(3, { eps: 1e-3, mommentum: 0.2 } as never)).toThrow(
      "BatchNorm2d: unknown option 'mommentum' (accepted: eps, momentum, affine, trackRunningStats, device)",
    );
    expect(() => new BatchNorm2d(0)).toThrow('BatchNorm2d: numFeatures must be a positive integer, got 0');
    expect(() => new BatchNorm2d(3, { momentum: NaN })).toThrow('BatchNorm2d: momentum must be a finite number or null, got NaN');
    expect(() => new BatchNorm2d(3, { affine: 1 as never })).toThrow('BatchNorm2d: affine must be a boolean, got 1');
    expect(new BatchNorm2d(3).toString()).toBe('BatchNorm2d(3, eps=0.00001, momentum=0.1, affine=true, trackRunningStats=true)');
  });
});

describe('BatchNorm1d', () => {
  it('takes [N, C] and [N, C, L]; batch 1 in training fails like PyTorch, passes in eval', async () => {
    const m = new BatchNorm1d(3);
    expect(m.forward(wt.tensor(randArray(6, 1), [2, 3])).shape).toEqual([2, 3]);
    expect(m.forward(wt.tensor(randArray(24, 2), [2, 3, 4])).shape).toEqual([2, 3, 4]);
    expect(() => m.forward(wt.zeros([2, 3, 4, 4]))).toThrow('BatchNorm1d: expected 2D or 3D input (got 4D input [2,3,4,4])');
    expect(() => m.forward(wt.zeros([1, 3]))).toThrow('batchNorm: expected more than 1 value per channel when training, got input of shape [1,3]');
    m.eval();
    expect(m.forward(wt.zeros([1, 3])).shape).toEqual([1, 3]);
    expect(await m.num_batches_tracked!.item()).toBe(2);
  });

  it('momentum null keeps the cumulative average (PyTorch numbers)', async () => {
    // torch.nn.BatchNorm1d(3, momentum=None) after x_k = seq(15, sin(0.5 i + k) (k + 1) + k) [5, 3], k = 0..2
    const m = new BatchNorm1d(3, { momentum: null });
    for (let k = 0; k < 3; k++) m.forward(wt.tensor(seq(15, (i) => Math.sin(0.5 * i + k) * (k + 1) + k), [5, 3])).dispose();
    expectClose(await m.running_mean!.toArray(), [1.23753651, 1.24721888, 1.19637345], 1e-5, 1e-6, 'running_mean');
    expectClose(await m.running_var!.toArray(), [3.07367508, 2.92963317, 2.69825344], 1e-5, 1e-6, 'running_var');
    expect(await m.num_batches_tracked!.item()).toBe(3);
  });

  it('trains inside a Sequential with an optimizer: parameters update, buffers do not get gradients', async () => {
    const net = new wt.nn.Sequential(new wt.nn.Linear(4, 3), new BatchNorm1d(3));
    expect(net.parameters().length).toBe(4);
    expect(Object.keys(net.stateDict())).toEqual([
      '0.weight', '0.bias', '1.weight', '1.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked',
    ]);
    const opt = new wt.optim.SGD(net.parameters(), { lr: 0.1 });
    const x = wt.tensor(randArray(32, 7), [8, 4]);
    net.forward(x).square().mean().backward();
    opt.step();
    expect(await (net.stateDict()['1.num_batches_tracked'] as wt.Tensor).item()).toBe(1);
    expect(Array.from(await (net.stateDict()['1.bias'] as wt.Tensor).toArray()).some((v) => v !== 0)).toBe(true);
    expect(net.buffers().some((b) => b.requiresGrad)).toBe(false);
  });
});

describe('LayerNorm and GroupNorm', () => {
  it('LayerNorm: parameters of normalizedShape (ones, zeros), forward = layerNorm, options', async () => {
    const m = new LayerNorm([3, 4], { eps: 1e-6 });
    expect(Object.keys(m.stateDict())).toEqual(['weight', 'bias']);
    expect(m.weight!.shape).toEqual([3, 4]);
    const x = wt.tensor(randArray(24, 3), [2, 3, 4]);
    expect(Array.from(await m.forward(x).toArray())).toEqual(Array.from(await layerNorm(x, [3, 4], m.weight, m.bias, 1e-6).toArray()));
    expect(new LayerNorm(5, { elementwiseAffine: false }).parameters()).toEqual([]);
    expect(() => new LayerNorm(5, { bias: false } as never)).toThrow("LayerNorm: unknown option 'bias' (accepted: eps, elementwiseAffine, device)");
    expect(() => new LayerNorm([])).toThrow(/LayerNorm: normalizedShape must be a positive integer or a non-empty list/);
    expect(m.toString()).toBe('LayerNorm([3, 4], eps=0.000001, elementwiseAffine=true)');
  });

  it('GroupNorm: parameters [C] (ones, zeros), forward = groupNorm, options', async () => {
    const m = new GroupNorm(2, 4);
    expect(Object.keys(m.stateDict())).toEqual(['weight', 'bias']);
    expect(await m.weight!.toList()).toEqual([1, 1, 1, 1]);
    const x = wt.tensor(randArray(48, 4), [2, 4, 3, 2]);
    expect(Array.from(await m.forward(x).toArray())).toEqual(Array.from(await groupNorm(x, 2, m.weight, m.bias).toArray()));
    expect(new GroupNorm(2, 4, { affine: false }).parameters()).toEqual([]);
    expect(() => new GroupNorm(3, 4)).toThrow('GroupNorm: numChannels must be divisible by numGroups, got numChannels 4 and numGroups 3');
    expect(() => m.forward(wt.zeros([2, 6, 3]))).toThrow('GroupNorm: expected 4 channels, got input of shape [2,6,3]');
    expect(() => new GroupNorm(2, 4, { eps: -1 })).toThrow('GroupNorm: eps must be a finite number >= 0, got -1');
    expect(m.toString()).toBe('GroupNorm(2, 4, eps=0.00001, affine=true)');
  });
});
