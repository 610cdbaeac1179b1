// Copies between rectangular regions of contiguous buffers, on raw 32-bit words so they serve every
// dtype. They materialise cat / stack / narrow / slice / pad and their gradients.
//   regionCopyKernel: dst[dOff + sum_d c_d * dSt_d] = src[sOff + sum_d c_d * sSt_d] for every
//     coordinate c of `shape`. Writes only the region (cat writes each input into its slot of the
//     output this way). Dims that are contiguous in both buffers merge before launch, so cat along
//     dim 1 of [B, C, H, W] maps are a 2-D copy [B, C*H*W]; when the merged innermost run is a
//     multiple of 4 on both sides (and so are all other strides and both offsets), it moves vec4s.
//   padKernel: y (contiguous, `outShape`) = x at (c - lo) / step where that is a whole in-range
//     coordinate of x, else `value`: constant padding (lo > 0), cropping (lo < 0), and the
//     scatter-into-zeros that is narrow's and slice's gradient (lo = start, step). Every output
//     element is written once.
// Both walk their index space in the streaming geometry of stream.ts (vec4 or word units). The
// region copy has two layouts (chosen by src/policy/region_copy_choice.ts):
//   'flat': units strided over the whole region; each unit's coordinates come from per-lane
//           divisions by the merged dims;
//   'rows': each workgroup copies one chunk of wg * per units of one innermost row; the row's
//           offsets come from workgroup-uniform divisions, and lanes only add their column.
import type { Caps, NumArray } from './kernel.ts';
import { defineKernel, read, rw, u32, u32x4s } from './shader.ts';
import { type Stream, streamGeom, streamGroups, streamLoop } from './stream.ts';
import { LINEAR_PARAMS } from './wgsl_lib.ts';

const MAX_RANK = 6;
const numelOf = (s: readonly number[]) => s.reduce((x, y) => x * y, 1);

export type RegionCopyLayout = 'flat' | 'rows';

/**
 * Params of {@link regionCopyKernel}: the region's shape (rank <= 6), its element strides and offsets
 * in the source and the destination, and the launch layout.
 */
export interface RegionCopyParams {
  /** Region shape (rank <= 6; dims of 1 allowed). */
  shape: readonly number[];
  /** Element strides of the region in the source and in the destination, one per dim. */
  srcStrides: readonly number[];
  dstStrides: readonly number[];
  srcOffset: number;
  dstOffset: number;
  layout: RegionCopyLayout;
  /** launch geometry (default: the adapter's, see stream.ts) */
  stream?: Stream;
}

interface CopyPlan {
  shape: number[];
  src: number[];
  dst: number[];
  srcOffset: number;
  dstOffset: number;
  vec4: boolean;
}

/** Drop dims of 1, merge dims contiguous in both buffers, then go to vec4 units when aligned. */
export function planRegionCopy(p: Omit<RegionCopyParams, 'layout'>): CopyPlan {
  const shape: number[] = [];
  const src: number[] = [];
  const dst: number[] = [];
  p.shape.forEach((n, d) => {
    if (n === 1) return;
    const k = shape.length - 1;
    if (k >= 0 && src[k] === p.srcStrides[d] * n && dst[k] === p.dstStrides[d] * n) {
      shape[k] *= n;
      src[k] = p.srcStrides[d];
      dst[k] = p.dstStrides[d];
    } else {
      shape.push(n);
      src.push(p.srcStrides[d]);
      dst.push(p.dstStrides[d]);
    }
  });
  const r = shape.length;
  const vec4 =
    r > 0 &&
    src[r - 1] === 1 &&
    dst[r - 1] === 1 &&
    shape[r - 1] % 4 === 0 &&
    p.srcOffset % 4 === 0 &&
    p.dstOffset % 4 === 0 &&
    src.every((s, i) => i === r - 1 || s % 4 === 0) &&
    dst.every((s, i) => i === r - 1 || s % 4 === 0);
  if (!vec4) return { shape, src, dst, srcOffset: p.srcOffset, dstOffset: p.dstOffset, vec4 };
  return {
    shape: shape.map((n, i) => (i === r - 1 ? n / 4 : n)),
    src: src.map((s, i) => (i === r - 1 ? 1 : s / 4)),
    dst: dst.map((s, i) => (i === r - 1 ? 1 : s / 4)),
    srcOffset: p.srcOffset / 4,
    dstOffset: p.dstOffset / 4,
    vec4,
  };
}

