// The GEMM cores behind matmul and the implicit-GEMM convolutions:
//   out(z, row, col) = epilogue( sum_k A(z, row, k) * B(z, k, col) ),  row < M, col < N, k < K,
// where each operand is a small WGSL loader (`Operand`), so one core serves plain matmul (either
// operand in either orientation) and convolutions (im2col index math inside the loader; no im2col
// buffer). K may be split into three nested counters k = (k0 * K1 + k1) * K2 + k2 (conv taps).
// Independent GEMMs of the same size (convolution groups) can sit side by side on the grid's y
// (`grouped`): the header derives the group `grp` and the row block within it.
// A kernel file declares its bindings and uniforms through `defineKernel` (shader.ts) and writes
// its body with `gemmBody`; which design runs is in the params (`GemmChoice`), chosen by
// src/policy/gemm_choice.ts.
//
// Two designs, both generated from the same loaders:
//  'lanes' (software adapters such as lavapipe): a workgroup is one 8-lane subgroup owning an
//     R x 8C output tile (16 x 16: R = 16 rows, C = 2 columns per lane); each lane keeps R x C
//     accumulators in registers and reads storage directly. lavapipe (Mesa 25) turns every storage
//     load into per-lane scalar loads, each with an execution-mask test and a bounds check (~14
//     instructions per lane and element; even workgroup-uniform addresses, which only count as
//     uniform when built from constants), so loads are what costs: each A value of the tile is
//     loaded by ONE lane and handed to the others with subgroupBroadcast (a register shuffle), so a
//     lane issues R/8 + C loads per k for R*C multiply-adds; vector loads (vec4 along K, taking 4 k
//     steps per loop iteration, or vec2 across a lane's rows / columns) halve the per-element cost.
//     K decomposition uses select-advanced counters (no vector integer division in the loop). No
//     workgroup memory (slower there). The epilogue is a loop, not unrolled: each store expands to
//     per-lane branches, and unrolled they dominated pipeline compile time.
//     Lane width L (`lanesWidth`): the above is L = 8. L = 4 is the same with 4-lane groups
//     (SwiftShader's subgroups are 4 lanes; two groups per workgroup where subgroups are exactly 4).
//     L = 1 shares nothing: each invocation loads its own R A values (R + C loads per k for R x C
//     multiply-adds, R x C = 8 x 4) and uses no subgroup operation, for adapters without
//     'subgroups' (Firefox); 8 such invocations side by side make a workgroup.
//  'tiled' (hardware GPUs; the TF.js design): 16x16 invocations x 4x4 outputs = a 64x64 tile, K in
//     32-deep slices staged in workgroup memory (A slice stored k-major so a thread reads its 4 rows
//     as one vec4), vec4 global loads where the operand offers them.
import type { Caps } from './kernel.ts';

export type GemmVariant = 'lanes' | 'tiled';

/** The GEMM design of one launch; every GEMM kernel's params carry it. */
export interface GemmChoice {
  variant: GemmVariant;
  /** 'lanes' only: subgroups of 8 lanes per workgroup, side by side along the columns (default 1;
   * more than 1 needs subgroups of exactly 8). With `lanesWidth` below 8: groups of that many lanes. */
  lanesSubgroups?: number;
  /** 'lanes' only: lanes that share A values through subgroupBroadcast (default 8). 4 serves
   * adapters whose subgroups are 4 lanes (SwiftShader); 1 needs no subgroups at all (every lane
   * loads its own A values; Firefox offers no 'subgroups'). See `LANES_WIDTHS`. */
  lanesWidth?: LanesWidth;
}

/** Lane counts of the 'lanes' core: 8 (lavapipe's subgroups), 4 (SwiftShader's), 1 (no subgroups). */
export type LanesWidth = 8 | 4 | 1;
export const LANES_WIDTHS: readonly LanesWidth[] = [8, 4, 1];

/** The current K index: linear `k` and its decomposition k = (k0 * K1 + k1) * K2 + k2. */
export interface KIdx {
  k: string;
  k0: string;
  k1: string;
  k2: string;
}

