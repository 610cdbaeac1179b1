// Window sums walked down the plane (avgpool.ts `slide`): the average-pooling forward, and at
// stride 1 its backward, which is then the same window sum over g (window kh x kw, padding
// kh - 1 - ph, kw - 1 - pw; see avgpool.ts backwardWindowGeom).
// A workgroup takes one band of output rows of one plane; a lane takes Q consecutive vec4s of
// outputs (columns ox in [4 Q rx, 4 Q rx + 4 Q)) and walks the band top to bottom:
//   h(iy)[j]  = sum_{b < kw} in[iy, (4 Q rx + j) sw - pw + b]     (j < 4 Q; 0 outside the plane)
//   out[oy]   = sum_{a < kh} h(oy sh - ph + a)
// Each h row comes from the NV aligned vec4s spanning its (4 Q - 1) sw + kw input columns. At
// stride 1 a ring of kh registers (arrays of Q vec4s) keeps the last kh h rows, so every input
// row is loaded once per lane; at larger strides each output row loads its kh rows.
// Needs input and output rows of a multiple of 4 (aligned vec4 loads and stores).
import type { AvgPoolParams } from './avgpool.ts';

/** Array names, plane sizes (WGSL expressions) and where the divisor applies, for this walk and
 * avgpool.ts's multi-output items: 'window' divides each output by divisor(oy, ox) (the forward),
 * 'uniform' by the one divisor of every window, 'load' each loaded element by the divisor of its
 * own window (the backward: an element of g is the output of the window divisor(gy, gx)). */
export interface WindowIo {
  src: string;
  dst: string;
  inH: string;
  inW: string;
  outH: string;
  outW: string;
  scale: 'window' | 'uniform' | 'load';
}

/** Lane settings of the walk: `cols` vec4s of outputs per lane, `band` output rows per workgroup. */
export interface Slide {
  cols: number;
  band: number;
}

/** Why the walk cannot run this pooling geometry (null: it can): the backward (a window sum over
 * g only at stride 1) or the forward. */
export function slideProblem(g: { sh: number; sw: number; w: number; ow: number }, slide: Slide, pass: 'fwd' | 'bwd'): string | null {
  if (pass === 'bwd' && (g.sh !== 1 || g.sw !== 1)) return `stride 1, got ${g.sh}x${g.sw}`;
  if (g.w % 4 !== 0 || g.ow % 4 !== 0) return `input and output rows of a multiple of 4, got ${g.w} and ${g.ow}`;
  if (!(slide.cols >= 1 && slide.band >= 1)) return `cols and band >= 1, got ${slide.cols} and ${slide.band}`;
  return null;
}

/** Workgroups of the walk over `planes` planes of `outH` rows. */
export const slideGroups = (planes: number, outH: number, s: Slide) => planes * Math.ceil(outH / s.band);

/** WGSL: the `hrow` helper and `main` (workgroup size 8) of the walk for geometry `p` (kh, kw,
 * ph, pw of the window sum; its h, w are the input plane's, oh, ow the output's, as uniforms in
 * `io`). The divisor function `divisor(oy, ox)` must be defined alongside for 'window' and 'load'. */
