// The kernel families the op layer lets the autotuner pick for (src/backend/tuner.ts), with their
// candidates from src/policy/tuning_candidates.ts. The ops call the `tuned*` functions below on GPU
// tensors; the timing trials and parity checks are attached in tuning_trials.ts (they run the ops).
import { deviceCaps } from '../backend/device.ts';
import { choose, registerFamily, type TuningFamily } from '../backend/tuner.ts';
import type { Conv2dGeom } from '../kernels/conv2d.ts';
import type { GemmChoice } from '../kernels/gemm.ts';
import type { KernelDef } from '../kernels/kernel.ts';
import type { MaxPoolParams, PoolGeom } from '../kernels/maxpool.ts';
import {
  type GemmShape,
  convShapeClass,
  describeConv,
  describeGemm,
  describePool,
  gemmShapeClass,
  gemmTuningCandidates,
  maxPoolForwardCandidates,
  poolShapeClass,
  smallMapCandidates,
} from '../policy/tuning_candidates.ts';

export type { GemmShape } from '../policy/tuning_candidates.ts';

/** A convolution geometry for bench samples: x [b, cin, s, s], w [cout, cin, k, k]. */
function conv(b: number, cin: number, s: number, cout: number, k: number, st: number, p: number): Conv2dGeom {
  const o = Math.floor((s + 2 * p - k) / st) + 1;
  return { batch: b, cin, h: s, w: s, cout, kh: k, kw: k, sh: st, sw: st, ph: p, pw: p, oh: o, ow: o, dh: 1, dw: 1, groups: 1 };
}

/** AlexNet's five convolutions (d2l, 1-channel input) at input side `r`, batch `b`. */
function alexnetConvs(b: number, r: number): Conv2dGeom[] {
  const c1 = conv(b, 1, r, 96, 11, 4, 1);
  const p1 = Math.floor((c1.oh - 3) / 2) + 1;
  const c2 = conv(b, 96, p1, 256, 5, 1, 2);
  const p2 = Math.floor((c2.oh - 3) / 2) + 1;
  return [c1, c2, conv(b, 256, p2, 384, 3, 1, 1), conv(b, 384, p2, 384, 3, 1, 1), conv(b, 384, p2, 256, 3, 1, 1)];
}

const gemm = (m: number, n: number, k: number, transA = false, transB = false): GemmShape => ({ m, n, k, batch: 1, transA, transB });

/** The GEMM design of a matmul / linear / small-map convolution GEMM launch. */
export const gemmFamily: TuningFamily<GemmShape, GemmChoice> = registerFamily({
  name: 'gemm',
  shapeClass: gemmShapeClass,
  describe: describeGemm,
  candidates: (s: GemmShape) => gemmTuningCandidates('matmul', s, deviceCaps()),
  // AlexNet's fc6 at batch 128 (input 224): forward, input gradient, weight gradient; fc7; quick:
  // awkward small sizes
  samples: (quick: boolean) =>
    quick
      ? [gemm(33, 70, 45), gemm(64, 256, 300, false, true), gemm(96, 40, 64, true, false)]
      : [gemm(128, 4096, 6400, false, true), gemm(128, 6400, 4096), gemm(4096, 6400, 128, true, false), gemm(128, 4096, 4096, false, true)],
});

/** The GEMM design of a convolution's implicit GEMMs (forward, input and weight gradients). */
export const convGemmFamily: TuningFamily<Conv2dGeom, GemmChoice> = registerFamily({
  name: 'conv2d.gemm',
  shapeClass: convShapeClass,
  describe: describeConv,
  candidates: (g: Conv2dGeom) => gemmTuningCandidates('conv2d', g, deviceCaps()),
  samples: (quick: boolean) => (quick ? [conv(2, 3, 17, 8, 3, 1, 1), conv(2, 16, 12, 24, 5, 2, 2)] : alexnetConvs(128, 224)),
});

/** Explicit im2col on small feature maps, or the implicit GEMMs. */
export const smallMapFamily: TuningFamily<Conv2dGeom, boolean> = registerFamily({
  name: 'conv2d.smallMap',
  shapeClass: convShapeClass,
  describe: describeConv,
  candidates: (g: Conv2dGeom) => smallMapCandidates(g, deviceCaps()),
  // AlexNet's conv3-5 at input 67 (3x3 maps), batch 32 / 2
  samples: (quick: boolean) => (quick ? alexnetConvs(2, 67).slice(2, 3) : alexnetConvs(32, 67).slice(2)),
});

/** The max-pool forward kernel. */
export const maxPoolFamily: TuningFamily<PoolGeom, KernelDef<MaxPoolParams>> = registerFamily({
  name: 'maxpool.forward',
  shapeClass: poolShapeClass,
  describe: describePool,
  candidates: (g: PoolGeom) => maxPoolForwardCandidates(g, deviceCaps()),
  samples: (quick: boolean) => {
    const p = (n: number, s: number): PoolGeom => {
      const o = Math.floor((s - 3) / 2) + 1;
      return { n, h: s, w: s, oh: o, ow: o, kh: 3, kw: 3, sh: 2, sw: 2, ph: 0, pw: 0 };
    };
    return quick ? [p(2 * 96, 15)] : [p(128 * 96, 54), p(128 * 256, 26)];
  },
});

/** The GEMM design for a matmul-kernel launch of this shape on the GPU. */
export function tunedGemm(s: GemmShape): GemmChoice {
  return choose(gemmFamily, s);
}

/** The GEMM design for the implicit GEMMs of a convolution of this geometry on `device` (the CPU
 * twins ignore it). */
export function tunedConvGemm(g: Conv2dGeom, device: string): GemmChoice {
  return device === 'gpu' ? choose(convGemmFamily, g) : { variant: 'tiled' };
}

/** Whether a convolution of this geometry takes the small-map path (GPU only). */
export function tunedSmallMaps(g: Conv2dGeom, device: string): boolean {
  return device === 'gpu' && choose(smallMapFamily, g);
}

/** The max-pool forward kernel for this geometry on the GPU. */
export function tunedMaxPoolForward(g: PoolGeom): KernelDef<MaxPoolParams> {
  return choose(maxPoolFamily, g);
}
