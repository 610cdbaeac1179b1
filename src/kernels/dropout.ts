// Dropout y = keep ? x * scale : 0 with the keep mask drawn by a counter-based generator,
// Philox-4x32-10 (Salmon et al., SC'11; the generator of curand and PyTorch's CUDA dropout).
// Element i uses word (i & 3) of philox(counter = [i >> 2, 0, 0, 0], key = [seedLo, seedHi]), so the
// mask depends only on (seed, i): the backward recomputes it instead of storing it, and the CPU twin
// (the same Philox in JS) gives bit-identical masks. Keep iff word >= threshold = floor(p * 2^32).
// One invocation handles 4 consecutive elements (one Philox call): vec4 loads when n % 4 == 0,
// else scalar loads with bounds checks. The backward is the same kernel applied to the gradient.
import type { KernelDef, NumArray } from './kernel.ts';
import { type Stream, streamGeom, streamGroups, streamLoop } from './stream.ts';

export interface DropoutParams {
  n: number;
  seedLo: number;
  seedHi: number;
  /** keep iff the 32-bit random word >= threshold (floor(p * 2^32)) */
  threshold: number;
  /** 1 / (1 - p) */
  scale: number;
  /** launch geometry (default: the adapter's, see stream.ts); one unit = 4 elements */
  stream?: Stream;
}

const geo = (p: DropoutParams) => p.stream ?? streamGeom();
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

/** floor(p * 2^32) for p in [0, 1). */
export function dropThreshold(p: number): number {
  return Math.min(Math.floor(p * 4294967296), 0xffffffff);
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
  var c = ctr;
  var k = key;
  for (var r = 0; r < 10; r++) {
    let hi0 = mulhi(${M0}u, c.x);
    let lo0 = ${M0}u * c.x;
    let hi1 = mulhi(${M1}u, c.z);
    let lo1 = ${M1}u * c.z;
    c = vec4<u32>(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    k = k + vec2<u32>(${W0}u, ${W1}u);
  }
  return c;
}`;

export const dropoutKernel: KernelDef<DropoutParams> = {
  name: 'dropout',
  spec: (p) => `${p.n % 4 === 0 ? 'v4' : 's'}:${geo(p).wg}x${geo(p).per}`,
  // x [n] (input, or the output gradient in the backward), y [n]
  bindings: () => ['read', 'rw'],
  uniforms: (p) => [p.n, p.seedLo, p.seedHi, p.threshold, { f: p.scale }],
  dispatch: (p) => streamGroups(Math.ceil(p.n / 4), geo(p)),
  wgsl: (p) => {
    const v4 = p.n % 4 === 0;
    const body = v4
      ? `y[i] = select(vec4<f32>(0.0), x[i] * u.scale, keep);`
      : `for (var e = 0u; e < 4u; e++) {
      let k = i * 4u + e;
      if (k < u.n) { y[k] = select(0.0, x[k] * u.scale, keep[e]); }
    }`;
    const s = geo(p);
    const loop = streamLoop(s, 'units');
    return `
@group(0) @binding(0) var<storage, read> x: array<${v4 ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(1) var<storage, read_write> y: array<${v4 ? 'vec4<f32>' : 'f32'}>;
struct U { n: u32, seedLo: u32, seedHi: u32, threshold: u32, scale: f32 }
@group(0) @binding(2) var<uniform> u: U;
${PHILOX_WGSL}
@compute @workgroup_size(${s.wg})
fn main(${loop.params}) {
  let units = (u.n + 3u) / 4u;
  ${loop.open}
    let r = philox(vec4<u32>(i, 0u, 0u, 0u), vec2<u32>(u.seedLo, u.seedHi));
    let keep = r >= vec4<u32>(u.threshold);
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
    for (let b = 0; b * 4 < p.n; b++) {
      ctr[0] = b;
      philox4x32(ctr, key, r);
      for (let j = 0; j < 4; j++) {
        const i = b * 4 + j;
        if (i < p.n) y[i] = r[j] >= p.threshold ? x[i] * scale : 0;
      }
    }
  },
};