/** v right-aligned into `MAX_RANK` slots (leading slots `fill`), padded to 8 words (two vec4s). */
function slots(v: readonly number[], fill: number): number[] {
  const r = new Array<number>(8).fill(0);
  const off = MAX_RANK - v.length;
  for (let i = 0; i < MAX_RANK; i++) r[i] = i < off ? fill : v[i - off];
  return r;
}

/** WGSL that turns index `idx` into `s` and `d` (source and destination unit offsets) over the
 * dims `first` .. MAX_RANK - 1 - skip (slots of the right-aligned shape), innermost first: one
 * division per dim except the outermost. */
function decompose(r: number, idx: string, skip = 0): string {
  const lines = [`var rem = ${idx};`, 'var s = u.soff;', 'var d = u.doff;'];
  for (let k = MAX_RANK - 1 - skip; k >= MAX_RANK - r; k--) {
    const at = `[${k >> 2}][${k & 3}]`;
    if (k === MAX_RANK - r) lines.push(`s += rem * u.ss${at};`, `d += rem * u.ds${at};`);
    else lines.push(`{ let n = u.shape${at}; let c = rem % n; rem = rem / n; s += c * u.ss${at}; d += c * u.ds${at}; }`);
  }
  return lines.join('\n    ');
}

const copyGeo = (p: RegionCopyParams, caps: Caps) => p.stream ?? streamGeom(caps);
/** Rows layout: units per workgroup chunk, chunks per innermost row, rows. */
function rowsGeom(p: RegionCopyParams, caps: Caps) {
  const q = planRegionCopy(p);
  const s = copyGeo(p, caps);
  const inner = q.shape.length ? q.shape[q.shape.length - 1] : 1;
  const chunk = s.wg * s.per;
  const perRow = Math.max(1, Math.ceil(inner / chunk));
  return { chunk, perRow, rows: numelOf(q.shape) / Math.max(inner, 1), inner };
}

/**
 * Copies a strided rectangular region between two buffers of 32-bit words (any dtype):
 * dst[dstOffset + sum c_d * dstStrides_d] = src[srcOffset + sum c_d * srcStrides_d] for every
 * coordinate c of `shape`; the rest of dst is untouched. Bindings: `src`, `dst` (rw).
 */