export function slideMain(p: AvgPoolParams, s: Slide, io: WindowIo): string {
  const { src, dst, inH, inW, outH, outW, scale } = io;
  const Q = s.cols;
  const C = (4 * Q - 1) * p.sw + p.kw; // input columns under one lane's outputs
  const off = (((-p.pw) % 4) + 4) % 4; // column 0's place in its vec4 (the same for every lane)
  const NV = Math.ceil((off + C) / 4);
  const comp = ['x', 'y', 'z', 'w'];
  const rng = (n: number) => [...Array(n).keys()];
  const col = (k: number) => `v${Math.floor((off + k) / 4)}.${comp[(off + k) % 4]}`;
  const arr = `array<vec4<f32>, ${Q}>`;
  const loads = rng(NV)
    .map((v) => {
      const vi = `vb + ${v}`;
      const val = `select(vec4<f32>(0.0), ${src}[row4 + u32(clamp(${vi}, 0, w4 - 1))], ${vi} >= 0 && ${vi} < w4)`;
      if (scale !== 'load') return `  let v${v} = ${val};`;
      const ds = rng(4).map((c) => `divisor(u32(iy), u32(clamp(4 * (${vi}) + ${c}, 0, i32(${inW}) - 1)))`);
      return `  let v${v} = ${val} / vec4<f32>(${ds.join(', ')});`;
    })
    .join('\n');
  const hsum = (j: number) => rng(p.kw).map((b) => col(j * p.sw + b)).join(' + ');
  const hrow = `
// horizontal window sums of input row iy for outputs [4 Q rx, 4 Q rx + 4 Q) (zeros off the plane)
fn hrow(plane: u32, iy: i32, vb: i32) -> ${arr} {
  var h: ${arr};
  if (iy < 0 || iy >= i32(${inH})) { return h; }
  let w4 = i32(${inW} / 4u);
  let row4 = (plane * ${inH} + u32(iy)) * u32(w4);
${loads}
${rng(Q).map((q) => `  h[${q}] = vec4<f32>(${rng(4).map((c) => hsum(4 * q + c)).join(', ')});`).join('\n')}
  return h;
}`;
  const ring = rng(p.kh).map((a) => `r${a}`);
  const last = ring[p.kh - 1];
  const total = (q: number) => ring.map((r) => `${r}[${q}]`).join(' + ');
  const out = (q: number) => {
    if (scale === 'uniform') return `(${total(q)}) / divisor(0u, 0u)`;
    if (scale === 'load') return total(q);
    const ds = rng(4).map((c) => `divisor(oy, ox0 + ${4 * q + c}u)`);
    return `(${total(q)}) / vec4<f32>(${ds.join(', ')})`;
  };
  const stores = rng(Q)
    .map((q) => {
      const st = `${dst}[orow + rx * ${Q}u + ${q}u] = ${out(q)};`;
      return q === 0 ? `      ${st}` : `      if (rx * ${Q}u + ${q}u < o4) { ${st} }`;
    })
    .join('\n');
  const store = `      let orow = (plane * ${outH} + oy) * o4;
${stores}`;
  // stride 1: rows oy - ph + a; the first kh - 1 preloaded, then one new row per output row
  const ringWalk = () => `    let iy0 = i32(oy0) - ${p.ph};
${ring
  .slice(0, -1)
  .map((r, a) => `    var ${r} = hrow(plane, iy0 + ${a}, vb);`)
  .join('\n')}
    for (var oy = oy0; oy < oy1; oy++) {
      let ${last} = hrow(plane, i32(oy) + ${p.kh - 1 - p.ph}, vb);
${store}
${ring
  .slice(0, -1)
  .map((r, a) => `      ${r} = ${ring[a + 1]};`)
  .join('\n')}
    }`;
  const freshWalk = () => `    for (var oy = oy0; oy < oy1; oy++) {
      let iy0 = i32(oy * ${p.sh}u) - ${p.ph};
${ring.map((r, a) => `      let ${r} = hrow(plane, iy0 + ${a}, vb);`).join('\n')}
${store}
    }`;
  return `${hrow}
@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lidx: u32) {
  let bands = (${outH} + ${s.band - 1}u) / ${s.band}u;
  let grp = wid.y * nwg.x + wid.x;
  let plane = grp / bands;
  if (plane >= u.n) { return; }
  let oy0 = (grp % bands) * ${s.band}u;
  let oy1 = min(oy0 + ${s.band}u, ${outH});
  let o4 = ${outW} / 4u;
  let items = (o4 + ${Q - 1}u) / ${Q}u;
  for (var rx = lidx; rx < items; rx += 8u) {
    let vb = i32(rx * ${Q * p.sw}u) - ${(p.pw + off) / 4};
    let ox0 = rx * ${4 * Q}u;
${p.sh === 1 ? ringWalk() : freshWalk()}
  }
}`;
}
