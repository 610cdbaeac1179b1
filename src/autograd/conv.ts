// conv2d and linear with PyTorch semantics, on the implicit-GEMM / GEMM kernels.
// conv2d: x [B, Cin, H, W], w [Cout, Cin/G, KH, KW], bias [Cout] -> [B, Cout, OH, OW] with stride,
// zero padding, dilation and G channel groups (torch.nn.functional.conv2d; optional fused ReLU).
// Depthwise layers (groups = Cin = Cout) run as direct window sums instead (depthwise_conv.ts).
// Backward: dW and dX are implicit GEMMs (conv2d_backward.ts); with few input channels per group
// and several times as many output channels (conv1: 1 -> 96) dX goes through a column-gradient
// GEMM + col2im, a chunk of images at a time; dBias is a reduction. Which path serves a geometry:
// src/policy/conv_choice.ts. The raw gradient functions are public too (conv2dInputGrad /
// conv2dWeightGrad, like torch.nn.grad.conv2d_input / conv2d_weight).
// Activations larger than the adapter's maxStorageBufferBindingSize are refused with an error that
// names the op and the largest batch that fits (no automatic batch splitting).
// linear: x [..., in], w [out, in], bias [out] -> x @ w^T + bias, using the transB kernel variant
// (no transposed copy of w); backward uses the NN and TN variants.
import type { Tensor } from '../tensor/tensor.ts';
import { empty, launch, sameDevice } from '../tensor/launch.ts';
import { permute, reduce, requireFloat } from '../tensor/raw.ts';
import { binary, unary } from './pointwise.ts';
import { checkShape, fmt, numel, type Shape } from '../tensor/shape.ts';
import { deviceCaps } from '../backend/device.ts';
import { MAX_WG_PER_DIM } from '../kernels/kernel.ts';
import { type Conv2dGeom, cinPer, conv2dKernel, convOutSize, coutPer } from '../kernels/conv2d.ts';
import { gemmGroups } from '../kernels/gemm.ts';
import {
  conv2dInputGradKernel,
  conv2dWeightGradKernel,
  inputGradClasses,
  weightTransposeKernel,
  type Conv2dWeightGradParams,
} from '../kernels/conv2d_backward.ts';
import { col2imKernel, conv2dColGradKernel } from '../kernels/conv2d_col.ts';
import { im2colKernel, weightFlipKernel } from '../kernels/im2col.ts';
import { colGradChunk, depthwiseWeightGradGeom, useColGrad, useDepthwise, weightGradBPer } from '../policy/conv_choice.ts';
import { depthwiseConvKernel, depthwiseInputGradKernel, depthwiseSplits, depthwiseWeightGradKernel } from '../kernels/depthwise_conv.ts';
import { tunedConvGemm, tunedSmallMaps } from './tuning_families.ts';
import { Function } from './function.ts';
import { checkOptions } from '../backend/options.ts';
import { checkBindingSize, gemmFor, mm } from './matmul_op.ts';

/** Options of {@link conv2d} (the geometry of torch.nn.functional.conv2d, plus a fused ReLU). */
export interface Conv2dOptions {
  /** Stride per axis (a number applies to both). Default 1. */
  stride?: number | readonly [number, number];
  /** Zero padding per axis. Default 0. */
  padding?: number | readonly [number, number];
  /** Spacing between kernel taps per axis (tap kh reads row oh*sh + kh*dh - ph). Default 1. */
  dilation?: number | readonly [number, number];
  /** Channel groups: Cin and Cout are multiples of it, the weight is [Cout, Cin/groups, KH, KW],
   * and output channel group g sees input channel group g only (groups = Cin: depthwise). Default 1. */
  groups?: number;
  /** Apply ReLU to the output in the same kernel. Default false. */
  relu?: boolean;
}

const CONV2D_KEYS = ['stride', 'padding', 'dilation', 'groups', 'relu'] as const;

