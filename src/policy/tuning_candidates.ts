// What the autotuner (src/backend/tuner.ts) may pick from, per kernel family: the candidates that
// can run a shape on an adapter, the built-in choice of the family's policy module first (the
// default, kept unless another is measurably faster), and the shape classes that share a pick.
// Families: the GEMM design of a matmul ('gemm'), the GEMM design of a convolution's implicit GEMMs
// ('conv2d.gemm'), the small-map im2col path of a convolution ('conv2d.smallMap'), the max-pool
// forward kernel ('maxpool.forward').
import type { Caps, KernelDef } from '../kernels/kernel.ts';
import type { Conv2dGeom } from '../kernels/conv2d.ts';
import type { GemmChoice } from '../kernels/gemm.ts';
import { type MaxPoolParams, type PoolGeom, maxPoolKernel } from '../kernels/maxpool.ts';
import { maxPoolLanesKernel, poolLanesFits } from '../kernels/maxpool_lanes.ts';
import { chooseGemm, gemmVariantForced } from './gemm_choice.ts';
import { gemmCandidates, gemmChoiceName } from './gemm_variants.ts';
import { smallMapsConfig, useSmallMaps } from './conv_choice.ts';
import { lanesUsable } from './pool_choice.ts';

/** One candidate: its saved name and what the op layer passes into the kernel params. */
export interface TuningCandidate<C> {
  name: string;
  value: C;
}

/** Shape classes bucket each size to the next power of two, so a model's handful of layer shapes
 * gives a handful of classes and a new batch size or input side rarely starts a new tuning. */
export function pow2(x: number): number {
  return x <= 1 ? 1 : 2 ** Math.ceil(Math.log2(x));
}

// ---- GEMM (matmul, linear, the small-map convolution GEMMs) ----

/** One GEMM launch: [batch x] (M x K) @ (K x N), operands transposed or not. */
export interface GemmShape {
  m: number;
  n: number;
  k: number;
  batch: number;
  transA: boolean;
  transB: boolean;
}

export function gemmShapeClass(s: GemmShape): string {
  const t = `${s.transA ? 't' : 'n'}${s.transB ? 't' : 'n'}`;
  return `${t}${s.batch > 1 ? ` b${pow2(s.batch)}` : ''} m${pow2(s.m)} n${pow2(s.n)} k${pow2(s.k)}`;
}

export function describeGemm(s: GemmShape): string {
  return `${s.batch > 1 ? `${s.batch}x` : ''}${s.m}x${s.n}x${s.k}${s.transA ? ' tA' : ''}${s.transB ? ' tB' : ''}`;
}

/**
 * The GEMM designs for `op` on this adapter: every variant `gemmCandidates` (gemm_variants.ts) lists
 * for the problem, its default (the policy's `chooseGemm` with nothing forced) first; only the
 * forced one while a variant is forced (`setGemmVariant`). A convolution's implicit GEMMs are timed
 * as one choice for the forward, input and weight gradients, sized by one group's forward problem
 * (N = OH*OW per image, K = Cin/groups*KH*KW, one image per z) with M = max(Cout, Cin)/groups: the
 * forward's rows or the input gradient's, whichever is more, so a few-row tile is the default only
 * where it holds both.
 */
export function gemmTuningCandidates(op: string, shape: GemmShape | Conv2dGeom, caps: Caps): TuningCandidate<GemmChoice>[] {
  if (gemmVariantForced()) {
    const c = chooseGemm(op, caps);
    return [{ name: gemmChoiceName(c), value: c }];
  }
  const problem =
    'transA' in shape
      ? { m: shape.m, n: shape.n, k: shape.k, batch: shape.batch }
      : { m: Math.max(shape.cout, shape.cin) / (shape.groups || 1), n: shape.oh * shape.ow, k: (shape.cin / (shape.groups || 1)) * shape.kh * shape.kw, batch: shape.batch };
  return gemmCandidates(op, problem, caps).map((c) => ({ name: gemmChoiceName(c), value: c }));
}

// ---- convolutions ----

/** Dilation and groups (when not 1) as a suffix. */
function convExtras(g: Conv2dGeom): string {
  return `${g.dh > 1 || g.dw > 1 ? ` d${g.dh}x${g.dw}` : ''}${g.groups > 1 ? ` g${g.groups}` : ''}`;
}

export function convShapeClass(g: Conv2dGeom): string {
  return `b${pow2(g.batch)} cin${pow2(g.cin)} cout${pow2(g.cout)} px${pow2(g.oh * g.ow)} k${g.kh}x${g.kw} s${g.sh}x${g.sw}${convExtras(g)}`;
}

export function describeConv(g: Conv2dGeom): string {
  return `x[${g.batch},${g.cin},${g.h},${g.w}] w[${g.cout},${g.cin / g.groups},${g.kh},${g.kw}] s${g.sh},${g.sw} p${g.ph},${g.pw}${convExtras(g)}`;
}

/** The small-map path ('im2col': explicit im2col + whole-batch GEMMs) or the implicit GEMMs
 * ('implicit'). Only where `useSmallMaps` allows the path (its memory bounds hold) is there a choice;
 * the default is the policy's, the small-map path. */
export function smallMapCandidates(g: Conv2dGeom, caps: Caps): TuningCandidate<boolean>[] {
  const implicit = { name: 'implicit', value: false };
  if (!smallMapsConfig.enabled || !useSmallMaps(g, caps)) return [implicit];
  return [{ name: 'im2col', value: true }, implicit];
}

// ---- max pooling ----

export function poolShapeClass(g: PoolGeom): string {
  return `n${pow2(g.n)} ${pow2(g.h)}x${pow2(g.w)} k${g.kh}x${g.kw} s${g.sh}x${g.sw} p${g.ph}x${g.pw}`;
}

export function describePool(g: PoolGeom): string {
  return `[${g.n},${g.h},${g.w}] k${g.kh}x${g.kw} s${g.sh},${g.sw} p${g.ph},${g.pw}`;
}

/** The forward kernels that can pool this geometry here: the lanes kernel where `lanesUsable` and
 * it fits (the policy's default there), and the generic kernel. */
export function maxPoolForwardCandidates(g: PoolGeom, caps: Caps): TuningCandidate<KernelDef<MaxPoolParams>>[] {
  const generic = { name: 'generic', value: maxPoolKernel };
  return lanesUsable(g, caps) && poolLanesFits(g) ? [{ name: 'lanes', value: maxPoolLanesKernel }, generic] : [generic];
}
