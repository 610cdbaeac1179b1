// A page that runs a subset of the kernel parity checks in the browser: each GPU result (and
// gradient) against the CPU twin on the same data, for the pointwise table (every unary and binary
// op), matmul and conv2d forward / both backwards under every GEMM design the adapter's caps
// allow (src/policy/gemm_choice.ts: 'tiled', 'lanes' at the adapter's width and at width 1), max and average pooling, softmax / logSoftmax, batch norm
// and cross-entropy. Publishes `window.parity` = { done, adapter, caps, variants, passed, failed,
// results } for test/browser/kernel_parity.test.ts; ?filter=REGEX runs only matching checks,
// ?designs=lanes,tiled only those GEMM designs.
import * as wt from '../../../src/index.ts';
import { BINARY, UNARY, UNARY_INTERNAL, type BinaryName, type UnaryName } from '../../../src/autograd/pointwise_table.ts';
import { binary, unary } from '../../../src/autograd/pointwise.ts';
import { deviceCaps } from '../../../src/backend/device.ts';
import { lanesConfig, lanesWidth, setGemmVariant } from '../../../src/policy/gemm_choice.ts';
import type { LanesWidth } from '../../../src/kernels/gemm.ts';
import { Generator } from '../../../src/tensor/random.ts';

interface CheckResult {
  name: string;
  ok: boolean;
  ms: number;
  error?: string;
}
interface Parity {
  done: boolean;
  adapter: string;
  caps?: unknown;
  variants: string[];
  passed: number;
  failed: number;
  results: CheckResult[];
  error?: string;
}
const parity: Parity = { done: false, adapter: '', variants: [], passed: 0, failed: 0, results: [] };
(globalThis as unknown as { parity: Parity }).parity = parity;

type Dev = 'cpu' | 'gpu';
const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

function rand(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const g = new Generator(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * g.random();
  return a;
}

/** Throws naming the worst element when |a - b| > atol + rtol * |b|. */
function close(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  if (actual.length !== expected.length) throw new Error(`${what}: length ${actual.length} vs ${expected.length}`);
  let worst = -1;
  let excess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const b = expected[i];
    if ((Number.isNaN(a) && Number.isNaN(b)) || a === b) continue;
    const e = Math.abs(a - b) - (atol + rtol * Math.abs(b));
    if (!(e <= 0) && (worst < 0 || !(e <= excess))) {
      worst = i;
      excess = e;
    }
  }
  if (worst >= 0) throw new Error(`${what}: element ${worst} of ${actual.length}: GPU ${actual[worst]}, CPU ${expected[worst]}`);
}

interface Input {
  shape: number[];
  data?: Float32Array;
  lo?: number;
  hi?: number;
  grad?: boolean;
  int?: number; // int32 labels in [0, int)
}

/**
 * Run `f` on the same inputs on the GPU and the CPU; compare the outputs and, when an input asks for
 * a gradient, the gradients of sum(out * r) for a fixed random r.
 */
async function gpuVsCpu(name: string, inputs: Input[], f: (xs: wt.Tensor[], dev: Dev) => wt.Tensor, rtol = 1e-4, atol = 1e-5): Promise<void> {
  const datas = inputs.map((inp, i) =>
    inp.int !== undefined
      ? Int32Array.from(rand(numel(inp.shape), 100 + i, 0, inp.int), (v) => Math.min(inp.int! - 1, Math.floor(v)))
      : (inp.data ?? rand(numel(inp.shape), 7 + 13 * i + name.length, inp.lo ?? -1, inp.hi ?? 1)),
  );
  const run = async (dev: Dev) =>
    wt.tidy(() => {
      const xs = inputs.map((inp, i) =>
        inp.int !== undefined
          ? wt.tensor(datas[i], inp.shape, { device: dev, dtype: 'int32' })
          : wt.tensor(datas[i], inp.shape, { device: dev, requiresGrad: !!inp.grad }),
      );
      const y = f(xs, dev);
      const out = [y.detach()];
      if (inputs.some((i) => i.grad)) {
        const r = wt.tensor(rand(y.size, 99, -1, 1), y.shape, { device: dev });
        y.mul(r).sum().backward();
        xs.forEach((x, i) => inputs[i].grad && out.push(x.grad!.clone()));
      }
      return out;
    });
  const g = await run('gpu');
  const c = await run('cpu');
  const labels = ['out', ...inputs.flatMap((inp, i) => (inp.grad ? [`grad[${i}]`] : []))];
  for (let k = 0; k < g.length; k++) {
    if (g[k].shape.join() !== c[k].shape.join()) throw new Error(`${name} ${labels[k]}: shape ${g[k].shape} vs ${c[k].shape}`);
    close(await g[k].toArray(), await c[k].toArray(), rtol, atol, `${name} ${labels[k]}`);
  }
  for (const t of [...g, ...c]) t.dispose();
}

