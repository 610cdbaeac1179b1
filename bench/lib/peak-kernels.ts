// Kernels that measure an adapter's ceilings (bench only): FP32 FMA throughput and streaming copy
// bandwidth. Built with the public custom-kernel API (wt.kernels.defineKernel), with trivial CPU
// twins for a correctness check.
import * as wt from 'webgpu-tensor';

const { defineKernel, read, rw, u32, f32, LINEAR_PARAMS, linearGid } = wt.kernels;
type NumArray = wt.kernels.NumArray;

export interface FmaParams {
  /** Invocations (each writes one vec4). */
  n: number;
  /** Loop trips (a uniform, so the compiler cannot fold the loop). */
  iters: number;
  /** Independent vec4 accumulators per invocation. */
  accs: number;
  /** fma statements per accumulator in one loop trip. */
  unroll: number;
  /** Workgroup size. */
  wg: number;
  /** a = fma(a, m, c): with 0 < m < 1 the values converge to c / (1 - m) (no overflow, no denormals). */
  m: number;
  c: number;
}

/** FLOPs one dispatch does (an fma = 2 FLOPs, 4 lanes per vec4). */
export const fmaFlops = (p: FmaParams) => p.n * p.iters * p.accs * p.unroll * 4 * 2;

/** Starting value of lane `l` of accumulator `j` of invocation `g`. */
const start = (g: number, j: number, l: number) => Math.fround(Math.fround((g % 97) + j * 4 + l) * Math.fround(0.01));

export const fmaPeakKernel = defineKernel<FmaParams>({
  name: 'bench-fma-peak',
  spec: (p) => `${p.accs}x${p.unroll}:wg${p.wg}`,
  storage: () => [rw('out', 'vec4<f32>')],
  uniforms: (p) => [u32('n', p.n), u32('iters', p.iters), f32('m', p.m), f32('c', p.c)],
  dispatch: (p) => Math.ceil(p.n / p.wg),
  body: (p) => {
    const decl: string[] = [];
    const body: string[] = [];
    for (let j = 0; j < p.accs; j++)
      decl.push(`  var a${j} = (vec4<f32>(f32(gid % 97u)) + vec4<f32>(${j * 4}.0, ${j * 4 + 1}.0, ${j * 4 + 2}.0, ${j * 4 + 3}.0)) * 0.01;`);
    for (let k = 0; k < p.unroll; k++) for (let j = 0; j < p.accs; j++) body.push(`    a${j} = fma(a${j}, m, c);`);
    const sum = Array.from({ length: p.accs }, (_, j) => `a${j}`).join(' + ');
    return `
@compute @workgroup_size(${p.wg})
fn main(${LINEAR_PARAMS}) {
  ${linearGid(p.wg)}
  if (gid >= u.n) { return; }
  let m = vec4<f32>(u.m);
  let c = vec4<f32>(u.c);
${decl.join('\n')}
  for (var i = 0u; i < u.iters; i++) {
${body.join('\n')}
  }
  out[gid] = ${sum};
}`;
  },
  cpu: (p, [out]: NumArray[]) => {
    const f = Math.fround;
    const m = f(p.m);
    const c = f(p.c);
    const trips = p.iters * p.unroll;
    for (let g = 0; g < p.n; g++)
      for (let l = 0; l < 4; l++) {
        let s = 0;
        for (let j = 0; j < p.accs; j++) {
          let a = start(g, j, l);
          for (let t = 0; t < trips; t++) a = f(a * m + c);
          s = f(s + a);
        }
        out[g * 4 + l] = s;
      }
  },
});

export interface CopyParams {
  /** vec4 elements to copy. */
  n4: number;
  wg: number;
  /** 0: one vec4 per invocation; otherwise launch this many workgroups, each invocation looping
   * with a grid stride (few, long-lived invocations suit a CPU rasteriser). */
  groups: number;
}

export const copyKernel = defineKernel<CopyParams>({
  name: 'bench-copy',
  spec: (p) => `wg${p.wg}:${p.groups ? 'stride' : 'one'}`,
  storage: () => [read('src', 'vec4<f32>'), rw('dst', 'vec4<f32>')],
  uniforms: (p) => [u32('n', p.n4), u32('stride', (p.groups || 1) * p.wg)],
  dispatch: (p) => p.groups || Math.ceil(p.n4 / p.wg),
  body: (p) => `
@compute @workgroup_size(${p.wg})
fn main(${LINEAR_PARAMS}) {
  ${linearGid(p.wg)}
  ${p.groups ? 'for (var i = gid; i < u.n; i += u.stride) { dst[i] = src[i]; }' : 'if (gid < u.n) { dst[gid] = src[gid]; }'}
}`,
  cpu: (p, [src, dst]: NumArray[]) => {
    dst.set(src.subarray(0, p.n4 * 4));
  },
});
