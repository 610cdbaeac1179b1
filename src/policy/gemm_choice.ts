// Which GEMM design serves matmul and the implicit-GEMM convolutions on an adapter (see the file
// comment of src/kernels/gemm.ts for the two designs). The op layer asks here with the device's
// caps and passes the answer into the kernel params.
import type { Caps } from '../kernels/kernel.ts';
import { type GemmChoice, type GemmVariant, type LanesWidth, lanesRunsOn } from '../kernels/gemm.ts';

/** Subgroups per 'lanes' workgroup, for experiments: 1 = one 8-lane subgroup per workgroup (the
 * design described in gemm.ts); more is applied only where subgroups are exactly 8 lanes.
 * `width` forces the lane width (tests; default: the adapter's, see `lanesWidth`). */
export const lanesConfig: { s: number; width?: LanesWidth } = { s: 1 };

let forcedVariant: GemmVariant | undefined;

/** Force one GEMM design for every later launch (tests; `undefined` = choose per adapter). */
export function setGemmVariant(v: GemmVariant | undefined): void {
  if (v !== undefined && v !== 'lanes' && v !== 'tiled') throw new Error(`setGemmVariant: variant must be 'lanes' or 'tiled', got ${String(v)}`);
  forcedVariant = v;
}

/** Whether `setGemmVariant` forces a design (then nothing else is tuned). */
export function gemmVariantForced(): boolean {
  return forcedVariant !== undefined;
}

/**
 * Lanes sharing A values in the 'lanes' core on this adapter: 8 where subgroups hold at least 8
 * lanes (lavapipe under Dawn), 4 where they hold 4 (SwiftShader in Chrome), 1 without the
 * 'subgroups' feature (Firefox) or with smaller subgroups.
 */
export function lanesWidth(caps: Caps): LanesWidth {
  if (lanesConfig.width !== undefined) return lanesConfig.width;
  if (lanesRunsOn(caps, 1, 8)) return 8;
  if (lanesRunsOn(caps, 1, 4)) return 4;
  return 1;
}

/** Groups of `width` lanes per 'lanes' workgroup on this adapter: width 8 keeps one subgroup (or
 * `lanesConfig.s` where subgroups are exactly 8); width 4 takes two subgroups where they are
 * exactly 4 lanes and width 1 eight lanes, so a workgroup is 8 invocations, the width the software
 * adapters' per-workgroup costs were measured at (src/kernels/stream.ts). */
export function lanesSubgroups(caps: Caps, width: LanesWidth = lanesWidth(caps)): number {
  if (width === 8) return lanesConfig.s > 1 && caps.subgroupMaxSize === 8 ? lanesConfig.s : 1;
  if (width === 4) return lanesRunsOn(caps, 2, 4) ? 2 : 1;
  return 8;
}

/** Whether the 'lanes' core can run here: always, at some width (width 1 needs no subgroups). */
export function lanesSupported(caps: Caps): boolean {
  return lanesRunsOn(caps, 1, lanesWidth(caps));
}

/** The 'lanes' choice for this adapter: its lane width and groups per workgroup. */
export function lanesChoice(caps: Caps): GemmChoice {
  const width = lanesWidth(caps);
  const choice: GemmChoice = { variant: 'lanes', lanesSubgroups: lanesSubgroups(caps, width) };
  if (width !== 8) choice.lanesWidth = width;
  return choice;
}

/**
 * The design the adapter gets without forcing or tuning: 'lanes' on software adapters, 'tiled'
 * (the TF.js design, for hardware GPUs) everywhere else. On lavapipe every storage load becomes
 * per-lane masked scalar loads and workgroup memory is slower, so the lanes core (one loader lane
 * per A value, subgroup broadcasts, no workgroup memory) serves it. Software adapters without
 * 8-lane subgroups take the lanes core at width 4 or 1 rather than 'tiled': 'tiled' runs 256
 * invocations per workgroup with barriers, which CPU implementations execute slowly (SwiftShader
 * in Chromium: ~8 ms per workgroup and seconds to compile each pipeline; LeNet training in the
 * browser demo went from ~5 to ~260 examples/s there, and from ~52 to ~450 in Firefox on lavapipe)
 * and wastes most of its 64 x 64 tile on small layers.
 */
export function adapterGemmVariant(caps: Caps): GemmVariant {
  return caps.software && lanesSupported(caps) ? 'lanes' : 'tiled';
}

/** The design for `op` on this adapter: the forced one if set, else `adapterGemmVariant`'s. */
export function chooseGemm(op: string, caps: Caps): GemmChoice {
  const v = forcedVariant ?? adapterGemmVariant(caps);
  if (v === 'tiled') return { variant: 'tiled' };
  const choice = lanesChoice(caps);
  if (!lanesRunsOn(caps, 1, choice.lanesWidth ?? 8))
    throw new Error(`${op}: the 'lanes' GEMM variant at width ${choice.lanesWidth ?? 8} needs the 'subgroups' feature with subgroups of at least that many lanes; use 'tiled'`);
  return choice;
}
