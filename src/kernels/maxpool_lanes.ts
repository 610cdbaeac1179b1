// Max pooling forward and backward for software adapters whose subgroups are exactly 8 lanes
// (lavapipe): src/policy/pool_choice.ts runs these only there (`software`, the 'subgroups'
// feature, subgroupMinSize == subgroupMaxSize == 8) and only for the geometries `poolLanesFits` /
// `poolLanesBackwardFits` accept; every other adapter and geometry runs maxpool.ts.
// Forward (the backward's own comment is further down): one 8-lane subgroup slides along input
// rows with aligned vec4 loads. Why: lavapipe turns every load whose address differs per lane into
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
// Windows that leave the input (padding, or ceil mode's last row / column of windows running past
// it) are masked: the forward replaces every element outside the input by -inf whenever
// `clipped(p)`; the backward always drops columns outside the image and walks input rows only.
import { defineKernel, read, rw, u32 } from './shader.ts';
import { type MaxPoolParams, type PoolGeom, clipped, maxPoolKernel, maxPoolBackwardKernel, overhangs } from './maxpool.ts';
import { isNanWgsl } from './wgsl_lib.ts';

/** Lanes per subgroup (= workgroup) this kernel is written for. */
export const POOL_LANES = 8;
/** Output rows per workgroup: consecutive rows of a plane share input rows. */
const ROWS = 32;
/** Chunks of 8 lanes along a row, unrolled: at most this many (OW <= 32 * MAX_CHUNKS / sw). */
const MAX_CHUNKS = 4;

const perLane = (p: { sw: number }) => 4 / p.sw;
const chunksOf = (p: { ow: number; sw: number }) => Math.ceil(p.ow / (POOL_LANES * perLane(p)));

/** Can the lanes forward run this geometry? (the adapter check is the caller's) */
export function poolLanesFits(p: { kw: number; sw: number; ow: number }): boolean {
  return (p.sw === 1 || p.sw === 2 || p.sw === 4) && p.kw <= 5 + p.sw && chunksOf(p) <= MAX_CHUNKS;
}

/** The values `(rowStart + off) mod 4` can take over all rows: rowStart is a multiple of
 * gcd(W, 4), so W = 0 mod 4 pins it to one value and W = 2 mod 4 to two (fewer selects). */
export function residues(w: number, off: number): number[] {
  const gcd = [4, 1, 2, 1][w % 4];
  return [0, 1, 2, 3].filter((r) => (((r - off) % gcd) + gcd) % gcd === 0);
}

/** vec4s per lane and input row before the shift by the row's misalignment: own + neighbours'. */
const vecsPerRow = (p: { kw: number; sw: number }) => Math.ceil((4 - p.sw + p.kw + 3) / 4);
/** Do the last chunk's last lanes, which read the first lanes of a chunk past the end, have outputs? */
const needNext = (p: MaxPoolParams) => perLane(p) * (POOL_LANES * chunksOf(p) - vecsPerRow(p) + 1) < p.ow;

/** Outputs stored per lane and chunk as one vector (P when OW is a multiple of P, else 1). */
const storeWidth = (p: PoolGeom) => (p.ow % perLane(p) === 0 ? perLane(p) : 1);
/** The element type of y / idx / g (`t` = 'f32' or 'i32'), vectors of the store width. */
const vecOf = (p: PoolGeom, t: string) => (storeWidth(p) === 1 ? t : `vec${storeWidth(p)}<${t}>`);
/** The bits of -infinity (WGSL constant expressions may not be infinite). */
const NEG_INF_BITS = 0xff800000;

