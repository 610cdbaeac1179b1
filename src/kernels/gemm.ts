// The GEMM cores behind matmul and the implicit-GEMM convolutions:
//   out(z, row, col) = epilogue( sum_k A(z, row, k) * B(z, k, col) ),  row < M, col < N, k < K,
// where each operand is a small WGSL loader (`Operand`), so one core serves plain matmul (either
// operand in either orientation) and convolutions (im2col index math inside the loader; no im2col
// buffer). K may be split into three nested counters k = (k0 * K1 + k1) * K2 + k2 (conv taps).
// Independent GEMMs of the same size (convolution groups) can sit side by side on the grid's y
// (`grouped`): the header derives the group `grp` and the row block within it.
// A kernel file declares its bindings and uniforms through `defineKernel` (shader.ts) and writes
// its body with `gemmBody`; which design runs is in the params (`GemmChoice`), chosen by
// src/policy/gemm_choice.ts (the candidates an autotuner may time: src/policy/gemm_variants.ts).
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
//  'tiled' (hardware GPUs; the TF.js design, parameterised by `TileConfig`): a workgroup of
//     (BN/TN) x (BM/TM) invocations owns a BM x BN output tile, each invocation TM x TN outputs
//     (the default: 16x16 invocations x 4x4 outputs = a 64x64 tile); K goes in TK-deep slices
//     staged in workgroup memory (A slice stored k-major so a thread reads 4 of its rows as one
//     vec4; same for B's columns). An invocation owns the row quads ty, ty + BM/TM, ... and the
//     column quads tx, tx + BN/TN, ..., so neighbouring invocations read neighbouring vec4.
//     Options: vec4 global loads where the operand offers them (`vec4`); two slice buffers, the
//     next slice loaded while this one is computed, one barrier per slice (`double`); and A
//     register tiles shared across G-lane groups of a subgroup with subgroupShuffle instead of
//     workgroup memory (`sg` = G): the G invocations of a group own the same rows, lane p loads
//     the rows' values at k = t + p*TK/G .. (coalesced along K), and at each k every lane takes
//     them from the lane that loaded them.
//
// Split-K (both designs, `splitK` = S > 1): K is cut into S ranges of whole slices; workgroup x
// = tile column * S + range, and range s writes its partial sums where the store puts batch
// z' = s * Z + z (Z = workgroups along z), so an output indexed by z must hold S times its z
// extent: [S, Z, ...] partials, reduced by `splitKReduceKernel` (split_k_reduce.ts) in a fixed
// order (deterministic, no atomics). Partials take no bias / ReLU (the reduction applies them).
import type { Caps } from './kernel.ts';

/**
 * The two GEMM designs: 'lanes' (subgroup lanes sharing register tiles, for software adapters) and
 * 'tiled' (workgroup-memory tiles, for hardware GPUs).
 */
export type GemmVariant = 'lanes' | 'tiled';

/** Tile configuration of the 'tiled' design (see the file comment). */
export interface TileConfig {
  /** Workgroup tile: rows x columns of the output (64 or 128 each). */
  bm: number;
  bn: number;
  /** Outputs per invocation: rows x columns (4 or 8 each). Invocations = (bm / tm) * (bn / tn). */
  tm: number;
  tn: number;
  /** K slice depth staged per step (8, 16 or 32). */
  tk: number;
  /** Two slice buffers: the next slice is loaded while this one is computed (one barrier per slice). */
  double: boolean;
  /** Use the operands' vec4 loads (`vecK` / `vecI`) where they offer them; false: scalar loads only. */
  vec4: boolean;
  /** 0: A goes through workgroup memory. 4 or 8: A register tiles shared across groups of this many
   * lanes of one subgroup with subgroupShuffle (needs subgroups of at least that many lanes). */
  sg: number;
}

/** The 'tiled' configuration used when a choice names none (16x16 invocations x 4x4 outputs). */
export const DEFAULT_TILE: Readonly<TileConfig> = Object.freeze({ bm: 64, bn: 64, tm: 4, tn: 4, tk: 32, double: false, vec4: true, sg: 0 });

/** Most K ranges a split-K launch may use. */
export const MAX_SPLIT_K = 64;

