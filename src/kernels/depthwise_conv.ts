// Depthwise 2-D convolution (groups = Cin = Cout: one KH x KW filter per channel) as direct window
// sums, forward and both backwards; the GEMM core would run it as Cin GEMMs of one row each.
// x: [B, C, H, W]; w: [C, 1, KH, KW]; y: [B, C, OH, OW]; plane = b * C + c, channel c = plane % C.
//   forward:      y[plane, oy, ox] = sum_(ky, kx) w[c, ky, kx] * x[plane, oy sh + ky dh - ph, ox sw + kx dw - pw]
//                 (+ bias[c]) (ReLU); taps outside the input are zero padding.
//   input grad:   gx[plane, iy, ix] = sum_(ky, kx) w[c, ky, kx] * g[plane, oy, ox] over the taps with
//                 iy = oy sh + ky dh - ph (and the same for x) for an output (oy, ox) inside the map.
//   weight grad:  gw[c, ky, kx] = sum_(b, oy, ox) g[b, c, oy, ox] * x[b, c, oy sh + ky dh - ph, ox sw + kx dw - pw],
//                 one workgroup per (batch split, channel, window row ky): lanes split the output
//                 positions (by rows on software adapters, flattened on GPUs), keep KW partial
//                 sums each (the code grows with KW, not KH * KW: with all 49 sums of a 7x7 window
//                 one kernel compiled in 10 s on lavapipe) and add them in workgroup memory
//                 (halving steps); with S splits the result is [S, C, KH, KW] partial sums the
//                 caller adds over S.
// Every sum takes the taps in row-major (ky, kx) order (the CPU twins' order); the window, stride,
// padding and dilation are baked into the WGSL, the sizes are uniforms. The forward and input grad
// run over stream.ts's row layouts ('rows' on software adapters: the plane, hence the channel and
// its weights, is workgroup-uniform there; 'flat' on GPUs).
import type { Caps, NumArray } from './kernel.ts';
import { type UField, defineKernel, read, rw, u32 } from './shader.ts';
import type { Conv2dGeom } from './conv2d.ts';
import { type RowLayout, rowGroups, rowLayout, rowLayoutKey, rowsMain } from './stream.ts';

/** Params of {@link depthwiseConvKernel} and {@link depthwiseInputGradKernel}. */
export interface DepthwiseParams extends Conv2dGeom {
  /** forward: a bias binding (length C) follows w */
  bias?: boolean;
  /** forward: ReLU on the output */
  relu?: boolean;
  /** launch layout (default: the adapter's, see stream.ts) */
  layout?: RowLayout;
}

/** Params of {@link depthwiseWeightGradKernel}: the batch in `splits` consecutive runs of `bPer` images. */
export interface DepthwiseWeightGradParams extends Conv2dGeom {
  /** images per split; the output holds ceil(batch / bPer) partial sums */
  bPer: number;
  /** invocations per workgroup (a power of two) */
  wg: number;
  /** how lanes split an image's outputs: 'rows' (software adapters): output rows in turn, lanes
   * along each row (no per-lane division); 'flat': lanes over the flattened OH * OW positions */
  walk: 'rows' | 'flat';
}

/** Largest window the kernels take (their unrolled taps and, in the weight gradient, KH * KW
 * accumulators per lane). */
export const DEPTHWISE_MAX_TAPS = 49;

/** Why these params cannot run as a depthwise convolution (null: they can). */
export function depthwiseProblem(g: Conv2dGeom): string | null {
  if (g.groups < 2 || g.groups !== g.cin || g.cout !== g.cin) return `groups = in channels = out channels >= 2, got groups ${g.groups}, ${g.cin} -> ${g.cout}`;
  if (g.kh * g.kw > DEPTHWISE_MAX_TAPS) return `a window of at most ${DEPTHWISE_MAX_TAPS} taps, got ${g.kh}x${g.kw}`;
  return null;
}
function check(op: string, g: Conv2dGeom): void {
  const problem = depthwiseProblem(g);
  if (problem) throw new Error(`${op}: needs ${problem}`);
}