/** One operand: A is indexed by rows, B by columns (`i` below). */
export interface Operand {
  /** WGSL statements for one row (A) or column (B) index `i` (a u32 expression, already clamped
   * below M or N); they define `let`s whose names end in `s`. */
  setup(i: string, s: string): string;
  /** f32 WGSL expression: the element at the row/column set up under `s` and K index `k`. */
  load(s: string, k: KIdx): string;
  /** Which index is contiguous in memory (lets tiled loads coalesce). */
  fast: 'k' | 'i';
  /** Optional vec4 load of elements (i, k..k+3), k a multiple of 4; only offered when K % 4 == 0
   * and the rows/columns are 16-byte aligned, so every K index can use it. */
  vecK?: (s: string, k: KIdx) => string;
  /** Optional vector load of `w` consecutive rows/columns i..i+w-1 at one k (i a multiple of w);
   * `w` is the width the operand's array was declared with (lanes: R/8 for A, C for B; tiled: 4). */
  vecI?: { w: number; load(s: string, k: KIdx): string };
}

/** The problem one GEMM kernel solves, as WGSL fragments. The storage bindings and `struct U` come
 * from the kernel's `defineKernel` declarations; the fragments refer to them by name (the epilogue
 * reads a binding named `bias`). */
export interface GemmDesc {
  /** Statements at the top of `main` (may use `z`, the batch / split index). */
  prelude?: string;
  /** u32 expressions (may use prelude lets): M, N, and K = K0 * K1 * K2. */
  m: string;
  n: string;
  kDims: [string, string, string];
  /** Whether the loaders use k0/k1/k2 (else only the linear k). */
  kSplit: boolean;
  A: Operand;
  B: Operand;
  /** A statement storing f32 `v` at (row, col). */
  store(row: string, col: string, v: string): string;
  /** Optional vector store of `w` consecutive columns col..col+w-1 (col a multiple of w; offered
   * when N % w == 0 with the output array declared `w`-wide; w = C for lanes, 4 for tiled). */
  storeVec?: { w: number; store(row: string, col: string, v: string): string };
  /** Bias added per row or per column from binding `bias`, then optional ReLU. */
  bias?: 'row' | 'col' | null;
  /** u32 expression added to the bias index (e.g. the group's first output channel). */
  biasOffset?: string;
  /** Independent GEMMs side by side on the grid's y dimension (convolution groups): workgroup row
   * wid.y = grp * (row blocks of M) + block. The header defines `grp` after M, N and K, then runs
   * `prelude` (offsets that depend on the group); the loaders and the store may use both. The
   * kernel dispatches groups times the rows of `gemmGroups`. */
  grouped?: { prelude: string };
  relu?: boolean;
  /** Extra WGSL helper functions (loaders call them). */
  helpers?: string;
}

/** Register tile of the 'lanes' core: R rows (a multiple of L) x C columns per lane, and S
 * groups of L lanes per workgroup side by side along the columns. */
export interface LanesTile {
  r: number;
  c: number;
  s: number;
  /** L: lanes sharing A values by subgroupBroadcast (1: none, no subgroup operations). */
  l: LanesWidth;
}

/** Whether the adapter can run the 'lanes' core with `s` groups of `width` lanes per workgroup: it
 * relies on `width` consecutive invocations being one whole subgroup of at least `width` lanes
 * (exactly `width` when s > 1, so each group is its own subgroup). Width 1 uses no subgroup
 * operations and runs anywhere. */
export function lanesRunsOn(caps: Caps, s = 1, width: LanesWidth = 8): boolean {
  if (width === 1) return true;
  return caps.subgroups && caps.subgroupMinSize >= width && (s === 1 || caps.subgroupMaxSize === width);
}

/** The register tile for the lanes core: fewer rows when M is small. Width 1 keeps 8 x 4: each
 * lane loads all R of its A values itself, so R + C loads per k for R * C multiply-adds. */
export function lanesTile(choice: GemmChoice, m: number): LanesTile {
  const s = choice.lanesSubgroups ?? 1;
  const l = choice.lanesWidth ?? 8;
  return m <= 8 || l === 1 ? { r: 8, c: 4, s, l } : { r: 16, c: 2, s, l };
}

export const TILE = 64;
const TK = 32;

