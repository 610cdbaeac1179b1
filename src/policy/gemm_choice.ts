// Which GEMM design serves matmul and the implicit-GEMM convolutions on an adapter (see the file
// comment of src/kernels/gemm.ts for the two designs). The op layer asks here with the device's
// caps and passes the answer into the kernel params.
import type { Caps } from '../kernels/kernel.ts';
import { type GemmChoice, type GemmVariant, lanesRunsOn } from '../kernels/gemm.ts';

/** Subgroups per 'lanes' workgroup, for experiments: 1 = one 8-lane subgroup per workgroup (the
 * design described in gemm.ts); more is applied only where subgroups are exactly 8 lanes. */
export const lanesConfig = { s: 1 };

let forcedVariant: GemmVariant | undefined;

/** Force one GEMM design for every later launch (tests; `undefined` = choose per adapter). */
export function setGemmVariant(v: GemmVariant | undefined): void {
  if (v !== undefined && v !== 'lanes' && v !== 'tiled') throw new Error(`setGemmVariant: variant must be 'lanes' or 'tiled', got ${String(v)}`);
  forcedVariant = v;
}

/** Subgroups per 'lanes' workgroup on this adapter. */
export function lanesSubgroups(caps: Caps): number {
  return lanesConfig.s > 1 && caps.subgroupMaxSize === 8 ? lanesConfig.s : 1;
}

/** Whether the 'lanes' core can run here (8 invocations = one whole subgroup of >= 8 lanes). */
export function lanesSupported(caps: Caps): boolean {
  return lanesRunsOn(caps);
}

/**
 * The design for `op` on this adapter: the forced one if set, else 'lanes' on software adapters
 * that support it and 'tiled' (the TF.js design, for hardware GPUs) everywhere else. On lavapipe
 * every storage load becomes per-lane masked scalar loads and workgroup memory is slower, so the
 * lanes core (one loader lane per A value, subgroup broadcasts, no workgroup memory) serves it.
 */
export function chooseGemm(op: string, caps: Caps): GemmChoice {
  const v = forcedVariant ?? (caps.software && lanesSupported(caps) ? 'lanes' : 'tiled');
  if (v === 'tiled') return { variant: 'tiled' };
  if (!lanesSupported(caps))
    throw new Error(`${op}: the 'lanes' GEMM variant needs the 'subgroups' feature with subgroups of at least 8; use 'tiled'`);
  return { variant: 'lanes', lanesSubgroups: lanesSubgroups(caps) };
}