const checks: [string, () => Promise<void>][] = [];
const check = (name: string, fn: () => Promise<void>) => checks.push([name, fn]);

// ---- the pointwise table ----
const positive = new Set(['log', 'sqrt', 'powS', 'reciprocal']);
for (const op of [...Object.keys(UNARY), ...Object.keys(UNARY_INTERNAL)] as UnaryName[]) {
  const lo = positive.has(op) ? 0.1 : -3;
  check(`unary ${op}`, () =>
    gpuVsCpu(`unary ${op}`, [{ shape: [1037], lo, hi: 3 }], ([x]) => unary(op, x, op === 'powS' ? 2.5 : 0.75, op === 'clamp' || op === 'clampMask' ? 1.5 : undefined), 1e-5, 1e-6),
  );
}
for (const op of Object.keys(BINARY) as BinaryName[]) {
  const pos = op === 'pow';
  for (const [sa, sb] of [[[1029], [1029]], [[3, 1, 5], [1, 4, 1]], [[2, 3, 4], [4]]] as [number[], number[]][]) {
    check(`binary ${op} ${sa}x${sb}`, () =>
      gpuVsCpu(`binary ${op}`, [{ shape: sa, lo: pos ? 0.2 : -2, hi: 2 }, { shape: sb, lo: -2, hi: 2 }], ([a, b]) => binary(op, a, b.add(op === 'div' ? 3 : 0)), 1e-5, 1e-6),
    );
  }
}

// ---- GEMMs: matmul and conv2d under each design the adapter allows ----
/** A GEMM design: 'tiled', or 'lanes' at a lane width the adapter supports. */
type Design = { variant: 'tiled' } | { variant: 'lanes'; width: LanesWidth };
const designName = (d: Design) => (d.variant === 'tiled' ? 'tiled' : `lanes w${d.width}`);

function gemmChecks(d: Design): void {
  const tag = `[${designName(d)}]`;
  const withVariant = (fn: () => Promise<void>) => async () => {
    setGemmVariant(d.variant);
    if (d.variant === 'lanes') lanesConfig.width = d.width;
    try {
      await fn();
    } finally {
      setGemmVariant(undefined);
      lanesConfig.width = undefined;
    }
  };
  for (const [sa, sb] of [[[33, 70], [70, 45]], [[8, 40], [40, 130]], [[3, 17, 9], [3, 9, 31]], [[64, 64], [64, 64]]] as [number[], number[]][])
    check(`matmul ${tag} ${sa}@${sb} fwd+bwd`, withVariant(() =>
      gpuVsCpu(`matmul ${sa}@${sb}`, [{ shape: sa, grad: true }, { shape: sb, grad: true }], ([a, b]) => wt.matmul(a, b), 1e-4, 1e-4),
    ));
  check(`linear ${tag} [32,400]x[120,400]+b fwd+bwd`, withVariant(() =>
    gpuVsCpu('linear', [{ shape: [32, 400], grad: true }, { shape: [120, 400], grad: true }, { shape: [120], grad: true }], ([x, w, b]) => wt.linear(x, w, b), 1e-4, 1e-4),
  ));
  const convs: [string, number[], number[], wt.Conv2dOptions][] = [
    ['3->5 3x3 p1', [2, 3, 11, 11], [5, 3, 3, 3], { padding: 1 }],
    ['4->6 3x3 s2', [2, 4, 9, 9], [6, 4, 3, 3], { stride: 2 }],
    ['1->6 5x5 p2 (LeNet conv1, column gradient)', [2, 1, 12, 12], [6, 1, 5, 5], { padding: 2 }],
    ['6->16 5x5 (LeNet conv2)', [2, 6, 14, 14], [16, 6, 5, 5], {}],
    ['16->8 3x3 p1 6x6 (small-map im2col)', [2, 16, 6, 6], [8, 16, 3, 3], { padding: 1 }],
    ['4->4 3x3 groups 2 dilation 2', [1, 4, 10, 10], [4, 2, 3, 3], { padding: 2, dilation: 2, groups: 2 }],
  ];
  for (const [what, xs, ws, o] of convs)
    check(`conv2d ${tag} ${what} fwd+bwd`, withVariant(() =>
      gpuVsCpu(`conv2d ${what}`, [{ shape: xs, grad: true }, { shape: ws, grad: true }, { shape: [ws[0]], grad: true }], ([x, w, b]) => wt.conv2d(x, w, b, o), 1e-4, 1e-4),
    ));
}

