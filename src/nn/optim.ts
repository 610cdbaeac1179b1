// wt.optim: the optimizers (SGD, Adam, AdamW, RMSprop, all with torch-style parameter groups),
// their fused one-dispatch-per-parameter updates (`functional`), and the learning-rate
// schedulers (`lrScheduler`). The code lives in src/optim/.
import { sgdUpdate } from '../autograd/optim_update.ts';
import { adamUpdate, rmspropUpdate } from '../optim/adaptive_updates.ts';

export {
  Optimizer, type Group, type GroupSpec, type ParamState, type OptimizerStateDict, type SchedulerFields,
} from '../optim/optimizer_base.ts';
export {
  SGD, type SGDOptions, type SGDHyper, type SGDParamGroup, type SGDParamGroup as ParamGroup, type SGDGroupSpec, type SGDState,
  type SGDStateDict,
} from '../optim/sgd_optimizer.ts';
export {
  Adam, AdamW, type AdamOptions, type AdamHyper, type AdamParamGroup, type AdamGroupSpec, type AdamState, type AdamStateDict,
} from '../optim/adam_optimizer.ts';
export {
  RMSprop, type RMSpropOptions, type RMSpropHyper, type RMSpropParamGroup, type RMSpropGroupSpec, type RMSpropState,
  type RMSpropStateDict,
} from '../optim/rmsprop_optimizer.ts';
export type { AdamUpdateOptions, RmspropUpdateOptions } from '../optim/adaptive_updates.ts';
export * as lrScheduler from '../optim/lr_scheduler.ts';

/** The fused updates behind the optimizers, one dispatch per parameter (torch.optim's functional form). */
export const functional = { sgd: sgdUpdate, adam: adamUpdate, rmsprop: rmspropUpdate };
