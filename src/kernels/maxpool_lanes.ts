// Max pooling forward for software adapters (lavapipe): one 8-lane subgroup slides along input rows
// with aligned vec4 loads. Why: lavapipe turns every load whose address differs per lane into
// per-lane scalar code with a bounds check (~15 instructions per lane and element; ~8 per element
// of a vec4), so the per-output 3x3 window of scalar loads cost ~9 loads per output. Here each
// lane loads ONE vec4 of each input row and takes the next 4-8 columns from its neighbours with
// subgroupShuffleDown (one register instruction); consecutive output rows reuse the kh - sh input
// rows they share. Loads per output drop from kh*kw scalars to ~(sh / (4/sw)) vec4s.
//
// Layout: x [N, H, W] read as array<vec4<f32>> (the binding is rounded up to 16 bytes, see
// webgpu.ts); y, idx [N, OH, OW]. Lane m of chunk c (m = 8c + lane) owns outputs ox in
// [P m, P m + P), P = 4 / sw, whose windows start at columns sw*ox - pw in [4m - pw, 4m - pw + 4).
// For each window row it builds s[k] = x[row, 4m - pw + k], k < S = 4 - sw + kw, from the vec4 at
// flat offset floor((rowStart - pw) / 4) + m and the next one or two (shifted by the row's
// misalignment r = (rowStart - pw) mod 4, which is uniform along a row).
// Supported: sw in {1, 2, 4}, kw <= 5 + sw (so S + 3 <= 12), subgroups of exactly 8 = the
// workgroup. Same results as maxPoolKernel (ties: first maximum; NaN wins; padding never wins).
import type { KernelDef } from './kernel.ts';
import { type MaxPoolParams, type PoolGeom, maxPoolKernel, maxPoolBackwardKernel, IS_NAN_WGSL } from './maxpool.ts';

/** Lanes per subgroup (= workgroup) this kernel is written for. */
export const POOL_LANES = 8;
/** Output rows per workgroup: consecutive rows of a plane share input rows. */
const ROWS = 16;
/** Chunks of 8 lanes along a row, unrolled: at most this many (OW <= 32 * MAX_CHUNKS / sw). */
const MAX_CHUNKS = 4;

const perLane = (p: { sw: number }) => 4 / p.sw;
const chunksOf = (p: { ow: number; sw: number }) => Math.ceil(p.ow / (POOL_LANES * perLane(p)));

/** Can the lanes forward run this geometry? (the adapter check is the caller's) */
export function poolLanesFits(p: { kw: number; sw: number; ow: number }): boolean {
  return (p.sw === 1 || p.sw === 2 || p.sw === 4) && p.kw <= 5 + p.sw && chunksOf(p) <= MAX_CHUNKS;
}

/** vec4s per lane and input row before the shift by the row's misalignment: own + neighbours'. */
const vecsPerRow = (p: { kw: number; sw: number }) => Math.ceil((4 - p.sw + p.kw + 3) / 4);
/** Do the last chunk's last lanes, which read the first lanes of a chunk past the end, have outputs? */
const needNext = (p: MaxPoolParams) => perLane(p) * (POOL_LANES * chunksOf(p) - vecsPerRow(p) + 1) < p.ow;

/** Outputs stored per lane and chunk as one vector (P when OW is a multiple of P, else 1). */
const storeWidth = (p: MaxPoolParams) => (p.ow % perLane(p) === 0 ? perLane(p) : 1);

