// Dropout y = keep ? x * scale : 0 with the keep mask drawn by a counter-based generator,
// Philox-4x32-10 (Salmon et al., SC'11; the generator of curand and PyTorch's CUDA dropout).
// One Philox call serves 8 elements, 16 random bits each: element i uses half (i & 1) (0 = low
// 16 bits, 1 = high) of word ((i >> 1) & 3) of philox(counter = [i >> 3, 0, 0, 0], key = [seedLo,
// seedHi]). Keep iff those 16 bits >= threshold = floor(p * 2^16), so p is rounded down to a
// multiple of 2^-16 (keep rate off by < 1.6e-5; the scale stays 1 / (1 - p)). The mask depends
// only on (seed, i): the backward recomputes it instead of storing it, and the CPU twin (the same
// Philox in JS) gives bit-identical masks. On lavapipe the kernel is bound by Philox arithmetic,
// so 8 elements per call instead of 4 nearly halves its cost.
// One invocation handles 8 consecutive elements (one Philox call): two vec4 loads when n % 4 == 0,
// else scalar loads with bounds checks. The backward is the same kernel applied to the gradient.
import type { Caps, NumArray } from './kernel.ts';
import { defineKernel, f32, read, rw, u32 } from './shader.ts';
import { type Stream, streamGeom, streamGroups, streamLoop } from './stream.ts';

/**
 * Params of {@link dropoutKernel}: `n` elements, the 64-bit Philox key as two u32 halves, the keep
 * threshold from {@link dropThreshold} and the scale 1 / (1 - p).
 */
export interface DropoutParams {
  n: number;
  seedLo: number;
  seedHi: number;
  /** keep iff the element's 16 random bits >= threshold (floor(p * 2^16), see dropThreshold) */
  threshold: number;
  /** 1 / (1 - p) */
  scale: number;
  /** launch geometry (default: the adapter's, see stream.ts); one unit = 8 elements */
  stream?: Stream;
}

const geo = (p: DropoutParams, caps: Caps) => p.stream ?? streamGeom(caps);
const elem = (p: DropoutParams) => (p.n % 4 === 0 ? 'vec4<f32>' : 'f32');
const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two u32 (16-bit limbs; every partial fits in 2^53). */
function mulhi(a: number, b: number): number {
  const al = a & 0xffff;
  const ah = a >>> 16;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const t = al * bl;
  const m1 = ah * bl + (t >>> 16);
  const m2 = al * bh + (m1 % 65536);
  return (ah * bh + Math.floor(m1 / 65536) + Math.floor(m2 / 65536)) >>> 0;
}

