// npm run bench:tfjs: the same ops through webgpu-tensor and TF.js's WebGPU backend (4.22), on the
// same Dawn adapter in one process, side by side. Outputs are compared (~1e-3 relative to the
// largest value) before anything is timed; a mismatch is reported and the row is not timed.
//   --filter PAT  only rows whose "op shape" matches PAT (substring or /regex/)
//   --runs N      timed samples per side (default 10; 3 on a software adapter)
//   --json FILE   write the rows to FILE
//   --small / --full  override the shape choice (small on a software adapter)
// Shapes: matmul 256..1024 (small) or 1024..4096, AlexNet's fc6 (x 6400 x 4096), AlexNet
// (1x224x224 input) conv1..conv3 forward, input gradient and filter gradient at batch 4 (small)
// or 128, maxpool 3/2 on conv1's output, relu and dropout.
// TF.js runs in its native NHWC layout (filters HWIO); ours is NCHW (filters OIHW); inputs are the
// same numbers, transposed on the host.
import { writeFileSync } from 'node:fs';
import { create, globals } from 'webgpu';
import type * as TF from '@tensorflow/tfjs-core';
import * as wt from 'webgpu-tensor';
import { makeFilter, parseArgs } from './lib/bench_args.ts';
import { fmtNum } from './lib/stats.ts';
import { measure, ownTarget, type Measurement, type Target } from './lib/timer.ts';
import { loadTfjs, type Tf } from './lib/tfjs.ts';

const USAGE = 'usage: tsx bench/compare-tfjs.ts [--filter PAT] [--runs N] [--json FILE] [--small|--full]';

type TfT = TF.Tensor;
type TF4 = TF.Tensor4D;

/** One side of a row: set up inputs, return the op to time, its output (for the check), cleanup. */
interface Side {
  /** Records one run (inside tidy); must not await. */
  run(): void;
  /** The output compared with the other side, in TF.js layout, on the host. null: no comparison. */
  output(): Promise<Float32Array | null>;
  dispose(): void;
}

interface Row {
  op: string;
  shape: string;
  kind: 'flops' | 'bytes';
  work: number;
  /** Bytes one run allocates (caps repetitions per sample: TF.js frees only at submit). */
  outBytes: number;
  /** null: our op is missing (reason). */
  ours(): Side | string;
  theirs(tf: Tf): Side;
  /** Custom check (dropout); default: outputs equal within tolerance. */
  check?(a: Float32Array, b: Float32Array, input: Float32Array): string | null;
  input?: Float32Array;
}

// ---------- host helpers ----------
function randomArray(n: number, seed: number): Float32Array {
  // xorshift32 -> uniform [-1, 1): cheap, deterministic, the same on both sides
  const a = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    a[i] = s / 2 ** 31 - 1;
  }
  return a;
}

/** Permute a dense row-major array of `shape` by `perm` (output dim i = input dim perm[i]). */
function permuteHost(a: Float32Array, shape: number[], perm: number[]): Float32Array {
  const r = shape.length;
  const outShape = perm.map((p) => shape[p]);
  const inStr = new Array<number>(r);
  inStr[r - 1] = 1;
  for (let i = r - 2; i >= 0; i--) inStr[i] = inStr[i + 1] * shape[i + 1];
  const str = perm.map((p) => inStr[p]);
  const out = new Float32Array(a.length);
  const idx = new Array<number>(r).fill(0);
  let src = 0;
  for (let o = 0; o < a.length; o++) {
    out[o] = a[src];
    for (let d = r - 1; d >= 0; d--) {
      idx[d]++;
      src += str[d];
      if (idx[d] < outShape[d]) break;
      src -= str[d] * outShape[d];
      idx[d] = 0;
    }
  }
  return out;
}
const NCHW_TO_NHWC = [0, 2, 3, 1];
const NHWC_TO_NCHW = [0, 3, 1, 2];
const OIHW_TO_HWIO = [2, 3, 1, 0];

