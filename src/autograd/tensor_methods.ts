// Attaches the op methods to Tensor (teenygrad's way): the tensor layer never imports autograd.
// Pointwise methods come from the op table (one per public entry); the rest are listed below.
// src/index.ts imports this module once for its effect.
import { Tensor } from '../tensor/tensor.ts';
import { backward as runBackward, type BackwardOptions } from './engine.ts';
import * as F from './ops.ts';
import { binaryFunctions, unaryFunctions, type Operand } from './pointwise.ts';
import type { BinaryName, PublicUnaryName } from './pointwise_table.ts';
import { softmax, logSoftmax } from './softmax_fn.ts';
import { clamp, where } from './clamp_where.ts';
import { narrow, chunk, split } from './region_ops.ts';

type UnaryMethods = { [K in PublicUnaryName]: (arg?: number) => Tensor };
type BinaryMethods = { [K in BinaryName]: (b: Operand) => Tensor };

interface OtherMethods {
  relu(): Tensor;
  sum(axis?: number | number[], keepdim?: boolean): Tensor;
  mean(axis?: number | number[], keepdim?: boolean): Tensor;
  max(axis?: number, keepdim?: boolean): Tensor;
  min(axis?: number, keepdim?: boolean): Tensor;
  argmax(axis?: number, keepdim?: boolean): Tensor;
  reshape(shape: readonly number[]): Tensor;
  view(shape: readonly number[]): Tensor;
  flatten(startDim?: number, endDim?: number): Tensor;
  squeeze(axis?: number): Tensor;
  unsqueeze(axis: number): Tensor;
  permute(dims: readonly number[]): Tensor;
  transpose(d0?: number, d1?: number): Tensor;
  /** The last two axes swapped (a copy). */
  readonly T: Tensor;
  expand(shape: readonly number[]): Tensor;
  matmul(b: Tensor): Tensor;
  clone(): Tensor;
  softmax(dim: number): Tensor;
  logSoftmax(dim: number): Tensor;
  clamp(min?: number | null, max?: number | null): Tensor;
  /** this where `condition` is nonzero, else `other` (torch.Tensor.where). */
  where(condition: Tensor, other: Operand): Tensor;
  narrow(dim: number, start: number, length: number): Tensor;
  chunk(chunks: number, dim?: number): Tensor[];
  split(sizeOrSections: number | readonly number[], dim?: number): Tensor[];
  /** Backpropagate from this tensor (a scalar, or pass `gradient` of its shape). */
  backward(gradient?: Tensor, opts?: BackwardOptions): void;
}

declare module '../tensor/tensor.ts' {
  interface Tensor extends UnaryMethods, BinaryMethods, OtherMethods {}
}

const proto = Tensor.prototype as unknown as Record<string, unknown>;
for (const [name, f] of Object.entries(unaryFunctions))
  proto[name] = function (this: Tensor, arg?: number) {
    return f(this, arg);
  };
for (const [name, f] of Object.entries(binaryFunctions))
  proto[name] = function (this: Tensor, b: Operand) {
    return f(this, b);
  };

const others: { [K in Exclude<keyof OtherMethods, 'T'>]: (this: Tensor, ...args: never[]) => unknown } = {
  relu() { return F.relu(this); },
  sum(axis?: number | number[], keepdim = false) { return F.sum(this, axis, keepdim); },
  mean(axis?: number | number[], keepdim = false) { return F.mean(this, axis, keepdim); },
  max(axis?: number, keepdim = false) { return F.max(this, axis, keepdim); },
  min(axis?: number, keepdim = false) { return F.min(this, axis, keepdim); },
  argmax(axis?: number, keepdim = false) { return F.argmax(this, axis, keepdim); },
  reshape(shape: readonly number[]) { return F.reshape(this, shape); },
  view(shape: readonly number[]) { return F.reshape(this, shape); },
  flatten(startDim = 0, endDim = -1) { return F.flatten(this, startDim, endDim); },
  squeeze(axis?: number) { return F.squeeze(this, axis); },
  unsqueeze(axis: number) { return F.unsqueeze(this, axis); },
  permute(dims: readonly number[]) { return F.permute(this, dims); },
  transpose(d0 = -2, d1 = -1) { return F.transpose(this, d0, d1); },
  expand(shape: readonly number[]) { return F.expand(this, shape); },
  matmul(b: Tensor) { return F.matmul(this, b); },
  clone() { return F.clone(this); },
  softmax(dim: number) { return softmax(this, dim); },
  logSoftmax(dim: number) { return logSoftmax(this, dim); },
  clamp(min?: number | null, max?: number | null) { return clamp(this, min, max); },
  where(condition: Tensor, other: Operand) { return where(condition, this, other); },
  narrow(dim: number, start: number, length: number) { return narrow(this, dim, start, length); },
  chunk(chunks: number, dim = 0) { return chunk(this, chunks, dim); },
  split(sizeOrSections: number | readonly number[], dim = 0) { return split(this, sizeOrSections, dim); },
  backward(gradient?: Tensor, opts?: BackwardOptions) { runBackward(this, gradient, opts); },
};
Object.assign(proto, others);
Object.defineProperty(proto, 'T', {
  get(this: Tensor) {
    return F.transpose(this, -2, -1);
  },
  configurable: true,
});