export const maxPoolLanesKernel = defineKernel<MaxPoolParams>({
  name: 'maxpool_lanes',
  spec: (p) => `k${p.kh}x${p.kw}s${p.sh}x${p.sw}p${p.ph}x${p.pw}${overhangs(p) ? 'o' : ''}c${chunksOf(p)}v${storeWidth(p)}w${p.w % 4}${needNext(p) ? 'n' : ''}${p.withIdx ? ':idx' : ''}`,
  // x [N,H,W] (as vec4s), y [N,OH,OW], idx [N,OH,OW] int32 (optional)
  storage: (p) => [read('x', 'vec4<f32>'), rw('y', vecOf(p, 'f32')), ...(p.withIdx ? [rw('idx', vecOf(p, 'i32'))] : [])],
  uniforms: (p) => [
    u32('n', p.n), u32('h', p.h), u32('w', p.w), u32('oh', p.oh), u32('ow', p.ow),
    u32('blocks', Math.ceil(p.oh / ROWS)), u32('negInf', NEG_INF_BITS),
  ],
  enables: () => ['subgroups'],
  // one workgroup per block of ROWS output rows of one plane
  dispatch: (p) => p.n * Math.ceil(p.oh / ROWS),
  body: (p) => {
    const L = POOL_LANES;
    const P = perLane(p);
    const C = chunksOf(p);
    const V = storeWidth(p);
    const S = 4 - p.sw + p.kw; // columns a lane needs from each window row
    const nv = vecsPerRow(p);
    // padding, or ceil-mode windows past the input: mask rows and columns outside it with -inf
    const padded = clipped(p);
    const keep = Math.max(0, p.kh - p.sh); // window rows shared with the next output row
    const comp = ['x', 'y', 'z', 'w'];
    const rng = (n: number) => [...Array(n).keys()];
    // Why lets, not vars: lavapipe keeps a value that is merged after an if or carried around a
    // loop in memory and blends every write with the execution mask; only the kept rows are carried.
    const sv = (a: number, c: number, k: number) => `s${a}_${c}_${k}`;
    const kv = (a: number, c: number, k: number) => `k${a}_${c}_${k}`;

    /** window row a of output row y0: `${name(c, k)}` = x[plane, iy, 4m - pw + k], m = 8c + lane */
    const loadRow = (a: number, name: (c: number, k: number) => string, decl: string) => {
      const t = `r${a}`;
      const out = [
        `let ${t}iy = y0 + ${a};`,
        padded ? `let ${t}ok = (${t}iy >= 0) & (${t}iy < i32(u.h));` : '',
        `let ${t}s0 = (planeRow0 + clamp(${t}iy, 0, i32(u.h) - 1)) * i32(u.w) - ${p.pw};`,
        `let ${t}r = ${t}s0 & 3;  // misalignment of column -pw, uniform along the row`,
        `let ${t}vb = (${t}s0 >> 2) + i32(lane);`,
      ];
      // own vec4 of each chunk (lanes past the row load harmlessly, their outputs are not stored);
      // chunk C: its first lanes, which the last chunk's last lanes read as neighbours
      for (let c = 0; c < C; c++) {
        // skip the load where neither this lane nor its left neighbour has outputs (the last chunk)
        if (P * (c * L + L - 1) < p.ow + P) out.push(`let ${t}w${c} = x[u32(max(${t}vb + ${c * L}, 0))];`);
        else out.push(`var ${t}w${c} = vec4<f32>(0.0);`, `if (${P}u * (${c * L}u + lane) < u.ow + ${P}u) { ${t}w${c} = x[u32(max(${t}vb + ${c * L}, 0))]; }`);
      }
      if (nv > 1) {
        if (needNext(p)) out.push(`var ${t}w${C} = vec4<f32>(0.0);`, `if (lane < ${nv - 1}u) { ${t}w${C} = x[u32(max(${t}vb + ${C * L}, 0))]; }`);
        else out.push(`let ${t}w${C} = vec4<f32>(0.0);`);
      }
      const rs = residues(p.w, -p.pw);
      for (let c = 0; c < C; c++) {
        const e = (i: number) => `${i >> 2 ? `${t}n${c}_${i >> 2}` : `${t}w${c}`}.${comp[i & 3]}`;
        for (let j = 1; j < nv; j++)
          out.push(`let ${t}n${c}_${j} = select(subgroupShuffleDown(${t}w${c}, ${j}u), subgroupShuffleUp(${t}w${c + 1}, ${L - j}u), lane >= ${L - j}u);`);
        if (padded) out.push(`let ${t}col${c} = i32(4u * (${c * L}u + lane)) - ${p.pw};`);
        for (let k = 0; k < S; k++) {
          // s[k] = e[k + r], r among the row misalignments this W allows
          let expr = e(k + rs[0]);
          for (const rr of rs.slice(1)) expr = `select(${expr}, ${e(k + rr)}, ${t}r == ${rr})`;
          if (padded) expr = `select(NEG, ${expr}, ${t}ok & (${t}col${c} + ${k} >= 0) & (${t}col${c} + ${k} < i32(u.w)))`;
          out.push(`${decl}${name(c, k)} = ${expr};`);
        }
      }
      return out.filter((l) => l).map((l) => `    ${l}`).join('\n');
    };

    const carried = rng(keep)
      .flatMap((a) => rng(C).flatMap((c) => rng(S).map((k) => `var ${kv(a, c, k)}: f32;`)))
      .join(' ');
    const prologue = rng(keep)
      .map((a) => loadRow(a, (c, k) => kv(a, c, k), ''))
      .join('\n');
    const rowsInLoop = rng(p.kh)
      .map((a) =>
        a < keep
          ? rng(C)
              .flatMap((c) => rng(S).map((k) => `    let ${sv(a, c, k)} = ${kv(a, c, k)};`))
              .join('\n')
          : loadRow(a, (c, k) => sv(a, c, k), 'let '),
      )
      .join('\n');
    const nanFlags = rng(p.kh)
      .flatMap((a) => rng(C).flatMap((c) => rng(S).map((k) => `    let ${sv(a, c, k)}n = isNan(${sv(a, c, k)});`)))
      .join('\n');
    const carryOut = rng(keep)
      .flatMap((a) => rng(C).flatMap((c) => rng(S).map((k) => `    ${kv(a, c, k)} = ${sv(a + p.sh, c, k)};`)))
      .join('\n');

    const vt = (t: string) => vecOf(p, t);
    const outputs = rng(C)
      .map((c) => {
        const parts = rng(P).map((j) => {
          // running maximum in row-major window order: strict > keeps the first maximum, a NaN wins
          const lines = [`    let ox${c}_${j} = ${P}u * (${c * L}u + lane) + ${j}u;`, `    let x0${c}_${j} = i32(ox${c}_${j} * ${p.sw}u) - ${p.pw};`];
          let best = 'NEG';
          let code = '-1';
          let n = 0;
          for (let a = 0; a < p.kh; a++)
            for (let b = 0; b < p.kw; b++, n++) {
              const v = sv(a, c, p.sw * j + b);
              const tk = `t${c}_${j}_${n}`;
              lines.push(
                `    let ${tk} = (${v} > ${best}) | ${v}n;`,
                `    let b${c}_${j}_${n} = select(${best}, ${v}, ${tk});`,
                `    let c${c}_${j}_${n} = select(${code}, ${a * p.kw + b}, ${tk});`,
              );
              best = `b${c}_${j}_${n}`;
              code = `c${c}_${j}_${n}`;
            }
          lines.push(
            `    let best${c}_${j} = ${best};`,
            // all -inf (or all padding): the first element inside the image, like the CPU twin
            `    let bi${c}_${j} = select((y0 + ${code} / ${p.kw}) * i32(u.w) + x0${c}_${j} + ${code} % ${p.kw}, max(y0, 0) * i32(u.w) + max(x0${c}_${j}, 0), ${code} < 0);`,
          );
          return lines.join('\n');
        });
        const stores =
          V === 1
            ? rng(P)
                .map((j) => `    if (ox${c}_${j} < u.ow) { y[rowOut + ox${c}_${j}] = best${c}_${j};${p.withIdx ? ` idx[rowOut + ox${c}_${j}] = bi${c}_${j};` : ''} }`)
                .join('\n')
            : `    if (ox${c}_0 < u.ow) {
      let o = rowOut / ${V}u + ${c * L}u + lane;
      y[o] = ${vt('f32')}(${rng(P).map((j) => `best${c}_${j}`).join(', ')});
      ${p.withIdx ? `idx[o] = ${vt('i32')}(${rng(P).map((j) => `bi${c}_${j}`).join(', ')});` : ''}
    }`;
        return `${parts.join('\n')}\n${stores}`;
      })
      .join('\n');

    return `
${isNanWgsl('f32')}

@compute @workgroup_size(${L})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(subgroup_invocation_id) lane: u32) {
  let NEG = bitcast<f32>(u.negInf);
  let wg = wid.y * nwg.x + wid.x;
  let plane = wg / u.blocks;
  if (plane >= u.n) { return; }
  let oy0 = (wg - plane * u.blocks) * ${ROWS}u;
  let oy1 = min(oy0 + ${ROWS}u, u.oh);
  let planeRow0 = i32(plane * u.h);
  ${carried}
  {
    let y0 = i32(oy0 * ${p.sh}u) - ${p.ph};
${prologue}
  }
  for (var oy = oy0; oy < oy1; oy++) {
    let y0 = i32(oy * ${p.sh}u) - ${p.ph};
    let rowOut = (plane * u.oh + oy) * u.ow;
${rowsInLoop}
${nanFlags}
${outputs}
${carryOut}
  }
}`;
  },
  cpu: (p, bufs) => maxPoolKernel.cpu(p, bufs),
});

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