const rng = (n: number) => [...Array(n).keys()];
const taps = (g: Conv2dGeom) => rng(g.kh).flatMap((ky) => rng(g.kw).map((kx) => [ky, kx] as const));
const windowKey = (g: Conv2dGeom) => `k${g.kh}x${g.kw}s${g.sh}x${g.sw}p${g.ph}x${g.pw}d${g.dh}x${g.dw}`;
const layoutOf = (p: DepthwiseParams, caps: Caps) => p.layout ?? rowLayout(caps);
const sizes = (g: Conv2dGeom): UField[] => [u32('n', g.batch * g.cin), u32('c', g.cin), u32('h', g.h), u32('w', g.w), u32('oh', g.oh), u32('ow', g.ow)];

/** CPU twins: the flat index into x of plane pl's input under output (oy, ox) at tap (ky, kx),
 * or -1 where the tap falls on the zero padding. */
function tapAt(p: Conv2dGeom, pl: number, oy: number, ox: number, ky: number, kx: number): number {
  const iy = oy * p.sh + ky * p.dh - p.ph;
  const ix = ox * p.sw + kx * p.dw - p.pw;
  return iy >= 0 && iy < p.h && ix >= 0 && ix < p.w ? (pl * p.h + iy) * p.w + ix : -1;
}

/**
 * Depthwise convolution forward. Bindings: `x [B, C, H, W]`, `wt [C, 1, KH, KW]`, optional
 * `bias [C]`, `y [B, C, OH, OW]` (rw).
 */
export const depthwiseConvKernel = defineKernel<DepthwiseParams>({
  name: 'depthwise_conv',
  spec: (p, caps) => `${windowKey(p)}${p.bias ? '+b' : ''}${p.relu ? '+relu' : ''}:${rowLayoutKey(layoutOf(p, caps))}`,
  // x [B,C,H,W], wt [C,1,KH,KW], bias [C], y [B,C,OH,OW]
  storage: (p) => [read('x'), read('wt'), ...(p.bias ? [read('bias')] : []), rw('y')],
  uniforms: sizes,
  dispatch: (p, caps) => rowGroups(layoutOf(p, caps), p.batch * p.cin * p.oh, p.ow),
  body: (p, caps) => {
    check('depthwise_conv', p);
    // rows of the window: one bounds check per row, then its columns; u32 wrap-around makes a
    // negative index fail the `< size` test
    const rows = rng(p.kh).map((ky) => {
      const cols = rng(p.kw).map((kx) => {
        const t = ky * p.kw + kx;
        return `let ix${t} = rx * ${p.sw}u + ${kx * p.dw}u - ${p.pw}u;
        if (ix${t} < u.w) { acc += x[xr + ix${t}] * wt[wb + ${t}u]; }`;
      });
      return `{ let iy = ry * ${p.sh}u + ${ky * p.dh}u - ${p.ph}u;
      if (iy < u.h) {
        let xr = xb + iy * u.w;
        ${cols.join('\n        ')}
      } }`;
    });
    const out = `${p.bias ? 'acc + bias[ch]' : 'acc'}`;
    return rowsMain(layoutOf(p, caps), 'u.n', 'u.oh', 'u.ow', `
      let ch = plane % u.c;
      let xb = plane * u.h * u.w;
      let wb = ch * ${p.kh * p.kw}u;
      var acc = 0.0;
      ${rows.join('\n      ')}
      y[o] = ${p.relu ? `max(${out}, 0.0)` : out};`);
  },
  cpu: (p, bufs: NumArray[]) => {
    const [x, w] = bufs;
    const bias = p.bias ? bufs[2] : null;
    const y = bufs[p.bias ? 3 : 2];
    let o = 0;
    for (let pl = 0; pl < p.batch * p.cin; pl++) {
      const ch = pl % p.cin;
      for (let oy = 0; oy < p.oh; oy++)
        for (let ox = 0; ox < p.ow; ox++, o++) {
          let acc = 0;
          for (const [ky, kx] of taps(p)) {
            const i = tapAt(p, pl, oy, ox, ky, kx);
            if (i >= 0) acc += x[i] * w[ch * p.kh * p.kw + ky * p.kw + kx];
          }
          if (bias) acc += bias[ch];
          y[o] = p.relu ? Math.max(acc, 0) : acc;
        }
    }
  },
});

/**
 * Depthwise convolution's input gradient. Bindings: `wt [C, 1, KH, KW]`, `g [B, C, OH, OW]`,
 * `gx [B, C, H, W]` (rw).
 */
