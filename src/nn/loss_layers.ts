// Loss modules beside CrossEntropyLoss (src/nn/cross_entropy_loss.ts): MSELoss, L1Loss, NLLLoss,
// BCEWithLogitsLoss, with torch.nn's options and buffer names (`weight`, `pos_weight`: in the
// state dict when set, moved by to()). Options are checked when the module is built.
import type { Tensor } from '../tensor/tensor.ts';
import { NLL_KEYS, nllLoss, type NllLossOptions } from '../autograd/loss.ts';
import {
  BCE_KEYS, REDUCTION_ONLY, binaryCrossEntropyWithLogits, l1Loss, mseLoss,
  type BceWithLogitsOptions, type ElementwiseLossOptions,
} from '../autograd/elementwise_loss_fn.ts';
import {
  type Reduction, checkIgnoreIndex, checkOptions, checkReduction, checkWeightArg,
} from '../autograd/loss_options.ts';
import { Module } from './module.ts';

/** Squared error (a - b)^2, reduced ('mean' by default) as torch.nn.MSELoss. */
export class MSELoss extends Module {
  readonly reduction: Reduction;
  constructor(options: ElementwiseLossOptions = {}) {
    super();
    this.reduction = checkReduction('MSELoss', checkOptions('MSELoss', options, REDUCTION_ONLY).reduction);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return mseLoss(input, target, { reduction: this.reduction });
  }
}

/** Absolute error |a - b|, reduced ('mean' by default) as torch.nn.L1Loss. */
export class L1Loss extends Module {
  readonly reduction: Reduction;
  constructor(options: ElementwiseLossOptions = {}) {
    super();
    this.reduction = checkReduction('L1Loss', checkOptions('L1Loss', options, REDUCTION_ONLY).reduction);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return l1Loss(input, target, { reduction: this.reduction });
  }
}

/** Negative log-likelihood of log-probabilities at int32 class labels, as torch.nn.NLLLoss. */
export class NLLLoss extends Module {
  declare weight: Tensor | null;
  readonly reduction: Reduction;
  readonly ignoreIndex: number;
  constructor(options: NllLossOptions = {}) {
    super();
    const o = checkOptions('NLLLoss', options, NLL_KEYS);
    this.reduction = checkReduction('NLLLoss', o.reduction);
    this.ignoreIndex = checkIgnoreIndex('NLLLoss', o.ignoreIndex);
    this.registerBuffer('weight', checkWeightArg('NLLLoss', 'weight', o.weight));
  }
  forward(logProbs: Tensor, labels: Tensor): Tensor {
    return nllLoss(logProbs, labels, { reduction: this.reduction, weight: this.weight, ignoreIndex: this.ignoreIndex });
  }
}

/** Binary cross entropy on logits with optional weight and pos_weight, as torch.nn.BCEWithLogitsLoss. */
export class BCEWithLogitsLoss extends Module {
  declare weight: Tensor | null;
  declare pos_weight: Tensor | null;
  readonly reduction: Reduction;
  constructor(options: BceWithLogitsOptions = {}) {
    super();
    const o = checkOptions('BCEWithLogitsLoss', options, BCE_KEYS);
    this.reduction = checkReduction('BCEWithLogitsLoss', o.reduction);
    this.registerBuffer('weight', checkWeightArg('BCEWithLogitsLoss', 'weight', o.weight));
    this.registerBuffer('pos_weight', checkWeightArg('BCEWithLogitsLoss', 'posWeight', o.posWeight));
  }
  forward(logits: Tensor, targets: Tensor): Tensor {
    return binaryCrossEntropyWithLogits(logits, targets, { reduction: this.reduction, weight: this.weight, posWeight: this.pos_weight });
  }
}