function pair(op: string, name: string, v: number | readonly [number, number] | undefined, dflt: number, min: number): [number, number] {
  const p: readonly unknown[] = v === undefined ? [dflt, dflt] : typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(p) || p.length !== 2 || !p.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= min))
    throw new Error(`${op}: ${name} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(v)}`);
  return [p[0] as number, p[1] as number];
}

/** Validate conv2d arguments (before any GPU work) and return the geometry. */
function conv2dGeom(x: Tensor, w: Tensor, bias: Tensor | null | undefined, o: Conv2dOptions = {}): Conv2dGeom {
  const op = 'conv2d';
  checkOptions(op, o, CONV2D_KEYS);
  requireFloat(op, ...(bias ? [x, w, bias] : [x, w]));
  sameDevice(op, bias ? [x, w, bias] : [x, w]);
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== w.shape[0]))
    throw new Error(`${op}: expected bias of shape [${w.shape[0]}], got ${fmt(bias.shape)}`);
  return geomOf(op, x.shape, w.shape, o, x.device);
}

/** Geometry from the input and weight shapes, validated; checks binding sizes on the GPU. */
function geomOf(op: string, xs: Shape, ws: Shape, o: Conv2dOptions, device: string): Conv2dGeom {
  checkOptions(op, o, CONV2D_KEYS);
  if (xs.length !== 4) throw new Error(`${op}: expected input x of shape [B, Cin, H, W], got ${fmt(xs)}`);
  if (ws.length !== 4) throw new Error(`${op}: expected weight of shape [Cout, Cin/groups, KH, KW], got ${fmt(ws)}`);
  const groups = o.groups ?? 1;
  if (typeof groups !== 'number' || !Number.isInteger(groups) || groups < 1)
    throw new Error(`${op}: non-positive groups is not supported: groups must be a positive integer, got ${String(groups)}`);
  const [batch, cin, h, wd] = xs;
  const [cout, cinPerGroup, kh, kw] = ws;
  if (groups === 1 && cin !== cinPerGroup)
    throw new Error(`${op}: input has ${cin} channels but the weight expects ${cinPerGroup} (x ${fmt(xs)}, w ${fmt(ws)})`);
  if (cout % groups !== 0)
    throw new Error(`${op}: Given groups=${groups}, expected weight to be divisible by ${groups} at dimension 0, but got weight of size ${fmt(ws)} instead`);
  if (cin !== cinPerGroup * groups)
    throw new Error(`${op}: Given groups=${groups}, weight of size ${fmt(ws)}, expected input ${fmt(xs)} to have ${cinPerGroup * groups} channels, but got ${cin} channels instead`);
  const [sh, sw] = pair(op, 'stride', o.stride, 1, 1);
  const [ph, pw] = pair(op, 'padding', o.padding, 0, 0);
  const [dh, dw] = pair(op, 'dilation', o.dilation, 1, 1);
  if (kh === 0 || kw === 0 || cout === 0) throw new Error(`${op}: empty weight ${fmt(ws)}`);
  // the dilated kernel's extent
  const [eh, ew] = [dh * (kh - 1) + 1, dw * (kw - 1) + 1];
  if (h + 2 * ph < eh || wd + 2 * pw < ew)
    throw new Error(
      `${op}: kernel ${kh}x${kw}${eh !== kh || ew !== kw ? ` (dilated ${eh}x${ew})` : ''} is larger than the padded input ` +
        `${h + 2 * ph}x${wd + 2 * pw} (x ${fmt(xs)}, padding ${ph},${pw})`,
    );
  const g: Conv2dGeom = {
    batch, cin, h, w: wd, cout, kh, kw, sh, sw, ph, pw, dh, dw, groups,
    oh: convOutSize(h, kh, sh, ph, dh),
    ow: convOutSize(wd, kw, sw, pw, dw),
  };
  if (device === 'gpu') {
    if (batch > MAX_WG_PER_DIM) throw new Error(`${op}: batch ${batch} exceeds ${MAX_WG_PER_DIM}`);
    if (groups > 1) checkGroupGrid(op, g);
    // per-image bytes of the larger activation -> the batch that would fit
    const per = Math.max(cin * h * wd, cout * g.oh * g.ow) * 4;
    const hint = `use a batch of at most ${Math.floor(deviceCaps().maxStorageBufferBindingSize / per)}`;
    checkBindingSize(op, 'input', xs, 'gpu', hint);
    checkBindingSize(op, 'output', [batch, cout, g.oh, g.ow], 'gpu', hint);
  }
  return g;
}