export const regionCopyKernel = defineKernel<RegionCopyParams>({
  name: 'region_copy',
  spec: (p, caps) => {
    const q = planRegionCopy(p);
    const s = copyGeo(p, caps);
    return `${p.layout}:r${q.shape.length}${q.vec4 ? ':v4' : ''}:${s.wg}x${s.per}`;
  },
  // src, dst (dst is written only inside the region)
  storage: (p) => {
    const T = planRegionCopy(p).vec4 ? 'vec4<u32>' : 'u32';
    return [read('src', T), rw('dst', T)];
  },
  uniforms: (p, caps) => {
    const q = planRegionCopy(p);
    return [
      u32('n', numelOf(q.shape)),
      u32('soff', q.srcOffset),
      u32('doff', q.dstOffset),
      u32x4s('shape', slots(q.shape, 1)),
      u32x4s('ss', slots(q.src, 0)),
      u32x4s('ds', slots(q.dst, 0)),
      u32('perRow', p.layout === 'rows' ? rowsGeom(p, caps).perRow : 1),
    ];
  },
  dispatch: (p, caps) => {
    if (p.layout === 'flat') return streamGroups(numelOf(planRegionCopy(p).shape), copyGeo(p, caps));
    const g = rowsGeom(p, caps);
    return g.rows * g.perRow;
  },
  body: (p, caps) => {
    const s = copyGeo(p, caps);
    const r = planRegionCopy(p).shape.length;
    if (p.layout === 'flat') {
      const loop = streamLoop(s, 'u.n');
      return `
@compute @workgroup_size(${s.wg})
fn main(${loop.params}) {
  ${loop.open}
    ${decompose(r, 'i')}
    dst[d] = src[s];
  }
}`;
    }
    // the innermost dim (slot 5) is the row; the outer dims give the row's offsets
    const chunk = s.wg * s.per;
    const inner = r ? 'u.shape[1][1]' : '1u';
    return `
@compute @workgroup_size(${s.wg})
fn main(${LINEAR_PARAMS}) {
  let g = wid.y * nwg.x + wid.x;  // workgroup-uniform from here to the column loop
  let row = g / u.perRow;
  ${decompose(r, 'row', 1)}
  let n = ${inner};
  let k0 = (g % u.perRow) * ${chunk}u + lidx;
  for (var j = 0u; j < ${s.per}u; j++) {
    let k = k0 + j * ${s.wg}u;
    if (k >= n) { break; }
    dst[d + k * u.ds[1][1]] = src[s + k * u.ss[1][1]];
  }
}`;
  },
  cpu: (p, [src, dst]: NumArray[]) => {
    const n = numelOf(p.shape);
    const r = p.shape.length;
    const coord = new Array<number>(r).fill(0);
    let s = p.srcOffset;
    let d = p.dstOffset;
    for (let i = 0; i < n; i++) {
      dst[d] = src[s];
      for (let k = r - 1; k >= 0; k--) {
        coord[k]++;
        s += p.srcStrides[k];
        d += p.dstStrides[k];
        if (coord[k] < p.shape[k]) break;
        s -= p.srcStrides[k] * p.shape[k];
        d -= p.dstStrides[k] * p.shape[k];
        coord[k] = 0;
      }
    }
  },
});

/**
 * Params of {@link padKernel}: output and input shapes (rank <= 6), per-dimension `lo` and `step`
 * (output coordinate c reads input (c - lo) / step when that is a whole in-range coordinate), and
 * the fill value.
 */
export interface PadParams {
  /** Shape of the output y (contiguous) and of the source x (contiguous), same rank <= 6. */
  outShape: readonly number[];
  inShape: readonly number[];
  /** Per dim: y coordinate c reads x at (c - lo) / step (integers; lo may be negative). */
  lo: readonly number[];
  step: readonly number[];
  /** The fill value's 32-bit pattern (f32 or i32 bits, see `valueBits`). */
  valueBits: number;
  /** The fill value itself, for the CPU twin (float64 runs keep full precision). */
  value: number;
  stream?: Stream;
}

/** The u32 bit pattern of `v` stored as f32 (int32 tensors: as i32). */
export function valueBits(v: number, int: boolean): number {
  const dv = new DataView(new ArrayBuffer(4));
  if (int) dv.setInt32(0, v, true);
  else dv.setFloat32(0, v, true);
  return dv.getUint32(0, true);
}

interface PadPlan {
  out: number[];
  inp: number[];
  lo: number[];
  step: number[];
}

/** Merge neighbouring dims that are untouched (lo 0, step 1, same extent) into one. */
export function planPad(p: PadParams): PadPlan {
  const q: PadPlan = { out: [], inp: [], lo: [], step: [] };
  p.outShape.forEach((n, d) => {
    const plain = p.lo[d] === 0 && p.step[d] === 1 && p.inShape[d] === n;
    const k = q.out.length - 1;
    const prevPlain = k >= 0 && q.lo[k] === 0 && q.step[k] === 1 && q.inp[k] === q.out[k];
    if (plain && prevPlain) {
      q.out[k] *= n;
      q.inp[k] *= n;
    } else {
      q.out.push(n);
      q.inp.push(p.inShape[d]);
      q.lo.push(p.lo[d]);
      q.step.push(p.step[d]);
    }
  });
  return q;
}

