// The seed's AlexNet (d2l 7.1) for 1-channel RxR input, built with nn.Sequential so parameter names
// match torch.nn.Sequential ("0.weight", ...). `original` adds the 2012 paper's LRN layers after the
// first two ReLUs. The first Linear's input size follows from the resize.
import * as wt from 'webgpu-tensor';

/** Spatial size after a conv/pool with kernel k, stride s, padding p. */
const out = (n: number, k: number, s: number, p: number) => Math.floor((n + 2 * p - k) / s) + 1;

/** Side of the last feature map for input side r (throws if the net does not fit). */
export function featureSide(r: number): number {
  let n = out(r, 11, 4, 1); // conv1
  n = out(n, 3, 2, 0); // pool1
  n = out(n, 5, 1, 2); // conv2
  n = out(n, 3, 2, 0); // pool2
  // conv3-5 keep the size (3x3, pad 1)
  n = out(n, 3, 2, 0); // pool3
  return n;
}

export function minResize(): number {
  for (let r = 11; r < 512; r++) if (featureSide(r) >= 1) return r;
  return 512;
}

export function alexnet(resize: number, model: 'seed' | 'original' = 'seed'): wt.nn.Sequential {
  const side = featureSide(resize);
  if (side < 1) throw new Error(`alexnet: --resize ${resize} is too small; the seed's AlexNet needs at least ${minResize()}`);
  const { nn } = wt;
  const lrn = () => (model === 'original' ? [new nn.LocalResponseNorm(5, 1e-4, 0.75, 2)] : []);
  return new nn.Sequential(
    new nn.Conv2d(1, 96, 11, { stride: 4, padding: 1 }),
    new nn.ReLU(),
    ...lrn(),
    new nn.MaxPool2d(3, 2),
    new nn.Conv2d(96, 256, 5, { padding: 2 }),
    new nn.ReLU(),
    ...lrn(),
    new nn.MaxPool2d(3, 2),
    new nn.Conv2d(256, 384, 3, { padding: 1 }),
    new nn.ReLU(),
    new nn.Conv2d(384, 384, 3, { padding: 1 }),
    new nn.ReLU(),
    new nn.Conv2d(384, 256, 3, { padding: 1 }),
    new nn.ReLU(),
    new nn.MaxPool2d(3, 2),
    new nn.Flatten(),
    new nn.Linear(256 * side * side, 4096),
    new nn.ReLU(),
    new nn.Dropout(0.5),
    new nn.Linear(4096, 4096),
    new nn.ReLU(),
    new nn.Dropout(0.5),
    new nn.Linear(4096, 10),
  );
}

/**
 * 'xavier': d2l's init_weights, xavier-uniform for every Linear and Conv2d weight (biases keep torch's
 * default). 'kaiming': He-uniform (fan_in, ReLU gain) weights and zero biases, which keeps the signal's
 * scale through the eight ReLU layers; with xavier the loss sits at ln(10) = 2.30 for the first
 * ~70 steps (measured), which a 10-minute CPU budget cannot afford.
 */
export function initWeights(net: wt.nn.Module, kind: 'xavier' | 'kaiming' = 'xavier'): void {
  wt.noGrad(() => {
    for (const m of net.modules())
      if (m instanceof wt.nn.Linear || m instanceof wt.nn.Conv2d) {
        if (kind === 'xavier') wt.nn.init.xavierUniform_(m.weight);
        else {
          wt.nn.init.kaimingUniform_(m.weight, { nonlinearity: 'relu' });
          if (m.bias) wt.nn.init.zeros_(m.bias);
        }
      }
  });
}

/** Each layer's output shape for one 1x1xRxR input, like d2l's printout. */
export function layerShapes(net: wt.nn.Sequential, resize: number): string[] {
  const lines: string[] = [];
  wt.noGrad(() =>
    wt.tidy(() => {
      const wasTraining = net.training;
      net.eval();
      let x = wt.zeros([1, 1, resize, resize]);
      for (const m of net.children()) {
        x = m.forward(x);
        lines.push(`${m.constructor.name} output shape:\t[${x.shape.join(', ')}]`);
      }
      if (wasTraining) net.train();
    }),
  );
  return lines;
}