/** The grouped GEMMs put the groups side by side on the grid's y (groups x row blocks of one
 * group's GEMM): throws naming the op when a launch would exceed the grid's limit. */
function checkGroupGrid(op: string, g: Conv2dGeom): void {
  const gemm = gemmFor(op, 'gpu');
  const kk = g.kh * g.kw;
  // rows of the forward / weight-gradient (Cout/G), class (Cin/G) and column-gradient (Cin/G*KH*KW) GEMMs
  const rows = Math.max(coutPer(g), useColGrad(g) ? cinPer(g) * kk : cinPer(g));
  const y = gemmGroups(gemm, rows, 1)[1] * g.groups;
  if (y > MAX_WG_PER_DIM)
    throw new Error(`${op}: groups=${g.groups} with ${rows} GEMM rows per group needs ${y} workgroup rows, more than ${MAX_WG_PER_DIM}`);
}

function checkGrad(op: string, gy: Tensor, g: Conv2dGeom): void {
  const want = [g.batch, g.cout, g.oh, g.ow];
  if (gy.ndim !== 4 || gy.shape.some((d, i) => d !== want[i]))
    throw new Error(`${op}: expected grad_output of shape ${fmt(want)}, got ${fmt(gy.shape)}`);
}

/** Raw input gradient (torch.nn.grad.conv2d_input): dX [B, Cin, H, W] for weight w and output
 * gradient gy [B, Cout, OH, OW]; `inputShape` = x's shape. Not recorded by autograd. */
export function conv2dInputGrad(inputShape: readonly number[], w: Tensor, gy: Tensor, o: Conv2dOptions = {}): Tensor {
  const op = 'conv2dInputGrad';
  checkOptions(op, o, CONV2D_KEYS);
  checkShape(op, inputShape);
  requireFloat(op, w, gy);
  sameDevice(op, [w, gy]);
  const g = geomOf(op, inputShape, w.shape, o, w.device);
  checkGrad(op, gy, g);
  return inputGrad(g, w, gy);
}

// ---- small feature maps: explicit im2col + plain GEMMs over the whole batch ----
// On maps of a few pixels (AlexNet's 3x3 / 7x7 at small inputs) the implicit GEMMs waste most of a
// tile (N = OH*OW per image: 9 columns in a 16- or 64-wide tile) and load every input element with
// a padding check. There the im2col buffer is small, so it is built explicitly (colT [B*OH*OW,
// Cin*KH*KW]) and the convolution becomes matmuls whose operands load as contiguous vec4:
//   forward  y^T [B*OH*OW, Cout] = colT @ W^T (+ bias, ReLU fused), then one permute to NCHW;
//   dW       [Cout, K] = dY^T [Cout, B*OH*OW] @ col^T (col = colT^T, built K-major);
//   dX       (stride 1) = the forward of dY with the flipped, transposed weight and padding K-1-P.
// Which geometries take it: `useSmallMaps` in src/policy/conv_choice.ts (GPU only), and among
// those the autotuner's pick where it is on (tuning_families.ts).

function smallMaps(g: Conv2dGeom, device: string): boolean {
  return tunedSmallMaps(g, device);
}

/** colT [B*OH*OW, K] or (kMajor) col [K, B*OH*OW], K = Cin*KH*KW. */
function im2col(g: Conv2dGeom, x: Tensor, kMajor: boolean): Tensor {
  const p = g.batch * g.oh * g.ow;
  const k = g.cin * g.kh * g.kw;
  return launch(im2colKernel, { ...g, kMajor }, [x, { shape: kMajor ? [k, p] : [p, k] }])[0];
}

