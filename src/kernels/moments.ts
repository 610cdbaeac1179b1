// Mean / variance and paired sums for the normalisation kernels (batch, layer and group norm),
// accurate in f32 over hundreds of thousands of elements:
//   - a lane sums a segment of at most LANE_SEGMENT units (vec4 or scalar) shifted by its running
//     mean, so the segment's sum of squares loses little to cancellation;
//   - the segment's (count, mean, M2) merges into the lane's by Chan et al.'s pairwise formula, and
//     the lanes' triples merge the same way in a workgroup tree (no long f32 running sums);
//   - gradient sums use the same two levels (f32 segment sums added into the lane's totals).
// A triple is vec3<f32>(count, mean, M2) with M2 = sum (x - mean)^2; a count of 0 is empty.
// The CPU twins use `chanMerge` on exact float64 triples.

/** Units a lane sums in f32 per segment before merging the segment into its running triple. */
export const LANE_SEGMENT = 64;

export const CHAN_MERGE_WGSL = `
fn chanMerge(a: vec3<f32>, b: vec3<f32>) -> vec3<f32> {
  if (b.x == 0.0) { return a; }
  if (a.x == 0.0) { return b; }
  let n = a.x + b.x;
  let f = b.x / n;
  let d = b.y - a.y;
  return vec3<f32>(n, a.y + d * f, a.z + b.z + d * d * a.x * f);
}`;

/** The sum of a unit's components: WGSL for `T` = 'f32' or 'vec4<f32>'. */
export const hsum = (T: string, v: string) => (T === 'f32' ? v : `dot(${v}, vec4<f32>(1.0))`);

/** `fn wgMoments(lid, v) -> vec3<f32>`: the merged triple of every lane of a `wg`-lane workgroup
 * (a power of two). Call from uniform control flow; every lane gets the result. */
export function wgMomentsWgsl(wg: number): string {
  return `
var<workgroup> redM: array<vec3<f32>, ${wg}>;
fn wgMoments(lid: u32, v: vec3<f32>) -> vec3<f32> {
  redM[lid] = v;
  for (var w = ${wg / 2}u; w > 0u; w >>= 1u) {
    workgroupBarrier();
    if (lid < w) { redM[lid] = chanMerge(redM[lid], redM[lid + w]); }
  }
  workgroupBarrier();
  return redM[0];
}`;
}

/** `fn wgSum2(lid, v) -> vec2<f32>`: the sum over a `wg`-lane workgroup, as wgMoments. */
export function wgSum2Wgsl(wg: number): string {
  return `
var<workgroup> redS: array<vec2<f32>, ${wg}>;
fn wgSum2(lid: u32, v: vec2<f32>) -> vec2<f32> {
  redS[lid] = v;
  for (var w = ${wg / 2}u; w > 0u; w >>= 1u) {
    workgroupBarrier();
    if (lid < w) { redS[lid] = redS[lid] + redS[lid + w]; }
  }
  workgroupBarrier();
  return redS[0];
}`;
}

/** How a lane walks its units: a loop over segments (each at most LANE_SEGMENT units of the lane),
 * each an inner loop over units. The inner loops have plain bounds and no `break` (lavapipe runs
 * such loops ~1.7x faster than a bounded block loop that breaks out at the end of the data). */
export interface LaneWalk {
  /** unit type: 'f32' or 'vec4<f32>' */
  T: string;
  /** elements per unit */
  vw: number;
  /** statements before the segment loop (cursors that persist across segments) */
  pre: string;
  /** the segment loop's header, e.g. `for (var q = a; q < b; q++)` */
  outer: string;
  /** statements opening each segment (its bounds) */
  segment: string;
  /** the inner loop's header over the segment's units */
  inner: string;
  /** statements closing each unit's iteration (cursor updates the header does not make) */
  step: string;
}

/** WGSL statements leaving the lane's triple in `acc` (vec3<f32>) for the units `load` yields; `shift0`
 * (a scalar close to the data, e.g. its first element) shifts the first segment, the running mean
 * the later ones. */
export function laneMomentsWgsl(w: LaneWalk, load: string, shift0: string): string {
  return `
  var acc = vec3<f32>(0.0);
  ${w.pre}
  ${w.outer} {
    ${w.segment}
    let shv = select(${shift0}, acc.y, acc.x > 0.0);
    var s1 = ${w.T}(0.0);
    var s2 = ${w.T}(0.0);
    var cnt = 0u;
    ${w.inner} {
      let v = ${load} - shv;
      s1 += v;
      s2 += v * v;
      cnt++;
      ${w.step}
    }
    if (cnt > 0u) {
      let nb = f32(cnt * ${w.vw}u);
      let sb = ${hsum(w.T, 's1')};
      let mb = sb / nb;
      acc = chanMerge(acc, vec3<f32>(nb, shv + mb, max(${hsum(w.T, 's2')} - sb * mb, 0.0)));
    }
  }`;
}

/** WGSL statements leaving the lane's two sums in `acc` (vec2<f32>): `terms` is a statement
 * block defining `t1` and `t2` (type `T`) for the unit at the cursor. */
export function laneSums2Wgsl(w: LaneWalk, terms: string): string {
  return `
  var acc = vec2<f32>(0.0);
  ${w.pre}
  ${w.outer} {
    ${w.segment}
    var a1 = ${w.T}(0.0);
    var a2 = ${w.T}(0.0);
    ${w.inner} {
      ${terms}
      a1 += t1;
      a2 += t2;
      ${w.step}
    }
    acc += vec2<f32>(${hsum(w.T, 'a1')}, ${hsum(w.T, 'a2')});
  }`;
}

/** A (count, mean, M2) triple in float64 (the CPU twins). */
export type Moments = [number, number, number];

export function chanMerge(a: Moments, b: Moments): Moments {
  if (b[0] === 0) return a;
  if (a[0] === 0) return b;
  const n = a[0] + b[0];
  const f = b[0] / n;
  const d = b[1] - a[1];
  return [n, a[1] + d * f, a[2] + b[2] + d * d * a[0] * f];
}

/** Exact two-pass moments of the values `at(i)`, i in [0, count). */
export function momentsOf(count: number, at: (i: number) => number): Moments {
  if (count === 0) return [0, 0, 0];
  let s = 0;
  for (let i = 0; i < count; i++) s += at(i);
  const mean = s / count;
  let m2 = 0;
  for (let i = 0; i < count; i++) m2 += (at(i) - mean) ** 2;
  return [count, mean, m2];
}