export const maxPoolLanesKernel: KernelDef<MaxPoolParams> = {
  name: 'maxpool_lanes',
  spec: (p) => `k${p.kh}x${p.kw}s${p.sh}x${p.sw}p${p.ph}x${p.pw}c${chunksOf(p)}v${storeWidth(p)}${needNext(p) ? 'n' : ''}${p.withIdx ? ':idx' : ''}`,
  // x [N,H,W] (as vec4s), y [N,OH,OW], idx [N,OH,OW] int32 (optional)
  bindings: (p) => (p.withIdx ? ['read', 'rw', 'rw'] : ['read', 'rw']),
  // negInf: the bits of -infinity (WGSL constant expressions may not be infinite)
  uniforms: (p) => [p.n, p.h, p.w, p.oh, p.ow, 0xff800000],
  dispatch: (p) => Math.ceil((p.n * p.oh) / ROWS),
  wgsl: (p) => {
    const L = POOL_LANES;
    const P = perLane(p);
    const C = chunksOf(p);
    const V = storeWidth(p);
    const S = 4 - p.sw + p.kw; // columns a lane needs from each window row
    const nv = vecsPerRow(p);
    const padded = p.ph > 0 || p.pw > 0;
    const keep = Math.max(0, p.kh - p.sh); // window rows shared with the next output row
    const comp = ['x', 'y', 'z', 'w'];
    const rng = (n: number) => [...Array(n).keys()];
    const sv = (a: number, c: number, k: number) => `s${a}_${c}_${k}`;
    const decl = rng(p.kh)
      .flatMap((a) => rng(C).map((c) => rng(S).map((k) => `var ${sv(a, c, k)}: f32;`).join(' ')))
      .join('\n  ');

    // window row a: s<a>_<c>_<k> = x[plane, iy, 4m - pw + k] for the lane's slot m = 8c + lane
    const loadRow = (a: number) => {
      const out = [
        `{`,
        `  let iy = y0 + ${a};`,
        padded ? `  let rowOk = (iy >= 0) & (iy < i32(u.h));` : '',
        `  let s0 = (i32(plane * u.h) + clamp(iy, 0, i32(u.h) - 1)) * i32(u.w) - ${p.pw};`,
        `  let r = s0 & 3;  // misalignment of column -pw, uniform along the row`,
        `  let vb = (s0 >> 2) + i32(lane);`,
      ];
      // own vec4 of each chunk, loaded only where a lane (or its left neighbour) has outputs;
      // chunk C: the first lanes, which the last chunk's last lanes read as neighbours
      for (let c = 0; c < C; c++)
        out.push(
          `  var w${c} = vec4<f32>(0.0);`,
          `  if (${P}u * (${c * L}u + lane) < u.ow + ${P}u) { w${c} = x[u32(max(vb + ${c * L}, 0))]; }`,
        );
      if (nv > 1) {
        out.push(`  var w${C} = vec4<f32>(0.0);`);
        if (needNext(p)) out.push(`  if (lane < ${nv - 1}u) { w${C} = x[u32(max(vb + ${C * L}, 0))]; }`);
      }
      for (let c = 0; c < C; c++) {
        const e = (i: number) => {
          const j = i >> 2;
          const v = j === 0 ? `w${c}` : `n${c}_${j}`;
          return `${v}.${comp[i & 3]}`;
        };
        for (let j = 1; j < nv; j++)
          out.push(
            `  let n${c}_${j} = select(subgroupShuffleDown(w${c}, ${j}u), subgroupShuffleUp(w${c + 1}, ${L - j}u), lane >= ${L - j}u);`,
          );
        if (padded) out.push(`  let col${c} = i32(4u * (${c * L}u + lane)) - ${p.pw};`);
        for (let k = 0; k < S; k++) {
          let expr = e(k); // s[k] = e[k + r]
          for (let rr = 1; rr <= 3; rr++) expr = `select(${expr}, ${e(k + rr)}, r == ${rr})`;
          if (padded) expr = `select(NEG, ${expr}, rowOk & (col${c} + ${k} >= 0) & (col${c} + ${k} < i32(u.w)))`;
          out.push(`  ${sv(a, c, k)} = ${expr};`);
        }
      }
      out.push('}');
      return out.filter((l) => l).map((l) => '    ' + l).join('\n');
    };
    const rows = rng(p.kh)
      .map((a) => {
        if (a >= keep) return loadRow(a);
        const shift = rng(C).flatMap((c) => rng(S).map((k) => `      ${sv(a, c, k)} = ${sv(a + p.sh, c, k)};`));
        return `    if (cont) {\n${shift.join('\n')}\n    } else {\n${loadRow(a)}\n    }`;
      })
      .join('\n');

    const vt = (t: string) => (V === 1 ? t : `vec${V}<${t}>`);
    const outputs = rng(C)
      .map((c) => {
        const parts = rng(P).map((j) => {
          const cands: string[] = [];
          for (let a = 0; a < p.kh; a++)
            for (let b = 0; b < p.kw; b++) {
              const v = sv(a, c, p.sw * j + b);
              cands.push(
                `      { let take = (${v} > best${j}) | isNan(${v}); best${j} = select(best${j}, ${v}, take); code${j} = select(code${j}, ${a * p.kw + b}, take); }`,
              );
            }
          return `      let ox${j} = ${P}u * m + ${j}u;
      let x0${j} = i32(ox${j} * ${p.sw}u) - ${p.pw};
      var best${j} = NEG;
      var code${j} = -1;
${cands.join('\n')}
      // all -inf (or all padding): the first element inside the image, like the CPU twin
      let bi${j} = select((y0 + code${j} / ${p.kw}) * i32(u.w) + x0${j} + code${j} % ${p.kw}, max(y0, 0) * i32(u.w) + max(x0${j}, 0), code${j} < 0);`;
        });
        const stores =
          V === 1
            ? rng(P)
                .map((j) => `      if (ox${j} < u.ow) { y[rowOut * u.ow + ox${j}] = best${j};${p.withIdx ? ` idx[rowOut * u.ow + ox${j}] = bi${j};` : ''} }`)
                .join('\n')
            : `      if (ox0 < u.ow) {
        let o = (rowOut * u.ow) / ${V}u + m;
        y[o] = ${vt('f32')}(${rng(P).map((j) => `best${j}`).join(', ')});
        ${p.withIdx ? `idx[o] = ${vt('i32')}(${rng(P).map((j) => `bi${j}`).join(', ')});` : ''}
      }`;
        return `    {\n      let m = ${c * L}u + lane;\n${parts.join('\n')}\n${stores}\n    }`;
      })
      .join('\n');

    return `enable subgroups;
@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y: array<${vt('f32')}>;
${p.withIdx ? `@group(0) @binding(2) var<storage, read_write> idx: array<${vt('i32')}>;` : ''}
struct U { n: u32, h: u32, w: u32, oh: u32, ow: u32, negInf: u32 }
@group(0) @binding(${p.withIdx ? 3 : 2}) var<uniform> u: U;
${IS_NAN_WGSL}

@compute @workgroup_size(${L})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(subgroup_invocation_id) lane: u32) {
  let NEG = bitcast<f32>(u.negInf);
  let r0 = (wid.y * nwg.x + wid.x) * ${ROWS}u;
  let r1 = min(r0 + ${ROWS}u, u.n * u.oh);
  ${decl}
  // oy and plane advance without division (lavapipe divides lane by lane)
  var oy = r0 % u.oh;
  var plane = r0 / u.oh;
  for (var rowOut = r0; rowOut < r1; rowOut++) {
    let cont = (rowOut > r0) & (oy > 0u);
    let y0 = i32(oy * ${p.sh}u) - ${p.ph};
${rows}
${outputs}
    oy++;
    if (oy == u.oh) { oy = 0u; plane++; }
  }
}`;
  },
  cpu: (p, bufs) => maxPoolKernel.cpu(p, bufs),
};