const padGeo = (p: PadParams, caps: Caps) => p.stream ?? streamGeom(caps);

/**
 * Writes every element of y once: x at (c - lo) / step where that is a whole in-range coordinate,
 * else the fill value (constant padding, cropping, or the scatter-into-zeros of narrow's and slice's
 * gradient). Bindings: `x` (inShape), `y` (rw, outShape), as 32-bit words.
 */
export const padKernel = defineKernel<PadParams>({
  name: 'pad',
  spec: (p, caps) => `r${planPad(p).out.length}:${padGeo(p, caps).wg}x${padGeo(p, caps).per}`,
  // x, y
  storage: () => [read('x', 'u32'), rw('y', 'u32')],
  uniforms: (p) => {
    const q = planPad(p);
    const r = q.out.length;
    const strides = new Array<number>(r);
    for (let k = r - 1, acc = 1; k >= 0; k--) {
      strides[k] = acc;
      acc *= q.inp[k];
    }
    // signed fields carry i32 bit patterns in u32 slots (lo may be negative)
    const bits = (v: number) => v >>> 0;
    return [
      u32('n', numelOf(q.out)),
      u32('value', p.valueBits),
      u32x4s('outShape', slots(q.out, 1)),
      u32x4s('inShape', slots(q.inp, 1)),
      u32x4s('inStride', slots(strides, 0)),
      u32x4s('lo', slots(q.lo.map(bits), 0)),
      u32x4s('step', slots(q.step, 1)),
    ];
  },
  dispatch: (p, caps) => streamGroups(numelOf(p.outShape), padGeo(p, caps)),
  body: (p, caps) => {
    const r = planPad(p).out.length;
    const dims: string[] = [];
    for (let k = MAX_RANK - 1; k >= MAX_RANK - r; k--) {
      const at = `[${k >> 2}][${k & 3}]`;
      dims.push(`{
      let n = u.outShape${at};
      let c = i32(rem % n);
      rem = rem / n;
      let t = c - bitcast<i32>(u.lo${at});
      let st = i32(u.step${at});
      let q = t / st;
      inside = inside && t >= 0 && q * st == t && q < i32(u.inShape${at});
      src += u32(max(q, 0)) * u.inStride${at};
    }`);
    }
    const loop = streamLoop(padGeo(p, caps), 'u.n');
    return `
@compute @workgroup_size(${padGeo(p, caps).wg})
fn main(${loop.params}) {
  ${loop.open}
    var rem = i;
    var src = 0u;
    var inside = true;
    ${dims.join('\n    ')}
    y[i] = select(u.value, x[min(src, arrayLength(&x) - 1u)], inside);
  }
}`;
  },
  cpu: (p, [x, y]: NumArray[]) => {
    const r = p.outShape.length;
    const n = numelOf(p.outShape);
    const inStride = new Array<number>(r);
    for (let k = r - 1, acc = 1; k >= 0; k--) {
      inStride[k] = acc;
      acc *= p.inShape[k];
    }
    for (let i = 0; i < n; i++) {
      let rem = i;
      let src = 0;
      let inside = true;
      for (let k = r - 1; k >= 0; k--) {
        const c = rem % p.outShape[k];
        rem = Math.floor(rem / p.outShape[k]);
        const t = c - p.lo[k];
        const q = Math.floor(t / p.step[k]);
        inside = inside && t >= 0 && q * p.step[k] === t && q < p.inShape[k];
        src += Math.max(q, 0) * inStride[k];
      }
      y[i] = inside ? x[src] : p.value;
    }
  },
});