function compare(a: Float32Array, b: Float32Array, rtol = 1e-3): string | null {
  if (a.length !== b.length) return `length ${a.length} vs ${b.length}`;
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  let worst = 0;
  let at = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  const rel = worst / Math.max(scale, 1e-30);
  return rel <= rtol ? null : `max |ours - tfjs| = ${worst.toExponential(2)} (${rel.toExponential(2)} of max |tfjs|) at ${at}: ${a[at]} vs ${b[at]}`;
}

/** Dropout: every output is 0 or x/(1-p), and the kept fraction is near 1-p. */
function checkDropout(p: number) {
  return (out: Float32Array, _theirs: Float32Array, x: Float32Array): string | null => {
    let kept = 0;
    for (let i = 0; i < out.length; i++) {
      if (out[i] === 0) continue;
      kept++;
      const want = x[i] / (1 - p);
      if (Math.abs(out[i] - want) > 1e-5 * Math.abs(want) + 1e-6) return `element ${i} is ${out[i]}, not 0 or ${want}`;
    }
    const frac = kept / out.length;
    return Math.abs(frac - (1 - p)) < 0.02 ? null : `kept fraction ${frac.toFixed(3)}, expected ${1 - p}`;
  };
}

// ---------- our side ----------
type AnyFn = (...a: unknown[]) => wt.Tensor;
const api = wt as unknown as Record<string, AnyFn | undefined>;
const missing = (name: string) => `wt.${name} is not available yet`;

function ourTensor(a: Float32Array, shape: number[]): wt.Tensor {
  return wt.tensor(a, shape);
}
async function ourOut(t: wt.Tensor | null, toTfLayout?: [number[], number[]]): Promise<Float32Array> {
  if (!t) throw new Error('no output');
  const a = (await t.toArray()) as Float32Array;
  return toTfLayout ? permuteHost(a, toTfLayout[0], toTfLayout[1]) : a;
}

// ---------- rows ----------
function matmulRow(m: number, k: number, n: number, label = 'matmul'): Row {
  const A = randomArray(m * k, 1);
  const B = randomArray(k * n, 2);
  return {
    op: label,
    shape: `${m}x${k}x${n}`,
    kind: 'flops',
    work: 2 * m * n * k,
    outBytes: 4 * m * n,
    ours: () => {
      const a = ourTensor(A, [m, k]);
      const b = ourTensor(B, [k, n]);
      let last: wt.Tensor | null = null;
      return {
        run: () => void wt.matmul(a, b),
        output: async () => {
          last = wt.matmul(a, b);
          const r = await ourOut(last);
          last.dispose();
          return r;
        },
        dispose: () => (a.dispose(), b.dispose()),
      };
    },
    theirs: (tf) => {
      const a = tf.tensor(A, [m, k]);
      const b = tf.tensor(B, [k, n]);
      return {
        run: () => void tf.matMul(a, b),
        output: async () => {
          const c = tf.matMul(a, b);
          const r = (await c.data()) as Float32Array;
          c.dispose();
          return r;
        },
        dispose: () => tf.dispose([a, b]),
      };
    },
  };
}

interface ConvGeom {
  name: string;
  b: number;
  c: number;
  h: number;
  w: number;
  o: number;
  k: number;
  s: number;
  p: number;
}
const convOut = (g: ConvGeom) => [Math.floor((g.h + 2 * g.p - g.k) / g.s) + 1, Math.floor((g.w + 2 * g.p - g.k) / g.s) + 1];

