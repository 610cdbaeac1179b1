// CrossEntropyLoss: the module form of crossEntropy (src/autograd/loss.ts). Like PyTorch's, the
// class weight is a buffer named `weight` (in the state dict when set, moved by to()).
import type { Tensor } from '../tensor/tensor.ts';
import { CE_KEYS, crossEntropy, type CrossEntropyOptions } from '../autograd/loss.ts';
import {
  type Reduction, checkIgnoreIndex, checkLabelSmoothing, checkOptions, checkReduction, checkWeightArg,
} from '../autograd/loss_options.ts';
import { Module } from './module.ts';

/** Cross entropy of logits [N, C] (or [C], [N, C, d1, ...]) against int32 class labels [N]
 * (or [], [N, d1, ...]); options as torch.nn.CrossEntropyLoss (default: the mean). */
export class CrossEntropyLoss extends Module {
  declare weight: Tensor | null;
  readonly reduction: Reduction;
  readonly ignoreIndex: number;
  readonly labelSmoothing: number;
  constructor(options: CrossEntropyOptions = {}) {
    super();
    const o = checkOptions('CrossEntropyLoss', options, CE_KEYS);
    this.reduction = checkReduction('CrossEntropyLoss', o.reduction);
    this.ignoreIndex = checkIgnoreIndex('CrossEntropyLoss', o.ignoreIndex);
    this.labelSmoothing = checkLabelSmoothing('CrossEntropyLoss', o.labelSmoothing);
    this.registerBuffer('weight', checkWeightArg('CrossEntropyLoss', 'weight', o.weight));
  }
  forward(logits: Tensor, labels: Tensor): Tensor {
    return crossEntropy(logits, labels, {
      reduction: this.reduction, labelSmoothing: this.labelSmoothing, weight: this.weight, ignoreIndex: this.ignoreIndex,
    });
  }
}