export const depthwiseInputGradKernel = defineKernel<DepthwiseParams>({
  name: 'depthwise_conv_dx',
  spec: (p, caps) => `${windowKey(p)}:${rowLayoutKey(layoutOf(p, caps))}`,
  // wt [C,1,KH,KW], g [B,C,OH,OW], gx [B,C,H,W]
  storage: () => [read('wt'), read('g'), rw('gx')],
  uniforms: sizes,
  dispatch: (p, caps) => rowGroups(layoutOf(p, caps), p.batch * p.cin * p.h, p.w),
  body: (p, caps) => {
    check('depthwise_conv_dx', p);
    // output row of input row ry at tap ky: (ry + ph - ky dh) / sh where that divides and lands
    // inside the map (u32 wrap-around: a negative numerator is huge, its quotient past OH)
    const axis = (v: string, k: number, s: number, d: number, pad: number, size: string) => {
      const num = `${v} + ${pad}u - ${k * d}u`;
      return s === 1
        ? { let: `let t = ${num};`, ok: `t < ${size}`, idx: 't' }
        : { let: `let n = ${num}; let t = n / ${s}u;`, ok: `n % ${s}u == 0u && t < ${size}`, idx: 't' };
    };
    const rows = rng(p.kh).map((ky) => {
      const a = axis('ry', ky, p.sh, p.dh, p.ph, 'u.oh');
      const cols = rng(p.kw).map((kx) => {
        const t = ky * p.kw + kx;
        const b = axis('rx', kx, p.sw, p.dw, p.pw, 'u.ow');
        return `{ ${b.let}
          if (${b.ok}) { acc += g[gr + ${b.idx}] * wt[wb + ${t}u]; } }`;
      });
      return `{ ${a.let}
      if (${a.ok}) {
        let gr = gb + ${a.idx} * u.ow;
        ${cols.join('\n        ')}
      } }`;
    });
    return rowsMain(layoutOf(p, caps), 'u.n', 'u.h', 'u.w', `
      let ch = plane % u.c;
      let gb = plane * u.oh * u.ow;
      let wb = ch * ${p.kh * p.kw}u;
      var acc = 0.0;
      ${rows.join('\n      ')}
      gx[o] = acc;`);
  },
  cpu: (p, [w, g, gx]: NumArray[]) => {
    // the same taps in the same order as the WGSL: for each (ky, kx), the output that reads this input there
    const back = (i: number, k: number, s: number, d: number, pad: number, size: number) => {
      const n = i + pad - k * d;
      return n >= 0 && n % s === 0 && n / s < size ? n / s : -1;
    };
    let i = 0;
    for (let pl = 0; pl < p.batch * p.cin; pl++) {
      const ch = pl % p.cin;
      for (let iy = 0; iy < p.h; iy++)
        for (let ix = 0; ix < p.w; ix++, i++) {
          let acc = 0;
          for (const [ky, kx] of taps(p)) {
            const oy = back(iy, ky, p.sh, p.dh, p.ph, p.oh);
            const ox = back(ix, kx, p.sw, p.dw, p.pw, p.ow);
            if (oy >= 0 && ox >= 0) acc += g[(pl * p.oh + oy) * p.ow + ox] * w[ch * p.kh * p.kw + ky * p.kw + kx];
          }
          gx[i] = acc;
        }
    }
  },
});

/** Batch splits of the weight gradient. */
export const depthwiseSplits = (p: { batch: number; bPer: number }) => Math.max(1, Math.ceil(p.batch / p.bPer));

/**
 * Depthwise convolution's weight gradient, partial sums per batch split. Bindings: `x [B, C, H, W]`,
 * `g [B, C, OH, OW]`, `gw [S, C, KH, KW]` (rw; S = ceil(B / bPer)).
 */
