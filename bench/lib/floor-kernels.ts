// Floors for the softmax entries (bench only): the passes any two-pass softmax over rows too long
// to keep on chip must make, each alone and with only its unavoidable arithmetic, walking a row the
// way softmax.ts's group layout does (one workgroup of `wg` lanes per contiguous row, vec4 loads, 4
// per lane per step). Forward: 'max' (read x, one value per row) then 'exp' (read x, write exp(x):
// the one exp per element). Backward: 'dot' (read y and g, one value per row) then 'scale'
// (gx = y * (g - d[row])). A fused kernel that makes the same passes cannot beat their sum, so the
// floor entries bound what the softmax entries can reach on an adapter.
// Rows: x / y / g / gx [rows, r] with r % 4 == 0; per-row results m / d: [rows].
import * as wt from 'webgpu-tensor';

const { defineKernel, read, rw, u32 } = wt.kernels;
type NumArray = wt.kernels.NumArray;

export interface RowPassParams {
  op: 'max' | 'exp' | 'dot' | 'scale';
  rows: number;
  /** row length, a multiple of 4 */
  r: number;
  /** lanes per workgroup (softmax's group width on this adapter), a power of two */
  wg: number;
}

/** WGSL: lane `lidx`'s vec4 units of the row, 4 per step, then the tail one at a time;
 * `step(i)` is the statement for unit index expression i. */
function walk(wg: number, step: (i: string) => string): string {
  const at = (j: number) => (j ? `base + k + ${j * wg}u` : 'base + k');
  return `var k = lidx;
  for (; k + ${3 * wg}u < n; k += ${4 * wg}u) {
    ${[0, 1, 2, 3].map((j) => step(at(j))).join('\n    ')}
  }
  for (; k < n; k += ${wg}u) { ${step('base + k')} }`;
}

/** WGSL: the workgroup's reduction of the lanes' `acc` with `op` into `sh[0]`. */
const reduce = (wg: number, op: (a: string, b: string) => string) => `sh[lidx] = acc;
  for (var w = ${wg / 2}u; w > 0u; w >>= 1u) {
    workgroupBarrier();
    if (lidx < w) { sh[lidx] = ${op('sh[lidx]', 'sh[lidx + w]')}; }
  }`;

function body(p: RowPassParams): string {
  const head = `@compute @workgroup_size(${p.wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lidx: u32) {
  let n = u.r / 4u;
  let base = wid.x * n;`;
  const wg = p.wg;
  switch (p.op) {
    case 'max':
      return `var<workgroup> sh: array<f32, ${wg}>;
${head}
  var mv = vec4<f32>(-3.4028234663852886e38);
  ${walk(wg, (i) => `mv = max(mv, x[${i}]);`)}
  let acc = max(max(mv.x, mv.y), max(mv.z, mv.w));
  ${reduce(wg, (a, b) => `max(${a}, ${b})`)}
  if (lidx == 0u) { m[wid.x] = sh[0]; }
}`;
    case 'exp':
      return `${head}
  ${walk(wg, (i) => `y[${i}] = exp(x[${i}]);`)}
}`;
    case 'dot':
      return `var<workgroup> sh: array<f32, ${wg}>;
${head}
  var dv = vec4<f32>(0.0);
  ${walk(wg, (i) => `dv += y[${i}] * g[${i}];`)}
  let acc = (dv.x + dv.y) + (dv.z + dv.w);
  ${reduce(wg, (a, b) => `${a} + ${b}`)}
  if (lidx == 0u) { d[wid.x] = sh[0]; }
}`;
    case 'scale':
      return `${head}
  let dr = vec4<f32>(d[wid.x]);
  ${walk(wg, (i) => `gx[${i}] = y[${i}] * (g[${i}] - dr);`)}
}`;
  }
}

/** One pass of the softmax floor. Bindings: max x, m (rw); exp x, y (rw); dot y, g, d (rw);
 * scale y, g, d, gx (rw). */
export const rowPassKernel = defineKernel<RowPassParams>({
  name: 'bench-row-pass',
  spec: (p) => `${p.op}:wg${p.wg}`,
  storage: (p) => {
    const V = 'vec4<f32>';
    if (p.op === 'max') return [read('x', V), rw('m', 'f32')];
    if (p.op === 'exp') return [read('x', V), rw('y', V)];
    if (p.op === 'dot') return [read('y', V), read('g', V), rw('d', 'f32')];
    return [read('y', V), read('g', V), read('d', 'f32'), rw('gx', V)];
  },
  uniforms: (p) => [u32('rows', p.rows), u32('r', p.r)],
  dispatch: (p) => {
    if (p.r % 4 !== 0) throw new Error(`bench-row-pass: expected a row length that is a multiple of 4, got ${p.r}`);
    return p.rows;
  },
  body,
  cpu: (p, bufs: NumArray[]) => {
    const { rows, r } = p;
    for (let row = 0; row < rows; row++) {
      const o = row * r;
      if (p.op === 'max') {
        let m = -Infinity;
        for (let k = 0; k < r; k++) m = Math.max(m, bufs[0][o + k]);
        bufs[1][row] = m;
      } else if (p.op === 'exp') {
        for (let k = 0; k < r; k++) bufs[1][o + k] = Math.exp(bufs[0][o + k]);
      } else if (p.op === 'dot') {
        let d = 0;
        for (let k = 0; k < r; k++) d += bufs[0][o + k] * bufs[1][o + k];
        bufs[2][row] = d;
      } else {
        for (let k = 0; k < r; k++) bufs[3][o + k] = bufs[0][o + k] * (bufs[1][o + k] - bufs[2][row]);
      }
    }
  },
});