/** Forward on either path: y [B, Cout, OH, OW]. */
function convForward(g: Conv2dGeom, x: Tensor, w: Tensor, b: Tensor | null, relu: boolean): Tensor {
  const out = { shape: [g.batch, g.cout, g.oh, g.ow] };
  if (useDepthwise(g)) return launch(depthwiseConvKernel, { ...g, bias: !!b, relu }, b ? [x, w, b, out] : [x, w, out])[0];
  if (!smallMaps(g, x.device)) {
    const p = { ...g, bias: !!b, relu, ...tunedConvGemm(g, x.device) };
    return launch(conv2dKernel, p, b ? [x, w, b, out] : [x, w, out])[0];
  }
  const ohw = g.oh * g.ow;
  const col = im2col(g, x, false);
  const w2 = w._view([g.cout, g.cin * g.kh * g.kw]);
  const yt = mm(col, w2, false, true, 1, b, relu); // [B*OH*OW, Cout]
  col.dispose();
  w2.dispose();
  const yt3 = yt._view([g.batch, ohw, g.cout]);
  yt.dispose();
  const y3 = permute(yt3, [0, 2, 1]);
  yt3.dispose();
  const y = y3._view([g.batch, g.cout, g.oh, g.ow]);
  y3.dispose();
  return y;
}

/** For stride 1, groups 1 (and padding at most the dilated kernel's extent - 1), dX = conv(dY,
 * flip(W)^T, padding D*(K-1)-P, dilation D), a stride-1 convolution with output H x W: its
 * geometry; null otherwise. */
function flippedGeom(g: Conv2dGeom): Conv2dGeom | null {
  const [eh, ew] = [g.dh * (g.kh - 1), g.dw * (g.kw - 1)];
  if (g.sh !== 1 || g.sw !== 1 || g.groups !== 1 || g.ph > eh || g.pw > ew) return null;
  return {
    batch: g.batch, cin: g.cout, h: g.oh, w: g.ow, cout: g.cin, kh: g.kh, kw: g.kw,
    sh: 1, sw: 1, ph: eh - g.ph, pw: ew - g.pw, dh: g.dh, dw: g.dw, groups: 1, oh: g.h, ow: g.w,
  };
}

function inputGrad(g: Conv2dGeom, w: Tensor, gy: Tensor): Tensor {
  if (useDepthwise(g)) return launch(depthwiseInputGradKernel, g, [w, gy, { shape: [g.batch, g.cin, g.h, g.w] }])[0];
  const gg = flippedGeom(g);
  if (smallMaps(g, w.device) && gg && smallMaps(gg, w.device)) {
    const wf = launch(weightFlipKernel, g, [w, { shape: [g.cin, g.cout, g.kh, g.kw] }])[0];
    const dx = convForward(gg, gy, wf, null, false);
    wf.dispose();
    return dx;
  }
  const dx = empty([g.batch, g.cin, g.h, g.w], w.dtype, w.device, 'conv2d_input_grad');
  // both paths read the weight as Wt [Cin/G, KH, KW, Cout] (vec4 over output channels)
  const kkg = cinPer(g) * g.kh * g.kw;
  const wt = launch(weightTransposeKernel, { rows: g.cout, cols: kkg }, [w, { shape: [kkg, g.cout] }])[0];
  const gemm = tunedConvGemm(g, w.device);
  if (useColGrad(g)) {
    // few input channels per group, many output channels: column gradient + col2im, a chunk of
    // images at a time; the column gradient has rows (ci, kh, kw) over all Cin channels
    const ckk = g.cin * g.kh * g.kw;
    const chunk = w.device === 'gpu' ? colGradChunk(g, deviceCaps()) : Math.max(1, g.batch);
    if (w.device === 'gpu') checkBindingSize('conv2d', 'column gradient of one image', [ckk, g.oh * g.ow], 'gpu');
    for (let b0 = 0; b0 < g.batch; b0 += chunk) {
      const nb = Math.min(chunk, g.batch - b0);
      const col = launch(conv2dColGradKernel, { ...g, b0, nb, ...gemm }, [wt, gy, { shape: [nb, ckk, g.oh * g.ow] }])[0];
      for (const cls of inputGradClasses(g)) launch(col2imKernel, { ...g, b0, nb, cls }, [col, dx]);
      col.dispose();
    }
  } else {
    // one launch per stride residue class; together they write every element
    for (const cls of inputGradClasses(g)) launch(conv2dInputGradKernel, { ...g, cls, ...gemm }, [wt, gy, dx]);
  }
  wt.dispose();
  return dx;
}