/** Workgroup counts [x, y] for an M x N problem. */
export function gemmGroups(choice: GemmChoice, m: number, n: number): [number, number] {
  if (choice.variant === 'tiled') return [Math.ceil(n / TILE), Math.ceil(m / TILE)];
  const t = lanesTile(choice, m);
  return [Math.ceil(n / (t.l * t.c * t.s)), Math.ceil(m / t.r)];
}

// ---- WGSL generation ----

const range = (n: number) => [...Array(n).keys()];

function header(d: GemmDesc, rowBlock: number): string {
  const [k0, k1, k2] = d.kDims;
  const grouped = d.grouped
    ? `
  let rowBlocks = (M + ${rowBlock - 1}u) / ${rowBlock}u;
  let grp = wid.y / rowBlocks;
  let wy = wid.y - grp * rowBlocks;
  ${d.grouped.prelude}`
    : '';
  return `let z = wid.z;
  ${d.prelude ?? ''}
  let M = ${d.m};
  let N = ${d.n};
  let K0 = ${k0};
  let K1 = ${k1};
  let K2 = ${k2};
  let K = K0 * K1 * K2;${grouped}`;
}

/** The workgroup's row-block index (within its group when grouped). */
const rowBlockId = (d: GemmDesc) => (d.grouped ? 'wy' : 'wid.y');

/** bias[offset + i] */
const biasAt = (d: GemmDesc, i: string) => `bias[${d.biasOffset ? `${d.biasOffset} + ` : ''}${i}]`;

/** Vector epilogue over columns col..col+w-1 (needs `storeVec`). */
function epilogueVec(d: GemmDesc, row: string, col: string, acc: string, w: number): string {
  let v = acc;
  if (d.bias === 'row') v = `${v} + ${biasAt(d, row)}`;
  if (d.bias === 'col') v = `${v} + ${vecType(w)}(${range(w).map((c) => biasAt(d, `${col} + ${c}u`)).join(', ')})`;
  if (d.relu) v = `max(${v}, ${vecType(w)}(0.0))`;
  return d.storeVec!.store(row, col, v);
}

/** Store one row of `w` accumulators (vector `v`) at (row, col..col+w-1), guarding columns. */
function storeRow(d: GemmDesc, row: string, col: string, v: string, w: number): string {
  if (d.storeVec && d.storeVec.w === w && w > 1) return `if (${col} < N) { ${epilogueVec(d, row, col, v, w)} }`;
  const comp = (c: number) => (w === 1 ? v : `${v}.${'xyzw'[c]}`);
  return range(w)
    .map((c) => `if (${col} + ${c}u < N) { ${epilogue(d, row, `${col} + ${c}u`, comp(c))} }`)
    .join('\n      ');
}

function epilogue(d: GemmDesc, row: string, col: string, acc: string): string {
  let v = acc;
  if (d.bias) v = `${v} + ${biasAt(d, d.bias === 'row' ? row : col)}`;
  if (d.relu) v = `max(${v}, 0.0)`;
  return d.store(row, col, v);
}

