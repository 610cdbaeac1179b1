// wt.nn.functional: the functions the modules call (PyTorch's torch.nn.functional), by name.
export { conv2d, linear } from '../autograd/conv.ts';
export { maxPool2d } from '../autograd/max_pool.ts';
export { dropout } from '../autograd/dropout_op.ts';
export { crossEntropy, nllLoss } from '../autograd/loss.ts';
export { l1Loss, binaryCrossEntropyWithLogits } from '../autograd/elementwise_loss_fn.ts';
export { localResponseNorm } from '../autograd/lrn_op.ts';
export { relu, mseLoss } from '../autograd/ops.ts';
export { sigmoid, tanh, gelu, leakyRelu } from '../autograd/pointwise.ts';
export { softmax, logSoftmax } from '../autograd/softmax_fn.ts';
export { pad } from '../autograd/region_ops.ts';
export { batchNorm } from '../autograd/batch_norm_fn.ts';
export { layerNorm, groupNorm } from '../autograd/row_norm_fn.ts';
export { avgPool2d } from '../autograd/avg_pool.ts';
export { adaptiveAvgPool2d, adaptiveMaxPool2d } from '../autograd/adaptive_pool2d.ts';