/** Raw weight gradient (torch.nn.grad.conv2d_weight): dW [Cout, Cin/G, KH, KW] for input x and output
 * gradient gy; `weightShape` = w's shape. Not recorded by autograd. */
export function conv2dWeightGrad(x: Tensor, weightShape: readonly number[], gy: Tensor, o: Conv2dOptions = {}): Tensor {
  const op = 'conv2dWeightGrad';
  checkOptions(op, o, CONV2D_KEYS);
  checkShape(op, weightShape);
  requireFloat(op, x, gy);
  sameDevice(op, [x, gy]);
  const g = geomOf(op, x.shape, weightShape, o, x.device);
  checkGrad(op, gy, g);
  return weightGrad(g, x, gy);
}

function weightGrad(g: Conv2dGeom, x: Tensor, gy: Tensor): Tensor {
  const wShape = [g.cout, cinPer(g), g.kh, g.kw];
  if (useDepthwise(g)) {
    // the CPU twin's batch split only changes the summation order: one split there
    const p = { ...g, ...(x.device === 'gpu' ? depthwiseWeightGradGeom(g, deviceCaps()) : { wg: 1, walk: 'rows' as const, bPer: Math.max(1, g.batch) }) };
    const splits = depthwiseSplits(p);
    const part = launch(depthwiseWeightGradKernel, p, [x, gy, { shape: splits === 1 ? wShape : [splits, ...wShape] }])[0];
    if (splits === 1) return part;
    const dw = reduce('sum', part, 0);
    part.dispose();
    return dw;
  }
  if (smallMaps(g, x.device)) {
    const col = im2col(g, x, true); // [K, B*OH*OW]: dW = dY^T col^T, both operands vec4 along K
    const gy3 = gy._view([g.batch, g.cout, g.oh * g.ow]);
    const gt = permute(gy3, [1, 0, 2]); // [Cout, B, OH*OW]
    gy3.dispose();
    const gt2 = gt._view([g.cout, g.batch * g.oh * g.ow]);
    gt.dispose();
    const dw2 = mm(gt2, col, false, true); // [Cout, K]
    gt2.dispose();
    col.dispose();
    const dw = dw2._view(wShape);
    dw2.dispose();
    return dw;
  }
  const gemm = tunedConvGemm(g, x.device);
  const bPer = x.device === 'gpu' ? weightGradBPer(g, gemm, deviceCaps()) : Math.max(1, g.batch);
  const p: Conv2dWeightGradParams = { ...g, bPer, ...gemm };
  const splits = Math.ceil(g.batch / bPer);
  if (splits === 1) return launch(conv2dWeightGradKernel, p, [x, gy, { shape: wShape }])[0];
  // per-split partial sums [splits, Cout, Cin, KH, KW], then one reduction
  const part = launch(conv2dWeightGradKernel, p, [x, gy, { shape: [splits, ...wShape] }])[0];
  const dw = reduce('sum', part, 0);
  part.dispose();
  return dw;
}