// ---- backward ----
// gx [N, H, W] from g, idx [N, OH, OW]. One subgroup walks the input rows of G whole planes in
// order (G * H * W a multiple of 4, so no other workgroup touches its vec4s) and writes each row
// with aligned vec4 stores. For input row iy it keeps, in registers, the g and idx of the Q output
// rows whose windows cover iy (a ring refilled as iy advances: every output row is loaded once).
// Lane m (chunk c) holds the outputs ox in [P m, P m + P) as in the forward; the gradient of its
// columns 4m - pw + k (k < 4) is the sum of g over its own and its left neighbour's outputs whose
// argmax is that element (kw <= 4 + sw keeps every window within two lanes). The result is then
// moved to the row's vec4 alignment with shuffles. The vec4 straddling two rows is finished one
// row later: the lower row's part is carried in a register instead of being stored.

/** Chunks for the backward: the row's vec4 slots (W + 3 + pw columns) must all be covered. */
const bwdChunks = (p: { w: number; pw: number }) => Math.ceil((p.w + 3 + p.pw) / (4 * POOL_LANES));

/** Can the lanes backward run this geometry? (the adapter check is the caller's) */
export function poolLanesBackwardFits(p: PoolGeom): boolean {
  return (p.sw === 1 || p.sw === 2 || p.sw === 4) && p.kw <= 4 + p.sw && bwdChunks(p) <= MAX_CHUNKS;
}

