// The family of GEMM variants (src/kernels/gemm.ts) an autotuner may time for one launch, and the
// choice that runs without tuning. A variant is a `GemmChoice`: the design ('lanes' / 'tiled'), the
// 'tiled' tile configuration (workgroup tile, outputs per invocation, K slice, double buffering,
// vec4 loads, subgroup-shared A) and the split-K ranges. Every kernel on the GEMM cores (matmul,
// conv2d forward, its input / column / weight gradients) takes any of them in its params.
import type { Caps } from '../kernels/kernel.ts';
import {
  type GemmChoice, type TileConfig,
  DEFAULT_TILE, MAX_SPLIT_K, gemmGroups, gemmProblems, tileName, tileProblems,
} from '../kernels/gemm.ts';
import { adapterGemmVariant, lanesChoice } from './gemm_choice.ts';

/** The GEMM kernels (each kernel's name). */
export type GemmOp = 'matmul' | 'conv2d' | 'conv2d_input_grad' | 'conv2d_weight_grad' | 'conv2d_col_grad';

/** Problem size of one GEMM launch: out [batch, M, N], K deep. */
export interface GemmShape {
  m: number;
  n: number;
  k: number;
  /** Independent GEMMs along z (matmul batch, conv images or weight-gradient batch splits); default 1. */
  batch?: number;
}

const tile = (bm: number, bn: number, tm: number, tn: number, tk: number, o: Partial<TileConfig> = {}): TileConfig =>
  Object.freeze({ bm, bn, tm, tn, tk, double: false, vec4: true, sg: 0, ...o });

/** Every tile configuration of the 'tiled' family, the default first. Workgroup memory per config
 * is (BM + BN) * TK * 4 bytes (BN * TK * 4 with sg), twice that when double-buffered: those over
 * 16 KiB (the WebGPU default limit) run only where the adapter allows more (lavapipe: 32 KiB);
 * those over 256 invocations only where the adapter allows more (SwiftShader in Chromium: 256). */
export const TILE_CONFIGS: readonly TileConfig[] = Object.freeze([
  DEFAULT_TILE, //                                    64x64, 256 invocations, 16 KiB
  tile(64, 64, 4, 4, 32, { double: true }), //        32 KiB
  tile(128, 64, 8, 4, 16), //                         256 invocations, 12 KiB
  tile(64, 128, 4, 8, 16), //                         256 invocations, 12 KiB
  tile(128, 128, 8, 8, 16), //                        256 invocations, 16 KiB
  tile(128, 128, 8, 8, 8, { double: true }), //       16 KiB
  tile(128, 128, 8, 8, 16, { double: true }), //      32 KiB
  tile(64, 64, 4, 4, 32, { sg: 8 }), //               B only: 8 KiB, subgroups >= 8
  tile(64, 64, 4, 4, 16, { sg: 8, double: true }), // 8 KiB
  tile(64, 64, 4, 4, 32, { sg: 4 }), //               8 KiB, subgroups >= 4
  tile(64, 64, 4, 4, 32, { vec4: false }), //         scalar loads
  tile(16, 128, 4, 4, 16), //                         few rows: 128 invocations, 9 KiB
  tile(32, 128, 4, 4, 16), //                         256 invocations, 10 KiB
]);

/** The tiles for GEMMs of few rows (the per-group rows of a grouped convolution: 16 in RegNet's
 * blocks, 4 in ResNeXt-50 32x4d's; a matmul of a few rows): a 64-row tile would compute 4x / 16x
 * the outputs there. The default on hardware wherever the rows fit (SMALL_M_TILES[i].bm >= M),
 * chosen by that arithmetic, not timed on a hardware GPU; the tuner times them against the rest. */
export const SMALL_M_TILES: readonly TileConfig[] = Object.freeze(TILE_CONFIGS.filter((t) => t.bm < 64));

/** Kernels whose op layer allocates and reduces split-K partials (matmul: `mm` in
 * src/autograd/matmul_op.ts). The conv weight gradient takes `splitK` in its params too, once its
 * op layer sizes the partials by it (see gemm.ts). */
export const SPLIT_K_OPS: ReadonlySet<string> = new Set(['matmul']);

/** Split-K is offered only when the output grid is small: fewer workgroups than this (a hardware
 * GPU keeps ~100 cores busy only with hundreds of workgroups; a few dozen fill lavapipe's threads).
 * The same reasoning as WEIGHT_GRAD_WORKGROUPS in conv_choice.ts; no recorded measurement. */
export const SPLIT_K_MAX_GROUPS: Record<GemmChoice['variant'], number> = { tiled: 256, lanes: 32 };

/** Fewest K per split range: shorter ranges spend more on partial traffic than they gain. A sizing
 * rule, not a measured threshold. */