class Conv2d extends Function {
  name = 'conv2d';
  private y: Tensor | null = null;
  constructor(readonly g: Conv2dGeom, readonly relu: boolean) {
    super();
  }
  forward(x: Tensor, w: Tensor, b?: Tensor) {
    const g = this.g;
    this.save(x, w);
    const y = convForward(g, x, w, b ?? null, this.relu);
    if (this.relu) {
      this.save(y);
      this.y = y;
    }
    return y;
  }
  backward(gy: Tensor) {
    const [x, w] = this.inputs;
    const g = this.g;
    // through the fused ReLU: dZ = dY * (y > 0)
    let gz = gy;
    if (this.relu) {
      const m = unary('step', this.y!);
      gz = binary('mul', gy, m);
      m.dispose();
    }
    const dx = this.needsGrad[0] ? inputGrad(g, w, gz) : null;
    const dw = this.needsGrad[1] ? weightGrad(g, x, gz) : null;
    let db: Tensor | null = null;
    if (this.inputs.length > 2 && this.needsGrad[2]) {
      const v = gz._view([g.batch, g.cout, g.oh * g.ow]);
      db = reduce('sum', v, [0, 2]);
      v.dispose();
    }
    if (gz !== gy) gz.dispose();
    return this.inputs.length > 2 ? [dx, dw, db] : [dx, dw];
  }
}

/** 2-D convolution (cross-correlation, like torch.nn.functional.conv2d): x [B, Cin, H, W],
 * w [Cout, Cin/groups, KH, KW], bias [Cout] -> [B, Cout, OH, OW], with stride, padding, dilation
 * and groups; `relu` fuses a ReLU. */
export function conv2d(x: Tensor, w: Tensor, bias?: Tensor | null, o: Conv2dOptions = {}): Tensor {
  const g = conv2dGeom(x, w, bias, o);
  const f = new Conv2d(g, !!o.relu);
  return bias ? f.apply(x, w, bias) : f.apply(x, w);
}

class Linear extends Function {
  name = 'linear';
  forward(x: Tensor, w: Tensor, b?: Tensor) {
    this.save(x, w);
    const x2 = x._view([numel(x.shape.slice(0, -1)), x.shape[x.ndim - 1]]);
    const y2 = mm(x2, w, false, true, 1, b);
    x2.dispose();
    const y = y2._view([...x.shape.slice(0, -1), w.shape[0]]);
    y2.dispose();
    return y;
  }
  backward(g: Tensor) {
    const [x, w] = this.inputs;
    const inF = w.shape[1];
    const outF = w.shape[0];
    const rows = numel(x.shape.slice(0, -1));
    const g2 = g._view([rows, outF]);
    let dx: Tensor | null = null;
    if (this.needsGrad[0]) {
      const d = mm(g2, w); // [rows, out] @ [out, in]
      dx = d._view(x.shape);
      d.dispose();
    }
    let dw: Tensor | null = null;
    if (this.needsGrad[1]) {
      const x2 = x._view([rows, inF]);
      dw = mm(g2, x2, true, false); // g^T @ x: [out, in]
      x2.dispose();
    }
    const db = this.inputs.length > 2 && this.needsGrad[2] ? reduce('sum', g2, 0) : null;
    g2.dispose();
    return this.inputs.length > 2 ? [dx, dw, db] : [dx, dw];
  }
}

/** y = x @ w^T + bias (torch.nn.functional.linear); x [..., in], w [out, in], bias [out]. */
export function linear(x: Tensor, w: Tensor, bias?: Tensor | null): Tensor {
  const op = 'linear';
  requireFloat(op, ...(bias ? [x, w, bias] : [x, w]));
  sameDevice(op, bias ? [x, w, bias] : [x, w]);
  if (w.ndim !== 2) throw new Error(`${op}: expected weight of shape [out, in], got ${fmt(w.shape)}`);
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== w.shape[1])
    throw new Error(`${op}: input ${fmt(x.shape)} does not end in in_features ${w.shape[1]} of weight ${fmt(w.shape)}`);
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== w.shape[0]))
    throw new Error(`${op}: expected bias of shape [${w.shape[0]}], got ${fmt(bias.shape)}`);
  const f = new Linear();
  return bias ? f.apply(x, w, bias) : f.apply(x, w);
}
