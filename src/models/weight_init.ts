// The zoo's weight initialisations for training: d2l's init_weights (train_ch6: xavier-uniform
// for every Linear and Conv2d weight) and He (kaiming) init for short runs.
import { noGrad } from '../autograd/function.ts';
import { kaimingUniform_, xavierUniform_, zeros_ } from '../nn/init.ts';
import { Conv2d, Linear } from '../nn/layers.ts';
import type { Module } from '../nn/module.ts';

/**
 * The initialisations {@link initWeights} applies: 'xavier' (d2l's, the default), 'kaiming' or
 * 'default' (the layers' own init).
 */
export type WeightInit = 'xavier' | 'kaiming' | 'default';

/**
 * 'xavier': d2l's init, xavier-uniform weights for every Linear and Conv2d (biases keep torch's
 * default). 'kaiming': He-uniform (fan_in, ReLU gain) weights and zero biases, which keeps the
 * signal's scale through deep ReLU stacks. 'default': leave torch's default init. BatchNorm
 * layers keep weight 1, bias 0.
 */
export function initWeights(net: Module, kind: WeightInit = 'xavier'): void {
  if (kind !== 'xavier' && kind !== 'kaiming' && kind !== 'default')
    throw new Error(`initWeights: kind must be 'xavier', 'kaiming' or 'default', got ${JSON.stringify(kind)}`);
  if (kind === 'default') return;
  noGrad(() => {
    for (const m of net.modules())
      if (m instanceof Linear || m instanceof Conv2d) {
        if (kind === 'xavier') xavierUniform_(m.weight);
        else {
          kaimingUniform_(m.weight, { nonlinearity: 'relu' });
          if (m.bias) zeros_(m.bias);
        }
      }
  });
}
