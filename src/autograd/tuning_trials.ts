// The autotuner's trials (the work timed under each candidate) and parity checks (each candidate's
// output against the CPU twin) for the families of tuning_families.ts. A trial runs the op itself
// on inputs of the class's first shape; the candidate being timed is the one the tuner forces for
// its family while the op asks. Imported for its effect by the package entry.
import type { ParityTrial, TuningTrial } from '../backend/tuner.ts';
import type { Conv2dGeom } from '../kernels/conv2d.ts';
import type { PoolGeom } from '../kernels/maxpool.ts';
import { tensor } from '../tensor/creation.ts';
import { keep, tidy } from '../tensor/scope.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { conv2d, conv2dInputGrad, conv2dWeightGrad } from './conv.ts';
import { mm } from './matmul_op.ts';
import { maxPool2d } from './max_pool.ts';
import { type GemmShape, convGemmFamily, gemmFamily, maxPoolFamily, smallMapFamily } from './tuning_families.ts';

/** Deterministic inputs in [-1, 1) from a local generator (the global seeded one is left alone, so
 * tuning never changes a program's random numbers). */
function values(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
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

/** Inputs on `device`, outside every scope (the trial frees them). */
function inputs(shapes: number[][], device: 'gpu' | 'cpu'): Tensor[] {
  return shapes.map((sh, i) => keep(tensor(values(sh.reduce((p, q) => p * q, 1), i + 1), sh, { device })));
}

/** A trial that runs `work` on GPU inputs of `shapes`. */
function trial(shapes: number[][], work: (ins: Tensor[]) => void): TuningTrial {
  const ins = inputs(shapes, 'gpu');
  return {
    run: () => tidy(() => void work(ins)),
    dispose: () => ins.forEach((t) => t.dispose()),
  };
}

/** A parity check: `work` on GPU inputs (under the candidate being checked) and on CPU copies. */
function parity(shapes: number[][], work: (ins: Tensor[]) => Tensor[]): ParityTrial {
  const gpu = inputs(shapes, 'gpu');
  const cpu = inputs(shapes, 'cpu');
  let want: Float32Array | null = null;
  const flat = async (ts: Tensor[]) => {
    const parts = await Promise.all(ts.map((t) => t.toArray()));
    const n = parts.reduce((s, p) => s + p.length, 0);
    const out = new Float32Array(n);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    ts.forEach((t) => t.dispose());
    return out;
  };
  return {
    async outputs() {
      want ??= await flat(tidy(() => work(cpu).map(keep)));
      const got = await flat(tidy(() => work(gpu).map(keep)));
      return { got, want };
    },
    dispose: () => [...gpu, ...cpu].forEach((t) => t.dispose()),
  };
}

// ---- GEMM ----

function gemmShapes(s: GemmShape): number[][] {
  const a = s.transA ? [s.k, s.m] : [s.m, s.k];
  const b = s.transB ? [s.n, s.k] : [s.k, s.n];
  return s.batch > 1 ? [[s.batch, ...a], [s.batch, ...b]] : [a, b];
}
const gemmWork = (s: GemmShape) => ([a, b]: Tensor[]) => mm(a, b, s.transA, s.transB, s.batch);

gemmFamily.trial = (s) => trial(gemmShapes(s), gemmWork(s));
gemmFamily.parity = (s) => parity(gemmShapes(s), (ins) => [gemmWork(s)(ins)]);

// ---- convolutions: forward, input gradient, weight gradient (the work of a training step) ----

function convShapes(g: Conv2dGeom): number[][] {
  return [[g.batch, g.cin, g.h, g.w], [g.cout, g.cin, g.kh, g.kw], [g.batch, g.cout, g.oh, g.ow]];
}
const convWork = (g: Conv2dGeom) => ([x, w, gy]: Tensor[]): Tensor[] => {
  const o = { stride: [g.sh, g.sw] as const, padding: [g.ph, g.pw] as const };
  return [conv2d(x, w, null, o), conv2dInputGrad(x.shape, w, gy, o), conv2dWeightGrad(x, w.shape, gy, o)];
};

for (const f of [smallMapFamily, convGemmFamily]) {
  f.trial = (g) => trial(convShapes(g), (ins) => void convWork(g)(ins));
  f.parity = (g) => parity(convShapes(g), convWork(g));
}

// ---- max pooling ----

const poolShape = (g: PoolGeom) => [[1, g.n, g.h, g.w]];
const poolWork = (g: PoolGeom) => ([x]: Tensor[]) => maxPool2d(x, [g.kh, g.kw], { stride: [g.sh, g.sw], padding: [g.ph, g.pw] });

maxPoolFamily.trial = (g) => trial(poolShape(g), (ins) => void poolWork(g)(ins));
maxPoolFamily.parity = (g) => parity(poolShape(g), (ins) => [poolWork(g)(ins)]);
