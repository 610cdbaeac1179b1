// Loss modules.
import type { Tensor } from '../tensor/tensor.ts';
import { crossEntropy } from './functional.ts';
import { Module } from './module.ts';

/** Mean cross-entropy of logits [B, C] against int32 class labels [B]. */
export class CrossEntropyLoss extends Module {
  forward(logits: Tensor, labels: Tensor): Tensor {
    return crossEntropy(logits, labels);
  }
}