/** The 'lanes' core (see the file comment); `t` = register tile. */
function lanesWgsl(d: GemmDesc, t: LanesTile): string {
  const L = t.l;
  const G = t.r / L;
  const { A, B } = d;
  // vector loads: along k (4 steps per loop iteration) or across this lane's rows / columns
  const aMode = A.vecK ? 'k' : A.vecI && G > 1 && G <= 4 && A.vecI.w === G ? 'i' : 's';
  const bMode = B.vecK ? 'k' : B.vecI && t.c > 1 && B.vecI.w === t.c ? 'i' : 's';
  const KU = aMode === 'k' || bMode === 'k' ? 4 : 1;
  const kAt = (j: number): KIdx => ({ k: j ? `(k + ${j}u)` : 'k', k0: 'k0', k1: 'k1', k2: 'k2' });
  // rows: with vecI a lane owns G consecutive rows (row r is in lane r / G, component r % G),
  // otherwise rows L*g + lane (row r is in lane r % L, register g = r / L)
  const rowSetup =
    aMode === 'i'
      ? `let ia = min(row0 + lane * ${G}u, M - ${G}u);\n  ${A.setup('ia', 'a')}`
      : range(G).map((g) => `let ia${g} = min(row0 + ${L * g}u + lane, M - 1u);\n  ${A.setup(`ia${g}`, `a${g}`)}`).join('\n  ');
  const colSetup =
    bMode === 'i'
      ? `let ib = min(col0, N - ${t.c}u);\n  ${B.setup('ib', 'b')}`
      : range(t.c).map((c) => `let ib${c} = min(col0 + ${c}u, N - 1u);\n  ${B.setup(`ib${c}`, `b${c}`)}`).join('\n  ');
  const comp = ['x', 'y', 'z', 'w'];
  const chunkLoads = [
    aMode === 'k' ? range(G).map((g) => `let qa${g} = ${A.vecK!(`a${g}`, kAt(0))};`).join('\n    ') : '',
    bMode === 'k' ? range(t.c).map((c) => `let qb${c} = ${B.vecK!(`b${c}`, kAt(0))};`).join('\n    ') : '',
  ].join('\n    ');
  const step = (j: number) => {
    const kid = kAt(j);
    const aLoads =
      aMode === 'k'
        ? range(G).map((g) => `let va${g} = qa${g}.${comp[j]};`)
        : aMode === 'i'
          ? [`let va = ${A.vecI!.load('a', kid)};`]
          : range(G).map((g) => `let va${g} = ${A.load(`a${g}`, kid)};`);
    const bLoads =
      bMode === 'k'
        ? range(t.c).map((c) => `let vb${c} = qb${c}.${comp[j]};`)
        : bMode === 'i'
          ? [`let qb = ${B.vecI!.load('b', kid)};`, ...range(t.c).map((c) => `let vb${c} = qb.${comp[c]};`)]
          : range(t.c).map((c) => `let vb${c} = ${B.load(`b${c}`, kid)};`);
    const fmas = range(t.r).map((r) => {
      const a =
        L === 1
          ? `va${r}`
          : aMode === 'i'
            ? `subgroupBroadcast(va.${comp[r % G]}, ${Math.floor(r / G)}u)`
            : `subgroupBroadcast(va${Math.floor(r / L)}, ${r % L}u)`;
      return `{ let a = ${a}; ${range(t.c).map((c) => `acc${r}_${c} += a * vb${c};`).join(' ')} }`;
    });
    // the K counters advance with selects, not branches (a branch would cost masking per lane)
    const advance = d.kSplit
      ? [
          'k2 += 1u; let w2 = k2 == K2; k2 = select(k2, 0u, w2); k1 = select(k1, k1 + 1u, w2);',
          'let w1 = k1 == K1; k1 = select(k1, 0u, w1); k0 = select(k0, k0 + 1u, w1);',
        ]
      : [];
    return `{\n      ${[...aLoads, ...bLoads, ...fmas, ...advance].join('\n      ')}\n    }`;
  };
  // epilogue as a loop over a private copy of the accumulators: one store site instead of R*C
  // (each lavapipe store expands to per-lane branches; unrolled, they dominated compile time)
  const vt = vecType(t.c);
  const stores = `var res: array<${vt}, ${t.r}>;
  ${range(t.r).map((r) => `res[${r}] = ${vt}(${range(t.c).map((c) => `acc${r}_${c}`).join(', ')});`).join('\n  ')}
  for (var r = 0u; r < ${t.r}u; r++) {
    let row = row0 + r;
    if (row < M) {
      let v = res[r];
      ${storeRow(d, 'row', 'col0', 'v', t.c)}
    }
  }`;
  return `${d.helpers ?? ''}
@compute @workgroup_size(${L * t.s})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${header(d, t.r)}
  let lane = ${L === 1 ? '0u' : `lid % ${L}u`};
  let row0 = ${rowBlockId(d)} * ${t.r}u;
  let col0 = (wid.x * ${t.s}u + lid / ${L}u) * ${L * t.c}u + lane * ${t.c}u;
  // rows / columns past M / N are clamped for loading and never stored
  ${rowSetup}
  ${colSetup}
  ${range(t.r).map((r) => range(t.c).map((c) => `var acc${r}_${c} = 0.0;`).join(' ')).join('\n  ')}
  ${d.kSplit ? 'var k0 = 0u; var k1 = 0u; var k2 = 0u;' : ''}
  for (var k = 0u; k < K; k += ${KU}u) {
    ${chunkLoads}
    ${range(KU).map(step).join('\n    ')}
  }
  ${stores}
}`;
}