/** The GEMM design of one launch; every GEMM kernel's params carry it. */
export interface GemmChoice {
  variant: GemmVariant;
  /** 'lanes' only: subgroups of 8 lanes per workgroup, side by side along the columns (default 1;
   * more than 1 needs subgroups of exactly 8). With `lanesWidth` below 8: groups of that many lanes. */
  lanesSubgroups?: number;
  /** 'lanes' only: lanes that share A values through subgroupBroadcast (default 8). 4 serves
   * adapters whose subgroups are 4 lanes (SwiftShader); 1 needs no subgroups at all (every lane
   * loads its own A values; Firefox offers no 'subgroups'). */
  lanesWidth?: LanesWidth;
  /** 'tiled' only: the tile configuration (default `DEFAULT_TILE`). */
  tile?: TileConfig;
  /** K ranges computed by separate workgroups into partial outputs (default 1 = no split; see the
   * file comment). The caller allocates the partials and reduces them. */
  splitK?: number;
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

/** The tile configuration of a 'tiled' choice. */
export function tileOf(choice: GemmChoice): Readonly<TileConfig> {
  return choice.tile ?? DEFAULT_TILE;
}

/** K ranges of a choice (1 = no split). */
export function splitOf(choice: GemmChoice): number {
  return choice.splitK ?? 1;
}

/** Bytes of workgroup memory a tile configuration declares. */
export function tileWorkgroupBytes(t: TileConfig): number {
  return (t.sg ? 0 : t.bm * t.tk * 4) * (t.double ? 2 : 1) + t.bn * t.tk * 4 * (t.double ? 2 : 1);
}

/** Why the adapter cannot run this tile configuration (empty: it can). The rules: sizes from the
 * supported sets; invocations within maxComputeInvocationsPerWorkgroup (SwiftShader in Chromium
 * allows 256); slice buffers within maxComputeWorkgroupStorageSize (16 KiB is the WebGPU default);
 * a subgroup-shared variant needs the 'subgroups' feature with subgroups of at least G lanes (its
 * G-lane groups must lie in one subgroup) and G dividing TK and the invocations per row. */
export function tileProblems(t: TileConfig, caps: Caps): string[] {
  const out: string[] = [];
  const inSet = (name: string, v: number, set: number[]) => {
    if (!set.includes(v)) out.push(`${name} must be one of ${set.join(', ')}, got ${v}`);
  };
  inSet('bm', t.bm, [16, 32, 64, 128]);
  inSet('bn', t.bn, [64, 128]);
  inSet('tm', t.tm, [4, 8]);
  inSet('tn', t.tn, [4, 8]);
  inSet('tk', t.tk, [8, 16, 32]);
  inSet('sg', t.sg, [0, 4, 8]);
  if (out.length) return out;
  const inv = (t.bm / t.tm) * (t.bn / t.tn);
  if (inv > caps.maxComputeInvocationsPerWorkgroup)
    out.push(`${inv} invocations per workgroup exceed maxComputeInvocationsPerWorkgroup ${caps.maxComputeInvocationsPerWorkgroup}`);
  const bytes = tileWorkgroupBytes(t);
  if (bytes > caps.maxComputeWorkgroupStorageSize)
    out.push(`${bytes} bytes of workgroup memory exceed maxComputeWorkgroupStorageSize ${caps.maxComputeWorkgroupStorageSize}`);
  if (t.sg) {
    if (!caps.subgroups || caps.subgroupMinSize < t.sg)
      out.push(`sg ${t.sg} needs subgroups of at least ${t.sg} lanes (this adapter: ${caps.subgroups ? `${caps.subgroupMinSize}-${caps.subgroupMaxSize}` : 'none'})`);
    if (t.tk % t.sg !== 0 || (t.bn / t.tn) % t.sg !== 0) out.push(`sg ${t.sg} must divide tk ${t.tk} and bn / tn ${t.bn / t.tn}`);
  }
  return out;
}

/** Why the adapter cannot run this choice (empty: it can). */
export function gemmProblems(choice: GemmChoice, caps: Caps): string[] {
  const out: string[] = [];
  const s = splitOf(choice);
  if (!Number.isInteger(s) || s < 1 || s > MAX_SPLIT_K) out.push(`splitK must be an integer in 1..${MAX_SPLIT_K}, got ${s}`);
  if (choice.variant === 'tiled') return [...out, ...tileProblems(tileOf(choice), caps)];
  if (choice.variant !== 'lanes') return [...out, `unknown GEMM variant ${String(choice.variant)}`];
  const n = choice.lanesSubgroups ?? 1;
  const w = choice.lanesWidth ?? 8;
  if (!Number.isInteger(n) || n < 1 || n > 8) out.push(`lanesSubgroups must be an integer in 1..8, got ${n}`);
  else if (!LANES_WIDTHS.includes(w)) out.push(`lanesWidth must be one of ${LANES_WIDTHS.join(', ')}, got ${w}`);
  else if (!lanesRunsOn(caps, n, w))
    out.push(
      `the 'lanes' design with ${n} group(s) of ${w} lanes per workgroup needs the 'subgroups' feature with subgroups of ` +
        `${n > 1 ? 'exactly' : 'at least'} ${w} lanes (this adapter: ${caps.subgroups ? `${caps.subgroupMinSize}-${caps.subgroupMaxSize}` : 'none'})`,
    );
  return out;
}

/** Whether the adapter can run this choice (`gemmProblems` says why not). */
export function gemmSupports(choice: GemmChoice, caps: Caps): boolean {
  return gemmProblems(choice, caps).length === 0;
}

/** K granule of a split: every range but the last is a whole number of these (the tiled slice;
 * 4 for lanes, whose vec4-along-K loads take 4 k per step). */
function splitGranule(choice: GemmChoice): number {
  return choice.variant === 'tiled' ? tileOf(choice).tk : 4;
}

/** K extent of each split range for a K-deep problem: range s covers [s * chunk, min(K, (s+1) * chunk)). */
export function splitKChunk(choice: GemmChoice, k: number): number {
  const g = splitGranule(choice);
  return Math.ceil(k / (splitOf(choice) * g)) * g;
}

export const TILE = DEFAULT_TILE.bm;

/** Workgroup counts [x, y] for an M x N problem (x includes the split-K ranges). */
export function gemmGroups(choice: GemmChoice, m: number, n: number): [number, number] {
  const s = splitOf(choice);
  if (choice.variant === 'tiled') {
    const t = tileOf(choice);
    return [Math.ceil(n / t.bn) * s, Math.ceil(m / t.bm)];
  }
  const t = lanesTile(choice, m);
  return [Math.ceil(n / (t.l * t.c * t.s)) * s, Math.ceil(m / t.r)];
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

/** Split-K lets: this workgroup's range `ks` of K, [kBegin, kEnd), and its tile column `wx`. */
function splitHeader(s: number, granule: number): string {
  return `let ks = wid.x % ${s}u;
  let wx = wid.x / ${s}u;
  let kc = (K + ${s * granule - 1}u) / ${s * granule}u * ${granule}u;
  let kBegin = ks * kc;
  let kEnd = min(K, kBegin + kc);`;
}

/** The stores of a split-K launch see z' = ks * Z + z (partial `ks` of batch z). */
function splitStores(s: number, stores: string): string {
  if (s === 1) return stores;
  return `let zs = ks * nwg.z + z;
  {
  let z = zs;
  ${stores}
  }`;
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

/** The 'lanes' core (see the file comment); `t` = register tile, `s` = split-K ranges. */
function lanesWgsl(d: GemmDesc, t: LanesTile, s: number): string {
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
  const split = s > 1;
  // a split range starts at kBegin (a multiple of 4, so vec4-along-K loads stay aligned) and its
  // K counters start decoded from it
  const counters = !d.kSplit
    ? ''
    : split
      ? 'var k0 = kBegin / (K1 * K2); var k1 = (kBegin - k0 * K1 * K2) / K2; var k2 = kBegin - (k0 * K1 + k1) * K2;'
      : 'var k0 = 0u; var k1 = 0u; var k2 = 0u;';
  return `${d.helpers ?? ''}
@compute @workgroup_size(${L * t.s})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32${split ? ', @builtin(num_workgroups) nwg: vec3<u32>' : ''}) {
  ${header(d, t.r)}
  ${split ? splitHeader(s, 4) : ''}
  let lane = ${L === 1 ? '0u' : `lid % ${L}u`};
  let row0 = ${rowBlockId(d)} * ${t.r}u;
  let col0 = (${split ? 'wx' : 'wid.x'} * ${t.s}u + lid / ${L}u) * ${L * t.c}u + lane * ${t.c}u;
  // rows / columns past M / N are clamped for loading and never stored
  ${rowSetup}
  ${colSetup}
  ${range(t.r).map((r) => range(t.c).map((c) => `var acc${r}_${c} = 0.0;`).join(' ')).join('\n  ')}
  ${counters}
  for (var k = ${split ? 'kBegin' : '0u'}; k < ${split ? 'kEnd' : 'K'}; k += ${KU}u) {
    ${chunkLoads}
    ${range(KU).map(step).join('\n    ')}
  }
  ${splitStores(s, stores)}
}`;
}

/** Decode a linear k into k0/k1/k2 (tiled core; integer division is cheap enough on GPUs). */
function kDecode(d: GemmDesc, k: string): string {
  if (!d.kSplit) return '';
  return `let k12 = K1 * K2; let k0 = ${k} / k12; let kr = ${k} - k0 * k12; let k1 = kr / K2; let k2 = kr - k1 * K2;`;
}

/** Where one operand's slice goes: `rows` rows/columns of the tile (BM for A, BN for B), stored
 * k-major as `rows / 4` vec4 per k in workgroup array `S` from element `off`. */
interface SliceTarget {
  S: string;
  /** '' or an offset expression followed by ' + ' (the buffer of a double-buffered slice) */
  off: string;
  rows: number;
}

/** Statements filling one K slice [start, start + TK) of the workgroup tile for operand `o`
 * (`isA`: rows are the operand's index); elements past M / N / the K range are zeros. The copies
 * walk the contiguous index across consecutive invocations (coalesced) in loops rather than
 * unrolled copies (a GPU compiler unrolls them, lavapipe compiles faster). */
function tileLoad(d: GemmDesc, o: Operand, isA: boolean, tc: TileConfig, tgt: SliceTarget, start: string, kHi: string): string {
  const base = isA ? 'row0' : 'col0';
  const lim = isA ? 'M' : 'N';
  const kid: KIdx = { k: 'k', k0: 'k0', k1: 'k1', k2: 'k2' };
  const nt = (tc.bm / tc.tm) * (tc.bn / tc.tn);
  const Q = tgt.rows / 4;
  const { S, off } = tgt;
  const tk = tc.tk;
  if (tc.vec4 && o.fast === 'k' && o.vecK) {
    // rows * TK / 4 vec4 (4 consecutive k) per slice
    return `for (var e = li; e < ${(tgt.rows * tk) / 4}u; e += ${nt}u) { let q = e % ${tk / 4}u; let r = e / ${tk / 4}u; let i = ${base} + r; let k = ${start} + q * 4u;
      var v = vec4<f32>(0.0);
      if (i < ${lim} && k < ${kHi}) { ${kDecode(d, 'k')} ${o.setup('i', 'x')} v = ${o.vecK('x', kid)}; }
      ${range(4).map((c) => `${S}[${off}(q * 4u + ${c}u) * ${Q}u + (r >> 2u)][r & 3u] = v.${'xyzw'[c]};`).join(' ')} }`;
  }
  if (tc.vec4 && o.fast === 'i' && o.vecI?.w === 4) {
    // rows / 4 * TK vec4 (4 consecutive rows / columns) per slice
    return `for (var e = li; e < ${Q * tk}u; e += ${nt}u) { let r4 = e % ${Q}u; let kk = e / ${Q}u; let i = ${base} + r4 * 4u; let k = ${start} + kk;
      var v = vec4<f32>(0.0);
      if (i < ${lim} && k < ${kHi}) { ${kDecode(d, 'k')} ${o.setup('i', 'x')} v = ${o.vecI.load('x', kid)}; }
      ${S}[${off}kk * ${Q}u + r4] = v; }`;
  }
  // rows * TK scalars per slice
  const [r, kk] = o.fast === 'k' ? [`e / ${tk}u`, `e % ${tk}u`] : [`e % ${tgt.rows}u`, `e / ${tgt.rows}u`];
  return `for (var e = li; e < ${tgt.rows * tk}u; e += ${nt}u) { let r = ${r}; let kk = ${kk}; let i = ${base} + r; let k = ${start} + kk;
      var v = 0.0;
      if (i < ${lim} && k < ${kHi}) { ${kDecode(d, 'k')} ${o.setup('i', 'x')} v = ${o.load('x', kid)}; }
      ${S}[${off}kk * ${Q}u + (r >> 2u)][r & 3u] = v; }`;
}

/** The 'tiled' core (see the file comment) for tile configuration `tc` and `s` split-K ranges. */
function tiledWgsl(d: GemmDesc, tc: TileConfig, s: number): string {
  const { bm, bn, tm, tn, tk, sg } = tc;
  const TX = bn / tn; // invocations along the columns (lid.x)
  const TY = bm / tm; // invocations along the rows (lid.y)
  const AQ = bm / 4; // vec4 per k in an A slice
  const BQ = bn / 4;
  const GA = tm / 4; // row quads per invocation: quad g*TY + ty holds rows 4(g*TY + ty) .. +3
  const HB = tn / 4; // column quads per invocation: quad h*TX + tx
  const split = s > 1;
  const kLo = split ? 'kBegin' : '0u';
  const kHi = split ? 'kEnd' : 'K';
  const dbl = tc.double;
  const aSize = tk * AQ;
  const bSize = tk * BQ;
  const accName = (r: number, h: number) => (HB === 1 ? `acc${r}` : `acc${r}_${h}`);
  const bName = (h: number) => (HB === 1 ? 'b' : `b${h}`);
  const aName = (g: number) => (GA === 1 ? 'a' : `a${g}`);
  const comp = ['x', 'y', 'z', 'w'];

  // ---- A through registers shared across G-lane groups (sg = G) ----
  // The G invocations li - p .. li - p + G - 1 (p = li % G) share lid.y (G divides TX), so they own
  // the same TM rows. Assumed, as by the lanes core: such an aligned group of consecutive
  // invocations lies in one subgroup as consecutive lanes (true of every implementation that
  // supports subgroups of >= G lanes, `tileProblems` checks the size). Lane p holds the rows'
  // values at k = t + p*KJ .. t + p*KJ + KJ - 1; the value at kk = q*KJ + j is lane q's register j.
  const G = sg;
  const KJ = sg ? tk / sg : 0;
  const aVec = sg > 0 && tc.vec4 && !!d.A.vecK && KJ % 4 === 0;
  const rowOf = (r: number) => `row0 + ${r >> 2}u * ${4 * TY}u + ty4 + ${r & 3}u`;
  let sgSetup = '';
  let sgLoad = (_start: string) => '';
  if (sg) {
    const kid: KIdx = { k: 'k', k0: 'k0', k1: 'k1', k2: 'k2' };
    const regs = aVec
      ? range(tm).map((r) => range(KJ / 4).map((j) => `var qa${r}_${j} = vec4<f32>(0.0);`).join(' '))
      : range(tm).map((r) => range(KJ).map((j) => `var qa${r}_${j} = 0.0;`).join(' '));
    sgSetup = `let sgp = li % ${G}u;
  let src0 = sgi - sgp;
  ${range(tm).map((r) => `let ar${r} = min(${rowOf(r)}, M - 1u);\n  ${d.A.setup(`ar${r}`, `r${r}`)}`).join('\n  ')}
  ${regs.join('\n  ')}`;
    sgLoad = (start) => {
      const per = aVec ? KJ / 4 : KJ;
      return range(per)
        .map((j) => {
          const k = `${start} + sgp * ${KJ}u + ${aVec ? 4 * j : j}u`;
          const zero = aVec ? 'vec4<f32>(0.0)' : '0.0';
          const loads = range(tm).map((r) => `qa${r}_${j} = ${aVec ? d.A.vecK!(`r${r}`, kid) : d.A.load(`r${r}`, kid)};`);
          return `{ let k = ${k}; if (k < ${kHi}) { ${kDecode(d, 'k')} ${loads.join(' ')} } else { ${range(tm).map((r) => `qa${r}_${j} = ${zero};`).join(' ')} } }`;
        })
        .join('\n    ');
    };
  }

  const aTgt = (off: string): SliceTarget => ({ S: 'As', off, rows: bm });
  const bTgt = (off: string): SliceTarget => ({ S: 'Bs', off, rows: bn });
  /** Loads of the slice starting at `start` into the buffers at offsets `aOff` / `bOff`. */
  const loadSlice = (start: string, aOff: string, bOff: string) =>
    [
      sg ? '' : tileLoad(d, d.A, true, tc, aTgt(aOff), start, kHi),
      tileLoad(d, d.B, false, tc, bTgt(bOff), start, kHi),
    ]
      .filter((x) => x)
      .join('\n    ');

  /** Multiply-adds of one slice read from the buffers at `ra` / `rb` (offset prefixes). */
  const compute = (ra: string, rb: string) => {
    const bLoads = range(HB).map((h) => `let ${bName(h)} = Bs[${rb}kk * ${BQ}u + ${h ? `${h * TX}u + ` : ''}lid.x];`);
    if (!sg) {
      const aLoads = range(GA).map((g) => `let ${aName(g)} = As[${ra}kk * ${AQ}u + ${g ? `${g * TY}u + ` : ''}lid.y];`);
      const fmas = range(tm).map((r) => range(HB).map((h) => `${accName(r, h)} += ${aName(r >> 2)}.${comp[r & 3]} * ${bName(h)};`).join(' '));
      return `for (var kk = 0u; kk < ${tk}u; kk++) {
      ${[...aLoads, ...bLoads].join('\n      ')}
      ${fmas.join(' ')}
    }`;
    }
    // kk = q * KJ + j: row r's value is lane (src0 + q)'s register qa{r}_{j} (component j % 4 when vec4)
    const steps = range(KJ).map((j) => {
      const shuffles = aVec
        ? j % 4 === 0
          ? range(tm).map((r) => `let sa${r}_${j >> 2} = subgroupShuffle(qa${r}_${j >> 2}, src);`)
          : []
        : range(tm).map((r) => `let sa${r}_${j} = subgroupShuffle(qa${r}_${j}, src);`);
      const aVal = (r: number) => (aVec ? `sa${r}_${j >> 2}.${comp[j & 3]}` : `sa${r}_${j}`);
      const fmas = range(tm).map((r) => range(HB).map((h) => `${accName(r, h)} += ${aVal(r)} * ${bName(h)};`).join(' '));
      return `${shuffles.join(' ')}
      { let kk = q * ${KJ}u + ${j}u;
      ${bLoads.join(' ')}
      ${fmas.join(' ')} }`;
    });
    return `for (var q = 0u; q < ${G}u; q++) {
      let src = src0 + q;
      ${steps.join('\n      ')}
    }`;
  };

  // ---- the K loop and its barriers ----
  let kLoop: string;
  if (!dbl) {
    // one buffer: every invocation writes its share of the slice, barrier (the slice is complete
    // before anyone reads it), everyone reads, barrier (all reads are done before the next
    // iteration overwrites the buffer)
    kLoop = `for (var t = ${kLo}; t < ${kHi}; t += ${tk}u) {
    ${sgLoad('t')}
    ${loadSlice('t', '', '')}
    workgroupBarrier();
    ${compute('', '')}
    workgroupBarrier();
  }`;
  } else {
    // two buffers, cbuf = the one read this iteration. The first slice goes into buffer 0 before the
    // loop, then a barrier. Iteration i writes slice i+1 into buffer 1 - cbuf while reading buffer cbuf,
    // then one barrier. Correct with one barrier per slice: buffer 1 - cbuf was last read in
    // iteration i-1, whose reads all precede the barrier that ended it (so no read races these
    // writes), and iteration i+1 reads it only after the barrier that ends iteration i (so it sees
    // every write). The condition skipping the last prefetch is uniform (t and kEnd are), and
    // every barrier is outside it.
    const off = (buf: string, size: number) => `${buf} * ${size}u + `;
    kLoop = `var cbuf = 0u;
  ${loadSlice(kLo, '', '')}
  workgroupBarrier();
  for (var t = ${kLo}; t < ${kHi}; t += ${tk}u) {
    let nbuf = 1u - cbuf;
    if (t + ${tk}u < ${kHi}) {
      let tnext = t + ${tk}u;
      ${loadSlice('tnext', off('nbuf', aSize), off('nbuf', bSize))}
    }
    ${sgLoad('t')}
    ${compute(off('cbuf', aSize), off('cbuf', bSize))}
    workgroupBarrier();
    cbuf = nbuf;
  }`;
  }

  // ---- epilogue: rows (g*TY + ty)*4 + c, column quads h*TX + tx ----
  const nAcc = tm * HB;
  const resList = range(tm).flatMap((r) => range(HB).map((h) => accName(r, h)));
  const rowExpr = tm === 4 ? 'row0 + ty4 + r' : `row0 + (r >> 2u) * ${4 * TY}u + ty4 + (r & 3u)`;
  const rowBody =
    HB === 1
      ? `let v = res[r];
      ${storeRow(d, 'row', 'col0 + tx4', 'v', 4)}`
      : `for (var h = 0u; h < ${HB}u; h++) {
        let v = res[r * ${HB}u + h];
        let col = col0 + h * ${4 * TX}u + tx4;
        ${storeRow(d, 'row', 'col', 'v', 4)}
      }`;
  const stores = `let res = array<vec4<f32>, ${nAcc}>(${resList.join(', ')});
  for (var r = 0u; r < ${tm}u; r++) {
    let row = ${rowExpr};
    if (row < M) {
      ${rowBody}
    }
  }`;
  const nbuf = dbl ? 2 : 1;
  const decls = [
    sg ? '' : `var<workgroup> As: array<vec4<f32>, ${nbuf * aSize}>;`,
    `var<workgroup> Bs: array<vec4<f32>, ${nbuf * bSize}>;`,
  ].filter((x) => x);
  const builtins = [
    '@builtin(workgroup_id) wid: vec3<u32>',
    '@builtin(local_invocation_id) lid: vec3<u32>',
    '@builtin(local_invocation_index) li: u32',
    ...(split ? ['@builtin(num_workgroups) nwg: vec3<u32>'] : []),
    ...(sg ? ['@builtin(subgroup_invocation_id) sgi: u32'] : []),
  ];
  return `${d.helpers ?? ''}
// slices: [k][${AQ === BQ ? `${AQ} vec4` : `${AQ} / ${BQ} vec4`}]; As vec4 j at k = rows 4j..4j+3, Bs vec4 j at k = cols 4j..4j+3
${decls.join('\n')}
@compute @workgroup_size(${TX}, ${TY})
fn main(${builtins[0]}, ${builtins[1]},
        ${builtins.slice(2).join(', ')}) {
  ${header(d, bm)}
  ${split ? splitHeader(s, tk) : ''}
  let row0 = ${rowBlockId(d)} * ${bm}u;
  let col0 = ${split ? 'wx' : 'wid.x'} * ${bn}u;
  let ty4 = lid.y * 4u;
  let tx4 = lid.x * 4u;
  ${resList.map((a) => `var ${a} = vec4<f32>(0.0);`).join(' ')}
  ${sgSetup}
  ${kLoop}
  ${splitStores(s, stores)}
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
  if (choice.variant === 'lanes') return (choice.lanesWidth ?? 8) > 1 ? ['subgroups'] : [];
  return choice.variant === 'tiled' && tileOf(choice).sg > 0 ? ['subgroups'] : [];
}

/** Helpers and entry point of the chosen design for an M x N problem (`m` picks the lanes tile);
 * `op` names the kernel in the error raised when the adapter cannot run the design. */
export function gemmBody(op: string, choice: GemmChoice, d: GemmDesc, m: number, caps: Caps): string {
  const problems = gemmProblems(choice, caps);
  if (problems.length) throw new Error(`${op}: the GEMM design ${gemmSpec(choice, m)} cannot run here: ${problems.join('; ')}`);
  const s = splitOf(choice);
  if (s > 1 && (d.bias || d.relu))
    throw new Error(`${op}: split-K partial sums take no bias or ReLU (apply them when reducing the partials)`);
  if (choice.variant === 'tiled') return tiledWgsl(d, tileOf(choice), s);
  return lanesWgsl(d, lanesTile(choice, m), s);
}

/** Name of a tile configuration ('' for the default). */
export function tileName(t: TileConfig): string {
  const d = DEFAULT_TILE;
  if (t.bm === d.bm && t.bn === d.bn && t.tm === d.tm && t.tn === d.tn && t.tk === d.tk && t.double === d.double && t.vec4 === d.vec4 && t.sg === d.sg)
    return '';
  return `${t.bm}x${t.bn}/${t.tm}x${t.tn}/k${t.tk}${t.double ? '/db' : ''}${t.vec4 ? '' : '/scalar'}${t.sg ? `/sg${t.sg}` : ''}`;
}

/** Spec fragment naming the design and its tile (the pipeline cache key must include it). */
export function gemmSpec(choice: GemmChoice, m: number): string {
  const s = splitOf(choice);
  const sk = s > 1 ? `/splitk${s}` : '';
  if (choice.variant === 'tiled') {
    const n = tileName(tileOf(choice));
    return `tiled${n ? `:${n}` : ''}${sk}`;
  }
  const t = lanesTile(choice, m);
  return `lanes${t.r}x${t.c}x${t.s}${t.l === 8 ? '' : `w${t.l}`}${sk}`;
}