export const depthwiseWeightGradKernel = defineKernel<DepthwiseWeightGradParams>({
  name: 'depthwise_conv_dw',
  spec: (p) => `${windowKey(p)}:wg${p.wg}:${p.walk}`,
  // x [B,C,H,W], g [B,C,OH,OW], gw [S,C,KH,KW]
  storage: () => [read('x'), read('g'), rw('gw')],
  uniforms: (p) => [...sizes(p), u32('batch', p.batch), u32('bPer', p.bPer), u32('groups', depthwiseSplits(p) * p.cin * p.kh)],
  // workgroup = (split * C + channel) * KH + window row
  dispatch: (p) => depthwiseSplits(p) * p.cin * p.kh,
  body: (p) => {
    check('depthwise_conv_dw', p);
    const pow2 = Number.isInteger(p.wg) && p.wg >= 1 && (p.wg & (p.wg - 1)) === 0;
    if (!pow2) throw new Error(`depthwise_conv_dw: the workgroup size must be a power of two, got ${p.wg}`);
    const KW = rng(p.kw);
    // one window row (ky, workgroup-uniform): KW sums per lane, whatever the window's height
    const cols = KW.map((kx) => `let ix${kx} = ox * ${p.sw}u + ${kx * p.dw}u - ${p.pw}u;
        if (ix${kx} < u.w) { a${kx} += gv * x[xr + ix${kx}]; }`).join('\n        ');
    const walk =
      p.walk === 'flat'
        ? `for (var q = lidx; q < u.oh * u.ow; q += ${p.wg}u) {
      let oy = q / u.ow;
      let ox = q % u.ow;
      let iy = oy * ${p.sh}u + ky * ${p.dh}u - ${p.ph}u;
      if (iy < u.h) {
        let gv = g[gb + q];
        let xr = xb + iy * u.w;
        ${cols}
      }
    }`
        : `for (var oy = 0u; oy < u.oh; oy++) {
      let iy = oy * ${p.sh}u + ky * ${p.dh}u - ${p.ph}u;
      if (iy >= u.h) { continue; }  // a padding row: no tap of this window row reads the input
      let xr = xb + iy * u.w;
      for (var ox = lidx; ox < u.ow; ox += ${p.wg}u) {
        let gv = g[gb + oy * u.ow + ox];
        ${cols}
      }
    }`;
    return `
var<workgroup> part: array<f32, ${p.kw * p.wg}>;
@compute @workgroup_size(${p.wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lidx: u32) {
  let gi = wid.y * nwg.x + wid.x;  // workgroup-uniform, so the barriers below are too (gi >= u.groups: grid padding)
  let ky = gi % ${p.kh}u;
  let sc = gi / ${p.kh}u;  // split * C + channel
  let ch = sc % u.c;
  let b0 = (sc / u.c) * u.bPer;
  let b1 = min(b0 + u.bPer, u.batch);
  ${KW.map((kx) => `var a${kx} = 0.0;`).join(' ')}
  for (var b = b0; b < b1; b++) {
    let plane = b * u.c + ch;
    let xb = plane * u.h * u.w;
    let gb = plane * u.oh * u.ow;
    ${walk}
  }
  ${KW.map((kx) => `part[${kx * p.wg}u + lidx] = a${kx};`).join(' ')}
  for (var s = ${p.wg >> 1}u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lidx < s) {
      ${KW.map((kx) => `part[${kx * p.wg}u + lidx] += part[${kx * p.wg}u + lidx + s];`).join('\n      ')}
    }
  }
  if (lidx == 0u && gi < u.groups) {
    let ob = gi * ${p.kw}u;  // [S, C, KH, KW]: (split * C + channel) * KH * KW + ky * KW
    ${KW.map((kx) => `gw[ob + ${kx}u] = part[${kx * p.wg}u];`).join('\n    ')}
  }
}`;
  },
  cpu: (p, [x, g, gw]: NumArray[]) => {
    const K = p.kh * p.kw;
    for (let s = 0; s < depthwiseSplits(p); s++)
      for (let ch = 0; ch < p.cin; ch++) {
        const acc = new Array<number>(K).fill(0);
        for (let b = s * p.bPer; b < Math.min(p.batch, (s + 1) * p.bPer); b++) {
          const pl = b * p.cin + ch;
          for (let oy = 0; oy < p.oh; oy++)
            for (let ox = 0; ox < p.ow; ox++) {
              const gv = g[(pl * p.oh + oy) * p.ow + ox];
              for (const [ky, kx] of taps(p)) {
                const i = tapAt(p, pl, oy, ox, ky, kx);
                if (i >= 0) acc[ky * p.kw + kx] += gv * x[i];
              }
            }
        }
        for (let t = 0; t < K; t++) gw[(s * p.cin + ch) * K + t] = acc[t];
      }
  },
});