// ---- layers ----
for (const [what, k, s, p] of [['3/2', 3, 2, 0], ['2/2', 2, 2, 0], ['3/1 p1', 3, 1, 1]] as [string, number, number, number][]) {
  check(`maxPool2d ${what} fwd+bwd`, () => gpuVsCpu(`maxPool2d ${what}`, [{ shape: [2, 3, 12, 13], grad: true }], ([x]) => wt.maxPool2d(x, k, s, p)));
  check(`avgPool2d ${what} fwd+bwd`, () => gpuVsCpu(`avgPool2d ${what}`, [{ shape: [2, 3, 12, 13], grad: true }], ([x]) => wt.avgPool2d(x, k, s, p)));
}
for (const [shape, dim] of [[[64, 10], 1], [[2, 5, 7], 1], [[2, 3000], 1], [[16, 300], 0]] as [number[], number][]) {
  check(`softmax ${shape} dim ${dim} fwd+bwd`, () => gpuVsCpu(`softmax ${shape}`, [{ shape, grad: true, lo: -4, hi: 4 }], ([x]) => wt.softmax(x, dim)));
  check(`logSoftmax ${shape} dim ${dim} fwd+bwd`, () => gpuVsCpu(`logSoftmax ${shape}`, [{ shape, grad: true, lo: -4, hi: 4 }], ([x]) => wt.logSoftmax(x, dim)));
}
for (const shape of [[4, 3, 5, 5], [8, 6, 14, 14], [16, 12]]) {
  check(`batchNorm training ${shape} fwd+bwd`, () =>
    gpuVsCpu(`batchNorm ${shape}`, [{ shape, grad: true, lo: -2, hi: 3 }, { shape: [shape[1]], grad: true, lo: 0.5, hi: 1.5 }, { shape: [shape[1]], grad: true }], ([x, w, b], dev) => {
      const rm = wt.zeros([shape[1]], { device: dev });
      const rv = wt.ones([shape[1]], { device: dev });
      return wt.batchNorm(x, rm, rv, w, b, true);
    }, 2e-4, 2e-5),
  );
  check(`batchNorm eval ${shape}`, () =>
    gpuVsCpu(`batchNorm eval ${shape}`, [{ shape, grad: true }, { shape: [shape[1]], lo: -0.5, hi: 0.5 }, { shape: [shape[1]], lo: 0.5, hi: 2 }], ([x, rm, rv]) => wt.batchNorm(x, rm, rv, null, null, false)),
  );
}
check('crossEntropy [64,10] fwd+bwd', () =>
  gpuVsCpu('crossEntropy', [{ shape: [64, 10], grad: true, lo: -3, hi: 3 }, { shape: [64], int: 10 }], ([x, y]) => wt.crossEntropy(x, y).reshape([1])),
);
check('relu [5003] fwd+bwd', () => gpuVsCpu('relu', [{ shape: [5003], grad: true }], ([x]) => wt.relu(x)));
check('sum / mean / max over dims', () =>
  gpuVsCpu('reductions', [{ shape: [6, 7, 9], grad: true }], ([x]) => x.sum(1).add(x.mean(2).sum(1, true)).add(x.max(1).sum(1, true))),
);

async function main(): Promise<void> {
  const info = await wt.init();
  const caps = deviceCaps();
  parity.adapter = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ') || '(no adapter details)';
  parity.caps = caps;
  // the adapter's own lanes width (what software adapters run), width 1 (no subgroups) and 'tiled'
  const widths = [...new Set([lanesWidth(caps), 1 as const])];
  const q = new URLSearchParams(location.search);
  const all: Design[] = [{ variant: 'tiled' }, ...widths.map((width) => ({ variant: 'lanes' as const, width }))];
  // ?designs=lanes,tiled picks GEMM designs by variant (default: all)
  const want = q.get('designs')?.split(',');
  const designs = all.filter((d) => !want || want.includes(d.variant));
  parity.variants = designs.map(designName);
  for (const d of designs) gemmChecks(d);
  const filter = q.get('filter');
  const re = filter ? new RegExp(filter) : null;
  for (const [name, fn] of checks) {
    if (re && !re.test(name)) continue;
    const t = performance.now();
    try {
      await fn();
      parity.results.push({ name, ok: true, ms: Math.round(performance.now() - t) });
      parity.passed++;
    } catch (e) {
      parity.results.push({ name, ok: false, ms: Math.round(performance.now() - t), error: e instanceof Error ? e.message : String(e) });
      parity.failed++;
    }
  }
  document.body.textContent = `${parity.passed} passed, ${parity.failed} failed`;
  parity.done = true;
}

main().catch((e) => {
  parity.error = e instanceof Error ? `${e.message}\n${e.stack}` : String(e);
  parity.done = true;
});