/** Decode a linear k into k0/k1/k2 (tiled core; integer division is cheap enough on GPUs). */
function kDecode(d: GemmDesc, k: string): string {
  if (!d.kSplit) return '';
  return `let k12 = K1 * K2; let k0 = ${k} / k12; let kr = ${k} - k0 * k12; let k1 = kr / K2; let k2 = kr - k1 * K2;`;
}

/** Statements filling the workgroup tile `S` (k-major, 16 vec4 of 4 rows/cols per k) for operand `o`;
 * `isA`: rows are the operand's index. */
function tileLoad(d: GemmDesc, o: Operand, isA: boolean, S: string): string {
  const base = isA ? 'row0' : 'col0';
  const lim = isA ? 'M' : 'N';
  const kid: KIdx = { k: 'k', k0: 'k0', k1: 'k1', k2: 'k2' };
  if (o.fast === 'k' && o.vecK) {
    // 512 vec4 (4 consecutive k) per slice, 2 per invocation
    return `for (var e = li; e < 512u; e += 256u) { let q = e % 8u; let r = e / 8u; let i = ${base} + r; let k = t + q * 4u;
      var v = vec4<f32>(0.0);
      if (i < ${lim} && k < K) { ${kDecode(d, 'k')} ${o.setup('i', 'x')} v = ${o.vecK('x', kid)}; }
      ${range(4).map((c) => `${S}[(q * 4u + ${c}u) * 16u + (r >> 2u)][r & 3u] = v.${'xyzw'[c]};`).join(' ')} }`;
  }
  if (o.fast === 'i' && o.vecI?.w === 4) {
    // 512 vec4 (4 consecutive rows / columns) per slice, 2 per invocation
    return `for (var e = li; e < 512u; e += 256u) { let r4 = e % 16u; let kk = e / 16u; let i = ${base} + r4 * 4u; let k = t + kk;
      var v = vec4<f32>(0.0);
      if (i < ${lim} && k < K) { ${kDecode(d, 'k')} ${o.setup('i', 'x')} v = ${o.vecI.load('x', kid)}; }
      ${S}[kk * 16u + r4] = v; }`;
  }
  // 2048 scalars per slice, 8 per invocation; consecutive invocations walk the contiguous index
  // (loops rather than unrolled copies: a GPU compiler unrolls them, lavapipe compiles faster)
  const [r, kk] = o.fast === 'k' ? [`e / ${TK}u`, `e % ${TK}u`] : [`e % ${TILE}u`, `e / ${TILE}u`];
  return `for (var e = li; e < ${TILE * TK}u; e += 256u) { let r = ${r}; let kk = ${kk}; let i = ${base} + r; let k = t + kk;
      var v = 0.0;
      if (i < ${lim} && k < K) { ${kDecode(d, 'k')} ${o.setup('i', 'x')} v = ${o.load('x', kid)}; }
      ${S}[kk * 16u + (r >> 2u)][r & 3u] = v; }`;
}

/** The 'tiled' core (see the file comment). */
function tiledWgsl(d: GemmDesc): string {
  const stores = `let res = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var r = 0u; r < 4u; r++) {
    let row = row0 + ty4 + r;
    if (row < M) {
      let v = res[r];
      ${storeRow(d, 'row', 'col0 + tx4', 'v', 4)}
    }
  }`;
  return `${d.helpers ?? ''}
// slices: [k][16 vec4]; As vec4 j at k = rows 4j..4j+3, Bs vec4 j at k = cols 4j..4j+3
var<workgroup> As: array<vec4<f32>, ${TK * 16}>;
var<workgroup> Bs: array<vec4<f32>, ${TK * 16}>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  ${header(d, TILE)}
  let row0 = ${rowBlockId(d)} * ${TILE}u;
  let col0 = wid.x * ${TILE}u;
  let ty4 = lid.y * 4u;
  let tx4 = lid.x * 4u;
  var acc0 = vec4<f32>(0.0); var acc1 = vec4<f32>(0.0); var acc2 = vec4<f32>(0.0); var acc3 = vec4<f32>(0.0);
  for (var t = 0u; t < K; t += ${TK}u) {
    ${tileLoad(d, d.A, true, 'As')}
    ${tileLoad(d, d.B, false, 'Bs')}
    workgroupBarrier();
    for (var kk = 0u; kk < ${TK}u; kk++) {
      let a = As[kk * 16u + lid.y];
      let b = Bs[kk * 16u + lid.x];
      acc0 += a.x * b; acc1 += a.y * b; acc2 += a.z * b; acc3 += a.w * b;
    }
    workgroupBarrier();
  }
  ${stores}
}`;
}