function convRows(g: ConvGeom): Row[] {
  const [oh, ow] = convOut(g);
  const X = randomArray(g.b * g.c * g.h * g.w, 3); // NCHW
  const W = randomArray(g.o * g.c * g.k * g.k, 4).map((v) => v / Math.sqrt(g.c * g.k * g.k)); // OIHW
  const G = randomArray(g.b * g.o * oh * ow, 5); // dy, NCHW
  const xShape = [g.b, g.c, g.h, g.w];
  const wShape = [g.o, g.c, g.k, g.k];
  const yShape = [g.b, g.o, oh, ow];
  const Xt = permuteHost(X, xShape, NCHW_TO_NHWC);
  const Wt = permuteHost(W, wShape, OIHW_TO_HWIO);
  const Gt = permuteHost(G, yShape, NCHW_TO_NHWC);
  const flops = 2 * g.b * g.o * oh * ow * g.c * g.k * g.k;
  const shape = `${g.b}x${g.c}x${g.h}x${g.w} * ${g.o}x${g.c}x${g.k}x${g.k} s${g.s} p${g.p}`;
  const opts = { stride: g.s, padding: g.p };
  const tfPad = g.p === 0 ? 'valid' : ([[0, 0], [g.p, g.p], [g.p, g.p], [0, 0]] as [[number, number], [number, number], [number, number], [number, number]]);
  const conv = api.conv2d;
  // our backward: the raw gradient functions (wt.conv2dInputGrad / conv2dWeightGrad, like
  // torch.nn.grad) where exported; else autograd: forward once with grad on x (or w), then time
  // backward(retainGraph) + zeroGrad
  const ourBackward = (wrt: 'x' | 'w'): Side | string => {
    if (!conv) return missing('conv2d');
    const x = ourTensor(X, xShape);
    const w = ourTensor(W, wShape);
    const gy = ourTensor(G, yShape);
    const layout: [number[], number[]] = wrt === 'x' ? [xShape, NCHW_TO_NHWC] : [wShape, OIHW_TO_HWIO];
    const direct = wrt === 'x' ? api.conv2dInputGrad : api.conv2dWeightGrad;
    if (direct) {
      const f = wrt === 'x' ? () => direct(xShape, w, gy, opts) : () => direct(x, wShape, gy, opts);
      return {
        run: () => void f(),
        output: async () => {
          const d = f();
          const r = await ourOut(d, layout);
          d.dispose();
          return r;
        },
        dispose: () => [x, w, gy].forEach((t) => t.dispose()),
      };
    }
    const leaf = wrt === 'x' ? x : w;
    leaf.requiresGrad = true;
    const y = conv(x, w, null, opts);
    const step = () => {
      y.backward(gy, { retainGraph: true });
    };
    return {
      run: () => {
        step();
        leaf.zeroGrad();
      },
      output: async () => {
        step();
        const r = await ourOut(leaf.grad, layout);
        leaf.zeroGrad();
        return r;
      },
      dispose: () => [x, w, gy, y].forEach((t) => t.dispose()),
    };
  };
  return [
    {
      op: `${g.name}.fwd`,
      shape,
      kind: 'flops',
      work: flops,
      outBytes: 4 * g.b * g.o * oh * ow,
      ours: () => {
        if (!conv) return missing('conv2d');
        const x = ourTensor(X, xShape);
        const w = ourTensor(W, wShape);
        return {
          run: () => void conv(x, w, null, opts),
          output: async () => {
            const y = conv(x, w, null, opts);
            const r = await ourOut(y, [yShape, NCHW_TO_NHWC]);
            y.dispose();
            return r;
          },
          dispose: () => (x.dispose(), w.dispose()),
        };
      },
      theirs: (tf) => {
        const x = tf.tensor(Xt, [g.b, g.h, g.w, g.c]) as TF4;
        const w = tf.tensor(Wt, [g.k, g.k, g.c, g.o]) as TF4;
        const f = () => tf.conv2d(x, w, g.s, tfPad);
        return {
          run: () => void f(),
          output: async () => {
            const y = f();
            const r = (await y.data()) as Float32Array;
            y.dispose();
            return r;
          },
          dispose: () => tf.dispose([x, w]),
        };
      },
    },
    {
      op: `${g.name}.dgrad`,
      shape,
      kind: 'flops',
      work: flops,
      outBytes: 4 * X.length,
      ours: () => ourBackward('x'),
      theirs: (tf) => {
        const dy = tf.tensor(Gt, [g.b, oh, ow, g.o]);
        const w = tf.tensor(Wt, [g.k, g.k, g.c, g.o]);
        const f = () =>
          tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, {
            strides: g.s,
            pad: tfPad,
            dataFormat: 'NHWC',
            inputShape: [g.b, g.h, g.w, g.c],
          } as unknown as TF.NamedAttrMap) as TfT;
        return {
          run: () => void f(),
          output: async () => {
            const y = f();
            const r = (await y.data()) as Float32Array;
            y.dispose();
            return r;
          },
          dispose: () => tf.dispose([dy, w]),
        };
      },
    },
    {
      op: `${g.name}.wgrad`,
      shape,
      kind: 'flops',
      work: flops,
      outBytes: 4 * W.length,
      ours: () => ourBackward('w'),
      theirs: (tf) => {
        const x = tf.tensor(Xt, [g.b, g.h, g.w, g.c]);
        const dy = tf.tensor(Gt, [g.b, oh, ow, g.o]);
        const f = () =>
          tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
            strides: g.s,
            pad: tfPad,
            dataFormat: 'NHWC',
            filterShape: [g.k, g.k, g.c, g.o],
          } as unknown as TF.NamedAttrMap) as TfT;
        return {
          run: () => void f(),
          output: async () => {
            const y = f();
            const r = (await y.data()) as Float32Array;
            y.dispose();
            return r;
          },
          dispose: () => tf.dispose([x, dy]),
        };
      },
    },
  ];
}