/** Planes per workgroup: the fewest whose element count is a multiple of 4. */
const planeGroup = (p: PoolGeom) => [1, 4, 2, 4][(p.h * p.w) % 4];

export const maxPoolLanesBackwardKernel: KernelDef<PoolGeom> = {
  name: 'maxpool_lanes_bwd',
  spec: (p) => `k${p.kh}x${p.kw}s${p.sh}x${p.sw}p${p.ph}x${p.pw}c${bwdChunks(p)}v${p.ow % perLane(p) === 0 ? perLane(p) : 1}`,
  // g [N,OH,OW], idx [N,OH,OW] int32, gx [N,H,W] (as vec4s)
  bindings: () => ['read', 'read', 'rw'],
  uniforms: (p) => [p.n, p.h, p.w, p.oh, p.ow, planeGroup(p)],
  dispatch: (p) => Math.ceil(p.n / planeGroup(p)),
  wgsl: (p) => {
    const L = POOL_LANES;
    const P = perLane(p);
    const C = bwdChunks(p);
    const V = p.ow % P === 0 ? P : 1;
    const Q = Math.ceil(p.kh / p.sh); // output rows covering one input row, at most
    const rng = (n: number) => [...Array(n).keys()];
    const comp = ['x', 'y', 'z', 'w'];
    const vt = (t: string) => (V === 1 ? t : `vec${V}<${t}>`);
    const el = (v: string, j: number) => (V === 1 ? v : `${v}.${comp[j]}`);
    // ring slot q of chunk c: g<q>_<c>_<j>, i<q>_<c>_<j> for the lane's outputs j < P
    const gq = (q: number, c: number, j: number) => `g${q}_${c}_${j}`;
    const iq = (q: number, c: number, j: number) => `i${q}_${c}_${j}`;
    const decl = rng(Q)
      .flatMap((q) => rng(C).map((c) => rng(P).map((j) => `var ${gq(q, c, j)} = 0.0; var ${iq(q, c, j)} = -1;`).join(' ')))
      .join('\n  ');
    // load output row `oy` of `plane` into slot q (g = 0 outside the output)
    const loadSlot = (q: number, oy: string) =>
      rng(C)
        .map((c) => {
          const lines = [`{`, `  let m = ${c * L}u + lane;`, `  let ok = (${oy} >= 0) & (${oy} < i32(u.oh)) & (${P}u * m < u.ow);`];
          if (V === 1) {
            for (let j = 0; j < P; j++)
              lines.push(
                `  let o${j} = (plane * u.oh + u32(max(${oy}, 0))) * u.ow + min(${P}u * m + ${j}u, u.ow - 1u);`,
                `  ${gq(q, c, j)} = select(0.0, g[o${j}], ok & (${P}u * m + ${j}u < u.ow));`,
                `  ${iq(q, c, j)} = idx[o${j}];`,
              );
          } else {
            lines.push(
              `  let o = ((plane * u.oh + u32(max(${oy}, 0))) * u.ow) / ${V}u + min(m, u.ow / ${V}u - 1u);`,
              `  let gv = g[o];`,
              `  let iv = idx[o];`,
            );
            for (let j = 0; j < P; j++) lines.push(`  ${gq(q, c, j)} = select(0.0, ${el('gv', j)}, ok);`, `  ${iq(q, c, j)} = ${el('iv', j)};`);
          }
          lines.push('}');
          return lines.map((l) => '      ' + l).join('\n');
        })
        .join('\n');
    const shiftRing = rng(Q - 1)
      .reverse()
      .flatMap((q) => rng(C).flatMap((c) => rng(P).map((j) => `      ${gq(q + 1, c, j)} = ${gq(q, c, j)}; ${iq(q + 1, c, j)} = ${iq(q, c, j)};`)))
      .join('\n');

    // per chunk: own[k] = gradient of columns 4m - pw + k of row iy (k < 4). The lane's outputs
    // reach columns k < S = 4 - sw + kw; the part past its own 4 (spill) goes to lane m + 1.
    const S = 4 - p.sw + p.kw;
    const contributions = (c: number) => {
      const lines = [`  let cb${c} = i32(4u * (${c * L}u + lane)) - ${p.pw};`, `  var own${c} = vec4<f32>(0.0);`];
      for (let q = 0; q < Q; q++)
        for (let j = 0; j < P; j++) lines.push(`  let lg${q}_${c}_${j} = select(0.0, ${gq(q, c, j)}, live${q});`);
      for (let k = 0; k < S; k++) {
        const terms: string[] = [];
        for (let q = 0; q < Q; q++)
          for (let j = 0; j < P; j++) {
            const b = k - p.sw * j;
            if (b >= 0 && b < p.kw) terms.push(`select(0.0, lg${q}_${c}_${j}, ${iq(q, c, j)} == t${c}_${k})`);
          }
        lines.push(`  let t${c}_${k} = rowBase + cb${c} + ${k};`);
        const sum = terms.length ? terms.join(' + ') : '0.0';
        lines.push(k < 4 ? `  own${c}.${comp[k]} = ${sum};` : `  let sp${c}_${k - 4} = ${sum};`);
      }
      return lines.join('\n');
    };
    const merge = (c: number) => {
      const lines: string[] = [];
      for (let k = 0; k < S - 4; k++) {
        const prev = c === 0 ? '0.0' : `subgroupShuffleDown(sp${c - 1}_${k}, ${L - 1}u)`;
        lines.push(`  own${c}.${comp[k]} += select(subgroupShuffleUp(sp${c}_${k}, 1u), ${prev}, lane == 0u);`);
      }
      // columns outside the image (padding, other rows) get nothing
      for (let k = 0; k < 4; k++)
        lines.push(`  own${c}.${comp[k]} = select(0.0, own${c}.${comp[k]}, (cb${c} + ${k} >= 0) & (cb${c} + ${k} < i32(u.w)));`);
      return lines.join('\n');
    };
    // e-space: slot m covers columns 4m - rp + i; s-space own covers 4m - pw + k, so
    // e[i] = own[i + d] of lane m (+1 / -1 when i + d leaves [0, 4)), d = pw - rp in [pw - 3, pw]
    const toSlots = (c: number) => {
      const lines = [
        `  let prv${c} = select(subgroupShuffleUp(own${c}, 1u), ${c === 0 ? 'vec4<f32>(0.0)' : `subgroupShuffleDown(own${c - 1}, ${L - 1}u)`}, lane == 0u);`,
        `  let nxt${c} = select(subgroupShuffleDown(own${c}, 1u), ${c === C - 1 ? 'vec4<f32>(0.0)' : `subgroupShuffleUp(own${c + 1}, ${L - 1}u)`}, lane == ${L - 1}u);`,
        `  var e${c} = vec4<f32>(0.0);`,
      ];
      const src = (t: number) => (t < 0 ? `prv${c}.${comp[t + 4]}` : t < 4 ? `own${c}.${comp[t]}` : `nxt${c}.${comp[t - 4]}`);
      for (let i = 0; i < 4; i++) {
        let expr = '0.0';
        for (let rp = 0; rp < 4; rp++) expr = `select(${expr}, ${src(i + p.pw - rp)}, rp == ${rp})`;
        lines.push(`  e${c}.${comp[i]} = ${expr};`);
      }
      return lines.join('\n');
    };

    const stores = rng(C)
      .map((c) => {
        const first = c === 0 ? `\n    if (lane == 0u) { e${c} += carry; }` : '';
        return `  {
    let mm = ${c * L}u + lane;${first}
    if ((mm < mLast) | ((mm == mLast) & !straddle)) { gx[slot0 + mm] = e${c}; }
  }`;
      })
      .join('\n');
    const lastChunk = rng(C)
      .slice(1)
      .reduce((acc, c) => `select(${acc}, e${c}, cLast == ${c}u)`, 'e0');

    return `enable subgroups;
@group(0) @binding(0) var<storage, read> g: array<${vt('f32')}>;
@group(0) @binding(1) var<storage, read> idx: array<${vt('i32')}>;
@group(0) @binding(2) var<storage, read_write> gx: array<vec4<f32>>;
struct U { n: u32, h: u32, w: u32, oh: u32, ow: u32, planes: u32 }
@group(0) @binding(3) var<uniform> u: U;

@compute @workgroup_size(${L})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(subgroup_invocation_id) lane: u32) {
  let p0 = (wid.y * nwg.x + wid.x) * u.planes;
  let p1 = min(p0 + u.planes, u.n);
  ${decl}
  // the lower row's part of the vec4 straddling two rows, added by lane 0 of the next row
  var carry = vec4<f32>(0.0);
  var carrySlot = 0u;
  var pending = false;
  for (var plane = p0; plane < p1; plane++) {
    for (var iy = 0u; iy < u.h; iy++) {
      let hi = (i32(iy) + ${p.ph}) / ${p.sh};  // newest output row covering iy
      if (iy == 0u) {
${rng(Q)
  .map((q) => loadSlot(q, `(hi - ${q})`))
  .join('\n')}
      } else if ((i32(iy) + ${p.ph}) % ${p.sh} == 0) {
${shiftRing}
${loadSlot(0, 'hi')}
      }
      // slot q (output row hi - q) covers iy when iy is inside its window
${rng(Q)
  .map((q) => `      let live${q} = (hi - ${q} >= 0) & (hi - ${q} < i32(u.oh)) & (i32(iy) - ((hi - ${q}) * ${p.sh} - ${p.ph}) < ${p.kh});`)
  .join('\n')}
      let rowBase = i32(iy * u.w);  // flat index of (iy, 0) in its plane, as idx holds it
${rng(C)
  .map((c) => contributions(c))
  .concat(rng(C).map((c) => merge(c)))
  .join('\n')
  .replace(/^/gm, '      ')}
      let flat = (plane * u.h + iy) * u.w;
      let rp = flat & 3u;
      let slot0 = flat >> 2u;
${rng(C)
  .map((c) => toSlots(c))
  .join('\n')
  .replace(/^/gm, '      ')}
      let mLast = (rp + u.w - 1u) >> 2u;  // slot holding the row's last element
      let straddle = ((rp + u.w) & 3u) != 0u;
${stores.replace(/^/gm, '    ')}
      let cLast = mLast / ${L}u;
      carry = select(vec4<f32>(0.0), subgroupShuffle(${lastChunk}, mLast % ${L}u), straddle & (lane == 0u));
      carrySlot = slot0 + mLast;
      pending = straddle;
    }
  }
  // the tensor's last vec4 (a group ends 4-aligned everywhere else)
  if (pending & (lane == 0u)) { gx[carrySlot] = carry; }
}`;
  },
  cpu: (p, bufs) => maxPoolBackwardKernel.cpu(p, bufs),
};
