// Training recipes for the model zoo (npm run train -- --model NAME): d2l.ai's own (train_ch6:
// xavier init, plain SGD, 10 epochs, its resize, batch and lr) for GPUs, and a reduced recipe per
// model for software adapters (lavapipe on a 2-core CPU), aimed at 10 minutes with the test on all
// 10,000 images included; the comments give each one's measured run (on a machine shared with
// other jobs, load average in brackets). d2l's reported results are its printed
// "loss, train acc, test acc" after 10 epochs (d2l-zh 2.0, PyTorch).
import type { Recipe } from './trainer.ts';

export interface ZooRecipes {
  /** Options for wt.models.buildModel besides imageSize (VGG: d2l's ratio 4). */
  modelOptions: { ratio?: number };
  d2l: Recipe;
  software: Recipe;
  /** d2l's printed result of its recipe (null: not printed). */
  d2lResult: { loss: number; trainAcc: number; testAcc: number } | null;
}

const D2L_BASE = { init: 'xavier', epochs: 10, momentum: 0, optimizer: 'sgd', scheduler: 'none', weightDecay: 0, labelSmoothing: 0, augment: false, clipGradNorm: 0, normalize: false, headInit: 'default' } as const;

/** d2l's train_ch6 recipe at a resize, batch size and learning rate. */
const d2l = (resize: number, batchSize: number, lr: number): Recipe => ({ ...D2L_BASE, resize, batchSize, lr });

export const ZOO_RECIPES: Record<string, ZooRecipes> = {
  lenet: {
    modelOptions: {},
    d2l: d2l(28, 256, 0.9),
    // sigmoid LeNet learns slowly with SGD (d2l: 0.78 after 10 epochs); Adam passes 0.80 in two epochs
    // measured (load 8-10): test acc 0.839 in 6.2 min
    software: { ...D2L_BASE, resize: 28, batchSize: 256, optimizer: 'adam', lr: 0.01, scheduler: 'onecycle', epochs: 3 },
    d2lResult: { loss: 0.469, trainAcc: 0.823, testAcc: 0.779 },
  },
  alexnet: {
    modelOptions: {},
    d2l: d2l(224, 128, 0.01),
    // npm run alexnet's recipe. SGD lr 0.005 momentum 0.9 on 11,520 images ended between 0.748 and
    // 0.801 over runs whose weights differed only by float rounding (kernel summation orders) after
    // the first steps: a constant lr leaves the end point to chance. One-cycle Adam settles;
    // 11,520 images (load 3-6): Adam 2e-4 0.788, with standardised inputs 0.795, Adam 4e-4 with
    // them 0.797; SGD 0.005 cosine 0.772, SGD 0.01 cosine 0.667. More images for the margin.
    software: {
      ...D2L_BASE, init: 'kaiming', resize: 67, batchSize: 32, optimizer: 'adam', lr: 0.0004, scheduler: 'onecycle',
      normalize: true, epochs: 1, trainLimit: 14_336,
    },
    d2lResult: { loss: 0.327, trainAcc: 0.881, testAcc: 0.885 },
  },
  vgg11: {
    modelOptions: { ratio: 4 },
    d2l: d2l(224, 128, 0.05),
    // measured (load 9-13): 0.821 in 9.9 min; 6,144 images gave 0.783
    software: { ...D2L_BASE, init: 'kaiming', resize: 32, batchSize: 32, optimizer: 'adam', lr: 0.0005, scheduler: 'cosine', epochs: 1, trainLimit: 10_240 },
    d2lResult: { loss: 0.178, trainAcc: 0.935, testAcc: 0.92 },
  },
  nin: {
    modelOptions: {},
    d2l: d2l(224, 128, 0.1),
    // NiN's logits are ReLU outputs averaged over the last map, so a class whose logit is 0 on every
    // image gets no gradient again. At 67 px (the smallest side its 11x11/4 conv and three 3x3/2 pools
    // accept) that map is 1x1, and with zero-mean inits 2-5 of the 10 logits start at 0 on all images:
    // screens with the default head ended at 0.46-0.53 with 3-4 classes never predicted. Identity 1x1
    // convs and bias 1 in the last block (--head-init identity) keep every logit alive; the warm-up
    // matters (plain cosine from step 0 leaves 8-9 classes dead). PyTorch screens of this recipe on
    // 8,192 images (the same loop and data, one core), all 10,000 test images: 0.815 (seed 0) and
    // 0.805 (seed 1); warm-up cosine 0.820 / 0.798; without clipping 0.803; without clipping and
    // standardisation 0.796; 6,144 images ~0.79. Here, 8,192 images (load 6-7): 0.801, 13.4 ex/s;
    // 10,240 images for margin.
    software: {
      ...D2L_BASE, init: 'kaiming', headInit: 'identity', resize: 67, batchSize: 16, optimizer: 'adam', lr: 0.001,
      scheduler: 'onecycle', clipGradNorm: 1, normalize: true, epochs: 1, trainLimit: 10_240,
    },
    d2lResult: null,
  },
  googlenet: {
    modelOptions: {},
    d2l: d2l(96, 128, 0.1),
    // measured from a fresh clone on two quiet cores: test acc 0.817 in 8.6 min (104 ex/s); on ONE
    // core (taskset -c 1, LP_NUM_THREADS=1, other jobs on the machine): 0.817 in 16.4 min. 30,720 images: 0.794 (0.809 in PyTorch with the same loop);
    // batch 32, Adam 1e-3 cosine on 12,288 images: 0.711 (load 11-13). At 16 px the last three
    // stages see 1x1 maps, so the per-image cost is mostly per-layer overhead and images are cheap.
    software: { ...D2L_BASE, init: 'kaiming', resize: 16, batchSize: 64, optimizer: 'adam', lr: 0.002, scheduler: 'onecycle', epochs: 1, trainLimit: 49_152 },
    d2lResult: { loss: 0.262, trainAcc: 0.9, testAcc: 0.886 },
  },
  resnet18: {
    modelOptions: {},
    d2l: d2l(96, 256, 0.05),
    // measured (load 10-11): 0.819 in 9.8 min
    software: { ...D2L_BASE, init: 'kaiming', resize: 24, batchSize: 32, optimizer: 'adam', lr: 0.002, scheduler: 'onecycle', epochs: 1, trainLimit: 6_144 },
    d2lResult: { loss: 0.012, trainAcc: 0.997, testAcc: 0.893 },
  },
  densenet: {
    modelOptions: {},
    d2l: d2l(96, 256, 0.1),
    // measured (load 10-14): 0.844 in 12.3 min
    software: { ...D2L_BASE, init: 'kaiming', resize: 32, batchSize: 64, optimizer: 'adam', lr: 0.002, scheduler: 'onecycle', epochs: 1, trainLimit: 12_288 },
    d2lResult: { loss: 0.14, trainAcc: 0.948, testAcc: 0.885 },
  },
  regnetx32: {
    modelOptions: {},
    // d2l.ai 8.8 trains RegNetX32(lr=0.05) with its Trainer (SGD, xavier init) for 10 epochs at 96 px,
    // batch 128, and shows a plot, not printed numbers.
    // measured (quiet): 12,288 images 0.777 in 56 s of training; 49,152 images 0.855 in 239 s (206 ex/s), 4.6 min in all
    d2l: d2l(96, 128, 0.05),
    software: { ...D2L_BASE, init: 'kaiming', resize: 32, batchSize: 64, optimizer: 'adam', lr: 0.002, scheduler: 'onecycle', epochs: 1, trainLimit: 49_152 },
    d2lResult: null,
  },
};