function maxPoolRow(b: number, c: number, h: number, k: number, s: number): Row {
  const X = randomArray(b * c * h * h, 6);
  const xShape = [b, c, h, h];
  const oh = Math.floor((h - k) / s) + 1;
  const Xt = permuteHost(X, xShape, NCHW_TO_NHWC);
  return {
    op: 'maxpool',
    shape: `${b}x${c}x${h}x${h} k${k} s${s}`,
    kind: 'bytes',
    work: 4 * (X.length + b * c * oh * oh),
    outBytes: 4 * b * c * oh * oh,
    ours: () => {
      const pool = api.maxPool2d;
      if (!pool) return missing('maxPool2d');
      const x = ourTensor(X, xShape);
      return {
        run: () => void pool(x, k, s),
        output: async () => {
          const y = pool(x, k, s);
          const r = await ourOut(y, [[b, c, oh, oh], NCHW_TO_NHWC]);
          y.dispose();
          return r;
        },
        dispose: () => x.dispose(),
      };
    },
    theirs: (tf) => {
      const x = tf.tensor(Xt, [b, h, h, c]) as TF4;
      const f = () => tf.maxPool(x, k, s, 'valid');
      return {
        run: () => void f(),
        output: async () => {
          const y = f();
          const r = (await y.data()) as Float32Array;
          y.dispose();
          return r;
        },
        dispose: () => x.dispose(),
      };
    },
  };
}

function unaryRow(op: 'relu' | 'dropout', shape: number[], p = 0.5): Row {
  const n = shape.reduce((a, b) => a * b, 1);
  const X = randomArray(n, 7);
  const row: Row = {
    op,
    shape: shape.join('x') + (op === 'dropout' ? ` p${p}` : ''),
    kind: 'bytes',
    work: 8 * n,
    outBytes: 4 * n,
    input: X,
    ours: () => {
      const name = op === 'relu' ? 'relu' : 'dropout';
      const f = api[name];
      if (!f) return missing(name);
      const x = ourTensor(X, shape);
      const call = op === 'relu' ? () => f(x) : () => f(x, p, true);
      return {
        run: () => void call(),
        output: async () => {
          const y = call();
          const r = await ourOut(y);
          y.dispose();
          return r;
        },
        dispose: () => x.dispose(),
      };
    },
    theirs: (tf) => {
      const x = tf.tensor(X, shape);
      const f = op === 'relu' ? () => tf.relu(x) : () => tf.dropout(x, p);
      return {
        run: () => void f(),
        output: async () => {
          const y = f();
          const r = (await y.data()) as Float32Array;
          y.dispose();
          return r;
        },
        dispose: () => x.dispose(),
      };
    },
  };
  if (op === 'dropout') row.check = checkDropout(p);
  return row;
}