export const maxPoolLanesBackwardKernel = defineKernel<PoolGeom>({
  name: 'maxpool_lanes_bwd',
  spec: (p) => `k${p.kh}x${p.kw}s${p.sh}x${p.sw}p${p.ph}x${p.pw}c${bwdChunks(p)}v${storeWidth(p)}w${p.w % 4}`,
  // g [N,OH,OW], idx [N,OH,OW] int32, gx [N,H,W] (as vec4s)
  storage: (p) => [read('g', vecOf(p, 'f32')), read('idx', vecOf(p, 'i32')), rw('gx', 'vec4<f32>')],
  uniforms: (p) => [u32('n', p.n), u32('h', p.h), u32('w', p.w), u32('oh', p.oh), u32('ow', p.ow), u32('planes', planeGroup(p))],
  enables: () => ['subgroups'],
  dispatch: (p) => Math.ceil(p.n / planeGroup(p)),
  body: (p) => {
    const L = POOL_LANES;
    const P = perLane(p);
    const C = bwdChunks(p);
    const V = storeWidth(p);
    const Q = Math.ceil(p.kh / p.sh); // output rows covering one input row, at most
    const S = 4 - p.sw + p.kw; // columns a lane's outputs reach: its own 4, then its neighbour's
    const rng = (n: number) => [...Array(n).keys()];
    const comp = ['x', 'y', 'z', 'w'];
    const el = (v: string, j: number) => (V === 1 ? v : `${v}.${comp[j]}`);
    // ring slot q (output row oy - q) of chunk c: g<q>_<c>_<j>, i<q>_<c>_<j>, outputs j < P.
    // Slot 0 is loaded each step; slots >= 1 are carried (vars: lavapipe keeps carried values in
    // memory and blends their writes, so everything else is a let).
    const gq = (q: number, c: number, j: number) => `g${q}_${c}_${j}`;
    const iq = (q: number, c: number, j: number) => `i${q}_${c}_${j}`;
    const slots = (q0: number, f: (q: number, c: number, j: number) => string) => rng(Q).slice(q0).flatMap((q) => rng(C).flatMap((c) => rng(P).map((j) => f(q, c, j))));
    const carriedDecl = slots(1, (q, c, j) => `var G${q}_${c}_${j} = 0.0; var I${q}_${c}_${j} = -1;`).join(' ');
    const carriedReset = slots(1, (q, c, j) => `G${q}_${c}_${j} = 0.0; I${q}_${c}_${j} = -1;`).join(' ');
    const carriedUse = slots(1, (q, c, j) => `let ${gq(q, c, j)} = G${q}_${c}_${j}; let ${iq(q, c, j)} = I${q}_${c}_${j};`).join(' ');
    // next step: slot q + 1 <- slot q
    const carriedShift = slots(1, (q, c, j) => `G${q}_${c}_${j} = ${gq(q - 1, c, j)}; I${q}_${c}_${j} = ${iq(q - 1, c, j)};`).join(' ');

    // slot 0: output row oy of `plane` (g = 0 outside the output: past its last row or column)
    const loadSlot0 = rng(C)
      .map((c) => {
        const m = `(${c * L}u + lane)`;
        const lines = [`let ok${c} = (oy < u.oh) & (${P}u * ${m} < u.ow);`, `let orow${c} = (plane * u.oh + min(oy, u.oh - 1u)) * u.ow;`];
        if (V === 1) {
          for (let j = 0; j < P; j++)
            lines.push(
              `let o${c}_${j} = orow${c} + min(${P}u * ${m} + ${j}u, u.ow - 1u);`,
              `let ${gq(0, c, j)} = select(0.0, g[o${c}_${j}], ok${c} & (${P}u * ${m} + ${j}u < u.ow));`,
              `let ${iq(0, c, j)} = idx[o${c}_${j}];`,
            );
        } else {
          lines.push(`let o${c} = orow${c} / ${V}u + min(${m}, u.ow / ${V}u - 1u);`, `let gv${c} = g[o${c}];`, `let iv${c} = idx[o${c}];`);
          for (let j = 0; j < P; j++) lines.push(`let ${gq(0, c, j)} = select(0.0, ${el(`gv${c}`, j)}, ok${c});`, `let ${iq(0, c, j)} = ${el(`iv${c}`, j)};`);
        }
        return lines.map((l) => `      ${l}`).join('\n');
      })
      .join('\n');

    // one input row: own<c>[k] = gradient of columns 4m - pw + k (k < 4); sp<c>_<k> = what the
    // lane's outputs give columns 4m - pw + 4 + k, which belong to lane m + 1
    const row: string[] = [];
    for (let q = 0; q < Q; q++)
      row.push(`let live${q} = (i32(oy) - ${q} >= 0) & (i32(oy) - ${q} < i32(u.oh)) & (iy - ((i32(oy) - ${q}) * ${p.sh} - ${p.ph}) < ${p.kh});`);
    row.push(`let rowBase = iy * i32(u.w);  // flat index of (iy, 0) in its plane, as idx holds it`);
    for (let c = 0; c < C; c++) {
      row.push(`let cb${c} = i32(4u * (${c * L}u + lane)) - ${p.pw};`);
      for (let q = 0; q < Q; q++) for (let j = 0; j < P; j++) row.push(`let lg${q}_${c}_${j} = select(0.0, ${gq(q, c, j)}, live${q});`);
      const vals: string[] = [];
      for (let k = 0; k < S; k++) {
        const terms: string[] = [];
        for (let q = 0; q < Q; q++)
          for (let j = 0; j < P; j++) {
            const b = k - p.sw * j;
            if (b >= 0 && b < p.kw) terms.push(`select(0.0, lg${q}_${c}_${j}, ${iq(q, c, j)} == rowBase + cb${c} + ${k})`);
          }
        const sum = terms.length ? terms.join(' + ') : '0.0';
        row.push(`let a${c}_${k} = ${sum};`);
        vals.push(`a${c}_${k}`);
      }
    }
    for (let c = 0; c < C; c++) {
      const parts = rng(4).map((k) => {
        let v = `a${c}_${k}`;
        if (k < S - 4) {
          // the left neighbour's spill; lane 0 takes the previous chunk's lane 7
          const prev = c === 0 ? '0.0' : `subgroupShuffleDown(a${c - 1}_${k + 4}, ${L - 1}u)`;
          v = `${v} + select(subgroupShuffleUp(a${c}_${k + 4}, 1u), ${prev}, lane == 0u)`;
        }
        // columns outside the image (padding, other rows) get nothing
        return `select(0.0, ${v}, (cb${c} + ${k} >= 0) & (cb${c} + ${k} < i32(u.w)))`;
      });
      row.push(`let own${c} = vec4<f32>(${parts.join(', ')});`);
    }
    // e-space: slot m covers columns 4m - rp + i, s-space own covers 4m - pw + k, so
    // e[i] = own[i + pw - rp] of lane m (of lane m -/+ 1 when that leaves [0, 4))
    row.push(`let flat = (plane * u.h + u32(iy)) * u.w;`, `let rp = flat & 3u;`, `let slot0 = flat >> 2u;`);
    const rps = residues(p.w, 0);
    for (let c = 0; c < C; c++) {
      row.push(
        `let prv${c} = select(subgroupShuffleUp(own${c}, 1u), ${c === 0 ? 'vec4<f32>(0.0)' : `subgroupShuffleDown(own${c - 1}, ${L - 1}u)`}, lane == 0u);`,
        `let nxt${c} = select(subgroupShuffleDown(own${c}, 1u), ${c === C - 1 ? 'vec4<f32>(0.0)' : `subgroupShuffleUp(own${c + 1}, ${L - 1}u)`}, lane == ${L - 1}u);`,
      );
      const src = (t: number) => (t < 0 ? `prv${c}.${comp[t + 4]}` : t < 4 ? `own${c}.${comp[t]}` : `nxt${c}.${comp[t - 4]}`);
      const parts = rng(4).map((i) => {
        let expr = src(i + p.pw - rps[0]);
        for (const rp of rps.slice(1)) expr = `select(${expr}, ${src(i + p.pw - rp)}, rp == ${rp}u)`;
        return expr;
      });
      // lane 0 of the first chunk finishes the vec4 the previous row started
      row.push(`let e${c} = vec4<f32>(${parts.join(', ')})${c === 0 ? ' + select(vec4<f32>(0.0), carry, lane == 0u)' : ''};`);
    }
    row.push(`let mLast = (rp + u.w - 1u) >> 2u;  // slot holding the row's last element`, `let straddle = ((rp + u.w) & 3u) != 0u;`);
    for (let c = 0; c < C; c++) row.push(`if ((${c * L}u + lane < mLast) | ((${c * L}u + lane == mLast) & !straddle)) { gx[slot0 + ${c * L}u + lane] = e${c}; }`);
    const lastChunk = rng(C)
      .slice(1)
      .reduce((acc, c) => `select(${acc}, e${c}, mLast / ${L}u == ${c}u)`, 'e0');
    row.push(
      `carry = select(vec4<f32>(0.0), subgroupShuffle(${lastChunk}, mLast % ${L}u), straddle & (lane == 0u));`,
      `carrySlot = slot0 + mLast;`,
      `pending = straddle;`,
    );

    return `
@compute @workgroup_size(${L})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(subgroup_invocation_id) lane: u32) {
  let p0 = (wid.y * nwg.x + wid.x) * u.planes;
  let p1 = min(p0 + u.planes, u.n);
  ${carriedDecl}
  // the lower row's part of the vec4 straddling two rows, added by lane 0 of the next row
  var carry = vec4<f32>(0.0);
  var carrySlot = 0u;
  var pending = false;
  for (var plane = p0; plane < p1; plane++) {
    ${carriedReset}
    // step oy: load output row oy, then finish the input rows no later output row reaches,
    // [sh oy - ph, sh (oy + 1) - ph); step OH finishes the rest (at most kh - 1 rows). The rows
    // are unrolled, not looped: as a loop (its carried values blended on every write, see above)
    // this kernel reaches 37-39% of a copy's bandwidth on lavapipe, unrolled 56-57%.
    for (var oy = 0u; oy <= u.oh; oy++) {
${loadSlot0}
      ${carriedUse}
      let lo = max(i32(oy * ${p.sh}u) - ${p.ph}, 0);
      let hi = select(min(i32((oy + 1u) * ${p.sh}u) - ${p.ph}, i32(u.h)), i32(u.h), oy == u.oh);
${rng(Math.max(p.sh, p.kh - 1))
  .map((r) => `      if (lo + ${r} < hi) {
        let iy = lo + ${r};
${row.map((l) => `        ${l}`).join('\n')}
      }`)
  .join('\n')}
      ${carriedShift}
    }
  }
  // the tensor's last vec4 (a group ends 4-aligned everywhere else)
  if (pending & (lane == 0u)) { gx[carrySlot] = carry; }
}`;
  },
  cpu: (p, bufs) => maxPoolBackwardKernel.cpu(p, bufs),
});