export const SPLIT_K_MIN_RANGE = 256;

/** Largest partial-sum buffer (bytes; also capped by maxStorageBufferBindingSize): a memory bound. */
export const SPLIT_K_PARTIAL_BYTES = 64 * 2 ** 20;

/** Split counts tried (each also needs K / S >= SPLIT_K_MIN_RANGE). */
export const SPLIT_K_COUNTS = [2, 4, 8, 16, 32, 64].filter((s) => s <= MAX_SPLIT_K);

/** The choice that runs without tuning: 'lanes' on software adapters that support it; elsewhere
 * 'tiled', with the smallest SMALL_M_TILES tile holding the problem's rows (M per group for a
 * grouped convolution), else the default tile. `chooseGemm` (no shape) picks the default tile. */
export function defaultGemmChoice(_op: GemmOp | string, shape: GemmShape, caps: Caps): GemmChoice {
  if (adapterGemmVariant(caps) === 'lanes') return lanesChoice(caps);
  const small = SMALL_M_TILES.find((t) => shape.m <= t.bm && !tileProblems(t, caps).length);
  return small ? { variant: 'tiled', tile: small } : { variant: 'tiled' };
}

/** A short name for a choice (logs, bench rows, tuning caches). */
export function gemmChoiceName(c: GemmChoice): string {
  const s = c.splitK && c.splitK > 1 ? ` splitK${c.splitK}` : '';
  if (c.variant === 'lanes') return `lanes x${c.lanesSubgroups ?? 1}${(c.lanesWidth ?? 8) === 8 ? '' : ` w${c.lanesWidth}`}${s}`;
  const t = tileName(c.tile ?? DEFAULT_TILE);
  return `tiled${t ? ` ${t}` : ''}${s}`;
}

/** Whether a tile fits the problem: a 128-wide side on a problem of at most 64 leaves half of
 * every workgroup idle; a tile of fewer than 64 rows serves only problems of at most its rows. */
function tileFits(t: TileConfig, shape: GemmShape): boolean {
  return !(t.bm > 64 && shape.m <= 64) && !(t.bn > 64 && shape.n <= 64) && !(t.bm < 64 && shape.m > t.bm);
}

/** Split counts worth timing for this problem under `base` (none when the grid is large or K short). */
export function splitKCounts(op: GemmOp | string, shape: GemmShape, base: GemmChoice, caps: Caps): number[] {
  if (!SPLIT_K_OPS.has(op)) return [];
  const batch = shape.batch ?? 1;
  const [gx, gy] = gemmGroups({ ...base, splitK: 1 }, shape.m, shape.n);
  if (gx * gy * batch >= SPLIT_K_MAX_GROUPS[base.variant]) return [];
  const maxBytes = Math.min(SPLIT_K_PARTIAL_BYTES, caps.maxStorageBufferBindingSize);
  return SPLIT_K_COUNTS.filter(
    (s) => shape.k / s >= SPLIT_K_MIN_RANGE && s * batch * shape.m * shape.n * 4 <= maxBytes && gx * s <= 65535,
  );
}

/**
 * The variants worth timing for `op` on a problem of `shape` on this adapter, each one it can run:
 * the default choice first, then the other 'lanes' widths (where subgroups are exactly 8 lanes),
 * the 'tiled' family (TILE_CONFIGS, vec4 loads on; scalar loads are kept for tests, never faster
 * where vec4 is offered and the same program where it is not), then split-K versions of the
 * default and of the default tile (SPLIT_K_OPS only, small output grids with a long K).
 */
export function gemmCandidates(op: GemmOp | string, shape: GemmShape, caps: Caps): GemmChoice[] {
  const out: GemmChoice[] = [];
  const seen = new Set<string>();
  const add = (c: GemmChoice) => {
    const key = gemmChoiceName(c);
    if (seen.has(key) || gemmProblems(c, caps).length) return;
    seen.add(key);
    out.push(c);
  };
  const dflt = defaultGemmChoice(op, shape, caps);
  add(dflt);
  if (caps.subgroups && caps.subgroupMinSize >= 8)
    for (const s of caps.subgroupMaxSize === 8 ? [1, 2, 4] : [1]) add({ variant: 'lanes', lanesSubgroups: s });
  for (const t of TILE_CONFIGS)
    if (t.vec4 && tileFits(t, shape) && tileProblems(t, caps).length === 0) add(t === DEFAULT_TILE ? { variant: 'tiled' } : { variant: 'tiled', tile: t });
  for (const base of [dflt, { variant: 'tiled' } as GemmChoice])
    for (const s of splitKCounts(op, shape, base, caps)) add({ ...base, splitK: s });
  return out;
}