function rows(small: boolean): Row[] {
  const B = small ? 4 : 128;
  const sizes = small ? [256, 512, 1024] : [1024, 2048, 4096];
  const convs: ConvGeom[] = [
    { name: 'conv1', b: B, c: 1, h: 224, w: 224, o: 96, k: 11, s: 4, p: 1 },
    { name: 'conv2', b: B, c: 96, h: 26, w: 26, o: 256, k: 5, s: 1, p: 2 },
    { name: 'conv3', b: B, c: 256, h: 12, w: 12, o: 384, k: 3, s: 1, p: 1 },
  ];
  return [
    ...sizes.map((s) => matmulRow(s, s, s)),
    matmulRow(small ? 16 : 128, 6400, 4096, 'fc6'),
    ...convs.flatMap(convRows),
    maxPoolRow(B, 96, 54, 3, 2),
    unaryRow('relu', [B, 96, 54, 54]),
    unaryRow('dropout', [small ? 16 : 128, 4096]),
  ];
}

// ---------- main ----------
interface Result {
  op: string;
  shape: string;
  kind: 'flops' | 'bytes';
  adapter: string;
  oursMs?: number;
  tfjsMs?: number;
  oursRate?: number;
  tfjsRate?: number;
  /** ours / tfjs throughput (= tfjs ms / ours ms): > 1 means ours is faster. */
  ratio?: number;
  /** JavaScript time to record one run (ms): dispatch overhead, and TF.js's host-side work
   * such as its dropout mask. Not part of the GPU times above. */
  oursRecordMs?: number;
  tfjsRecordMs?: number;
  clock?: string;
  check: string;
  note?: string;
}