/** Philox-4x32-10 of one counter under one key; returns 4 u32 words. */
export function philox4x32(ctr: readonly number[], key: readonly number[], out = new Uint32Array(4)): Uint32Array {
  let c0 = ctr[0] >>> 0;
  let c1 = ctr[1] >>> 0;
  let c2 = ctr[2] >>> 0;
  let c3 = ctr[3] >>> 0;
  let k0 = key[0] >>> 0;
  let k1 = key[1] >>> 0;
  for (let r = 0; r < 10; r++) {
    const hi0 = mulhi(M0, c0);
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi(M1, c2);
    const lo1 = Math.imul(M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
  return out;
}

/** floor(p * 2^16) for p in [0, 1): the keep threshold on 16 random bits. */
export function dropThreshold(p: number): number {
  return Math.min(Math.floor(p * 65536), 0xffff);
}

const PHILOX_WGSL = `
fn mulhi(a: u32, b: u32) -> u32 {
  let al = a & 0xffffu; let ah = a >> 16u;
  let bl = b & 0xffffu; let bh = b >> 16u;
  let t = al * bl;
  let m1 = ah * bl + (t >> 16u);
  let m2 = al * bh + (m1 & 0xffffu);
  return ah * bh + (m1 >> 16u) + (m2 >> 16u);
}
fn philox(ctr: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  // the 10 rounds unrolled into lets: lavapipe keeps loop-carried values in memory
  let c0 = ctr;
${[...Array(10).keys()].map((r) => `  let k${r} = key + vec2<u32>(${Math.imul(r, W0) >>> 0}u, ${Math.imul(r, W1) >>> 0}u);
  let c${r + 1} = vec4<u32>(mulhi(${M1}u, c${r}.z) ^ c${r}.y ^ k${r}.x, ${M1}u * c${r}.z, mulhi(${M0}u, c${r}.x) ^ c${r}.w ^ k${r}.y, ${M0}u * c${r}.x);`).join('\n')}
  return c10;
}`;

/** The 16-bit random halves of one Philox result, in element order (lo/hi of x, y, z, w). */
const HALVES = ['r.x & 0xffffu', 'r.x >> 16u', 'r.y & 0xffffu', 'r.y >> 16u', 'r.z & 0xffffu', 'r.z >> 16u', 'r.w & 0xffffu', 'r.w >> 16u'];

/**
 * Dropout y = keep ? x * scale : 0 with a Philox-4x32-10 mask that depends only on (seed, element
 * index), so the backward (the same kernel on the gradient) recomputes it. Bindings: `x [n]`, `y [n]` (rw).
 */
export const dropoutKernel = defineKernel<DropoutParams>({
  name: 'dropout',
  spec: (p, caps) => `h16:${p.n % 4 === 0 ? 'v4' : 's'}:${geo(p, caps).wg}x${geo(p, caps).per}`,
  // x [n] (input, or the output gradient in the backward), y [n]
  storage: (p) => [read('x', elem(p)), rw('y', elem(p))],
  uniforms: (p) => [u32('n', p.n), u32('seedLo', p.seedLo), u32('seedHi', p.seedHi), u32('threshold', p.threshold), f32('scale', p.scale)],
  dispatch: (p, caps) => streamGroups(Math.ceil(p.n / 8), geo(p, caps)),
  body: (p, caps) => {
    const v4 = p.n % 4 === 0;
    // v4: vec4 j of unit i is x[2i + j]; the second may lie past the end when n % 8 == 4
    const body = v4
      ? `let t = vec4<u32>(u.threshold);
    let k0 = vec4<u32>(${HALVES.slice(0, 4).join(', ')}) >= t;
    let v0 = 2u * i;
    y[v0] = select(vec4<f32>(0.0), x[v0] * u.scale, k0);
    if (v0 + 1u < u.n / 4u) {
      let k1 = vec4<u32>(${HALVES.slice(4).join(', ')}) >= t;
      y[v0 + 1u] = select(vec4<f32>(0.0), x[v0 + 1u] * u.scale, k1);
    }`
      : HALVES.map(
          (h, e) => `{ let k = i * 8u + ${e}u;
      if (k < u.n) { y[k] = select(0.0, x[k] * u.scale, (${h}) >= u.threshold); } }`,
        ).join('\n    ');
    const s = geo(p, caps);
    const loop = streamLoop(s, 'units');
    return `
${PHILOX_WGSL}
@compute @workgroup_size(${s.wg})
fn main(${loop.params}) {
  let units = (u.n + 7u) / 8u;
  ${loop.open}
    let r = philox(vec4<u32>(i, 0u, 0u, 0u), vec2<u32>(u.seedLo, u.seedHi));
    ${body}
  }
}`;
  },
  cpu: (p, [x, y]: NumArray[]) => {
    // float32 outputs round the scale to f32 first, as the GPU's uniform does
    const scale = y instanceof Float32Array ? Math.fround(p.scale) : p.scale;
    const r = new Uint32Array(4);
    const key = [p.seedLo, p.seedHi];
    const ctr = [0, 0, 0, 0];
    for (let b = 0; b * 8 < p.n; b++) {
      ctr[0] = b;
      philox4x32(ctr, key, r);
      for (let j = 0; j < 8; j++) {
        const i = b * 8 + j;
        const bits = (r[j >> 1] >>> (16 * (j & 1))) & 0xffff;
        if (i < p.n) y[i] = bits >= p.threshold ? x[i] * scale : 0;
      }
    }
  },
});