/** WGSL type of a `w`-wide float vector (w = 1: f32). */
export function vecType(w: number): string {
  return w === 1 ? 'f32' : `vec${w}<f32>`;
}

/** Scalar element `idx` of an array declared with `w`-wide vectors. */
export function elem(name: string, idx: string, w: number): string {
  return w === 1 ? `${name}[${idx}]` : `${name}[(${idx}) / ${w}u][(${idx}) % ${w}u]`;
}

/** Widths the cores use for vector loads across rows (A) / columns (B); 1 = none. */
export function iWidths(choice: GemmChoice, m: number): { a: number; b: number } {
  if (choice.variant === 'tiled') return { a: 4, b: 4 };
  const t = lanesTile(choice, m);
  return { a: t.l === 1 ? 1 : t.r / t.l, b: t.c };
}

/** Width of vector stores for an M x N output (columns per lane / per thread), 1 = scalar. */
export function outWidth(choice: GemmChoice, m: number, n: number): number {
  const w = iWidths(choice, m).b;
  return w > 1 && n % w === 0 ? w : 1;
}

/** `store` / `storeVec` for a row-major output `name` at element offset `base` + row * N + col. */
export function rowMajorStore(name: string, base: string, w: number): Pick<GemmDesc, 'store' | 'storeVec'> {
  const idx = (row: string, col: string) => `${base} + ${row} * N + ${col}`;
  return {
    store: (row, col, v) => (w === 1 ? `${name}[${idx(row, col)}] = ${v};` : `${name}[(${idx(row, col)}) / ${w}u][(${idx(row, col)}) % ${w}u] = ${v};`),
    storeVec: w > 1 ? { w, store: (row, col, v) => `${name}[(${idx(row, col)}) / ${w}u] = ${v};` } : undefined,
  };
}

/** WGSL `enable`s the chosen design needs (for `defineKernel`'s `enables`). */
export function gemmEnables(choice: GemmChoice): string[] {
  return choice.variant === 'lanes' && (choice.lanesWidth ?? 8) > 1 ? ['subgroups'] : [];
}

/** Helpers and entry point of the chosen design for an M x N problem (`m` picks the lanes tile);
 * `op` names the kernel in the error raised when the adapter cannot run the design. */
export function gemmBody(op: string, choice: GemmChoice, d: GemmDesc, m: number, caps: Caps): string {
  if (choice.variant === 'tiled') return tiledWgsl(d);
  const t = lanesTile(choice, m);
  if (!lanesRunsOn(caps, t.s, t.l))
    throw new Error(
      `${op}: the 'lanes' GEMM design with ${t.s} subgroup(s) of ${t.l} per workgroup needs the 'subgroups' feature with ` +
        `subgroups of ${t.s > 1 ? 'exactly' : 'at least'} ${t.l} lanes (this adapter: ${caps.subgroups ? `${caps.subgroupMinSize}-${caps.subgroupMaxSize}` : 'none'}); use 'tiled' or a smaller lanesWidth`,
    );
  return lanesWgsl(d, t);
}

/** Spec fragment naming the design and its tile (the pipeline cache key must include it). */
export function gemmSpec(choice: GemmChoice, m: number): string {
  if (choice.variant === 'tiled') return 'tiled';
  const t = lanesTile(choice, m);
  return `lanes${t.r}x${t.c}x${t.s}${t.l === 8 ? '' : `w${t.l}`}`;
}