async function timeSide(side: Side, tidy: (f: () => void) => void, tg: Target, row: Row, o: { runs: number; small: boolean }): Promise<Measurement> {
  const maxReps = Math.max(1, Math.min(256, Math.floor((1 << 30) / Math.max(row.outBytes, 1))));
  return measure(() => tidy(() => side.run()), { runs: o.runs, warmup: 1, minSampleMs: o.small ? 5 : 10, maxReps, budgetMs: o.small ? 10_000 : 20_000 }, tg);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), { values: ['filter', 'runs', 'json'], flags: ['small', 'full'] }, USAGE);
  Object.assign(globalThis, globals);
  if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = '/tmp';
  const gpu = create(['disable-dawn-features=timestamp_quantization']);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('no WebGPU adapter (see `npm run provision`)');
  const info = await wt.init({ gpu, adapter });
  const { tf, target: tfTarget } = await loadTfjs(gpu);
  const small = args.has('small') || (info.software && !args.has('full'));
  const runs = args.int('runs') ?? (small ? 3 : 10);
  const filter = makeFilter(args.str('filter'));
  const own = ownTarget();
  const adapterName = info.description || info.device;
  console.log(`adapter: ${adapterName} (${info.software ? 'software' : 'hardware'}); TF.js ${tf.version_core} webgpu; ${small ? 'small' : 'full'} shapes; ${runs} runs`);
  console.log('rate = work / median GPU time; ours/tfjs = throughput ratio (> 1: webgpu-tensor is faster);');
  console.log('rec = JavaScript time to record one run (dispatch overhead, host-side work), not in the GPU time\n');
  const W = [14, 38, 9, 9, 16, 16, 9, 9, 9];
  const line = (c: string[]) => c.map((x, i) => (i < 2 ? x.padEnd(W[i]) : x.padStart(W[i]))).join(' ').trimEnd();
  console.log(line(['op', 'shape', 'ours ms', 'tfjs ms', 'ours', 'tfjs', 'ours/tfjs', 'ours rec', 'tfjs rec']));
  console.log(W.map((w) => '-'.repeat(w)).join(' '));
  const results: Result[] = [];
  const t0 = performance.now();
  for (const row of rows(small)) {
    if (!filter(row.op) && !filter(`${row.op} ${row.shape}`)) continue;
    const res: Result = { op: row.op, shape: row.shape, kind: row.kind, adapter: adapterName, check: 'ok' };
    results.push(res);
    const ours = row.ours();
    if (typeof ours === 'string') {
      res.check = 'skipped';
      res.note = ours;
      console.log(line([row.op, row.shape, '-', '-', '-', '-', '-']) + `  (skipped: ${ours})`);
      continue;
    }
    let theirs: Side | null = null;
    try {
      theirs = row.theirs(tf);
      // correctness first
      const a = await ours.output();
      const b = await theirs.output();
      const bad =
        a && b
          ? row.check
            ? (row.check(a, b, row.input!) ?? (row.check(b, a, row.input!) && `tfjs: ${row.check(b, a, row.input!)}`))
            : compare(a, b)
          : null;
      if (bad) {
        res.check = `MISMATCH: ${bad}`;
        console.log(line([row.op, row.shape, '-', '-', '-', '-', '-']) + `  (not timed: ${res.check})`);
        continue;
      }
      const mo = await timeSide(ours, (f) => void wt.tidy(f), own, row, { runs, small });
      const mt = await timeSide(theirs, (f) => void tf.tidy(f), tfTarget, row, { runs, small });
      const unit = row.kind === 'flops' ? 'GFLOP/s' : 'GB/s';
      res.oursMs = mo.median;
      res.tfjsMs = mt.median;
      res.oursRate = row.work / mo.median / 1e6;
      res.tfjsRate = row.work / mt.median / 1e6;
      res.ratio = mt.median / mo.median;
      res.oursRecordMs = mo.recordMs;
      res.tfjsRecordMs = mt.recordMs;
      res.clock = mo.method === mt.method ? mo.method : `${mo.method}/${mt.method}`;
      const notes = [mo.note && `ours: ${mo.note}`, mt.note && `tfjs: ${mt.note}`].filter(Boolean).join('; ');
      if (notes) res.note = notes;
      console.log(
        line([
          row.op,
          row.shape,
          fmtNum(mo.median),
          fmtNum(mt.median),
          `${fmtNum(res.oursRate)} ${unit}`,
          `${fmtNum(res.tfjsRate)} ${unit}`,
          `${fmtNum(res.ratio)}x`,
          fmtNum(mo.recordMs, 2),
          fmtNum(mt.recordMs, 2),
        ]) + (notes ? `  (${notes})` : ''),
      );
    } catch (e) {
      res.check = 'error';
      res.note = e instanceof Error ? e.message.split('\n')[0] : String(e);
      console.log(line([row.op, row.shape, 'error']) + `  ${res.note}`);
      try {
        await wt.sync();
        await tfTarget.sync();
      } catch {
        /* reported */
      }
    } finally {
      ours.dispose();
      theirs?.dispose();
    }
  }
  const timed = results.filter((r) => r.ratio !== undefined);
  if (timed.length) {
    const geo = Math.exp(timed.reduce((s, r) => s + Math.log(r.ratio!), 0) / timed.length);
    console.log(`\ngeometric mean ours/tfjs over ${timed.length} rows: ${fmtNum(geo)}x; ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  const skipped = results.filter((r) => r.check === 'skipped').length;
  if (skipped) console.log(`${skipped} rows skipped: our op is not available yet`);
  const j = args.str('json');
  if (j) {
    writeFileSync(j, JSON.stringify(results, null, 2) + '\n');
    console.log(`wrote ${results.length} rows to ${j}`);
  }
  if (results.some((r) => r.check.startsWith('MISMATCH'))) process.exitCode = 2;
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (e) => {
    console.error(e instanceof Error ? e.stack ?? e.message : e);
    process.exit(1);
  },
);
