// The browser demo page: WebGPU from navigator.gpu, Fashion-MNIST fetched from this origin's /data/
// and parsed by the library's IDX reader, LeNet trained step by step with a live loss / accuracy
// chart, examples/s, a test image with its predicted class, and the weights as a safetensors
// download or upload. URL parameters: steps=N (default 300), batch=B (64), lr (0.002),
// train=N (training images kept, 12000), test=N (test images for the accuracy, 1000),
// act=relu|sigmoid, auto=1 (train on load).
// `window.demo` holds the page's state for the browser tests (test/browser/demo.test.ts).
import * as wt from 'webgpu-tensor';
import { type Activation, DemoTrainer, type StepResult, evaluate, predict, train as trainSteps } from './demo_model.ts';

interface DemoState {
  state: 'starting' | 'loading' | 'ready' | 'training' | 'done' | 'error';
  adapter: string;
  info?: wt.DeviceInfo;
  history: StepResult[];
  examplesPerSec: number;
  testAcc: number | null;
  prediction: { index: number; label: string; predicted: string; probability: number } | null;
  loadedWeights: number;
  error: string | null;
}

const demo: DemoState = {
  state: 'starting', adapter: '', history: [], examplesPerSec: 0, testAcc: null, prediction: null, loadedWeights: 0, error: null,
};
(globalThis as unknown as { demo: DemoState }).demo = demo;

const params = new URLSearchParams(location.search);
const num = (name: string, dflt: number) => {
  const v = Number(params.get(name) ?? dflt);
  return Number.isFinite(v) && v > 0 ? v : dflt;
};
const TRAIN_LIMIT = Math.floor(num('train', 12000));
const TEST_LIMIT = Math.floor(num('test', 1000));
const LR = num('lr', 0.002);
const ACT: Activation = params.get('act') === 'sigmoid' ? 'sigmoid' : 'relu';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const stepsInput = $<HTMLInputElement>('steps');
const batchInput = $<HTMLInputElement>('batch');
const trainBtn = $<HTMLButtonElement>('train');
const stopBtn = $<HTMLButtonElement>('stop');
const downloadBtn = $<HTMLButtonElement>('download');
const loadInput = $<HTMLInputElement>('load');
const nextBtn = $<HTMLButtonElement>('next');
stepsInput.value = String(Math.floor(num('steps', 300)));
batchInput.value = String(Math.floor(num('batch', 64)));

const setText = (id: string, s: string) => ($(id).textContent = s);

function fail(e: unknown): void {
  const msg = e instanceof Error ? `${e.message}${e.stack ? `\n${e.stack}` : ''}` : String(e);
  demo.state = 'error';
  demo.error = msg;
  setText('error', msg);
  setText('status', 'error');
  console.error(e);
}

/** The adapter as the browser describes it (Firefox reports empty strings), with what the kernels use. */
function describeAdapter(info: wt.DeviceInfo): string {
  const name = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ');
  const sub = info.features.includes('subgroups') ? `subgroups ${info.subgroupMinSize}-${info.subgroupMaxSize}` : 'no subgroups';
  const wg = info.limits.maxComputeInvocationsPerWorkgroup;
  return `${name || '(the browser reports no adapter details)'}; ${info.software ? 'software' : 'treated as hardware'}, ${sub}, ${wg} invocations per workgroup`;
}

// ---------- the chart: loss (left axis) and batch accuracy (right axis) per step ----------
const chart = $<HTMLCanvasElement>('chart');
function drawChart(total: number): void {
  const g = chart.getContext('2d')!;
  const W = chart.width;
  const H = chart.height;
  const L = 44;
  const R = 44;
  const T = 14;
  const B = 26;
  g.clearRect(0, 0, W, H);
  g.font = '11px system-ui, sans-serif';
  g.strokeStyle = '#ccc';
  g.strokeRect(L, T, W - L - R, H - T - B);
  const h = demo.history;
  const maxLoss = Math.max(2.5, ...h.slice(0, 5).map((r) => r.loss));
  const n = Math.max(total, h.length, 2);
  const x = (i: number) => L + ((W - L - R) * i) / (n - 1);
  const yLoss = (v: number) => T + (H - T - B) * (1 - Math.min(v, maxLoss) / maxLoss);
  const yAcc = (v: number) => T + (H - T - B) * (1 - v);
  g.fillStyle = '#666';
  g.textAlign = 'right';
  for (const v of [0, maxLoss / 2, maxLoss]) g.fillText(v.toFixed(1), L - 4, yLoss(v) + 4);
  g.textAlign = 'left';
  for (const v of [0, 0.5, 1]) g.fillText(v.toFixed(1), W - R + 4, yAcc(v) + 4);
  g.textAlign = 'center';
  g.fillText(`step (of ${n})`, (L + W - R) / 2, H - 6);
  const line = (vals: number[], y: (v: number) => number, color: string, width: number) => {
    if (vals.length < 2) return;
    g.strokeStyle = color;
    g.lineWidth = width;
    g.beginPath();
    vals.forEach((v, i) => (i ? g.lineTo(x(i), y(v)) : g.moveTo(x(i), y(v))));
    g.stroke();
  };
  const ema = (vals: number[]) => {
    let m = vals[0];
    return vals.map((v) => (m = 0.9 * m + 0.1 * v));
  };
  const losses = h.map((r) => r.loss);
  const accs = h.map((r) => r.acc);
  line(losses, yLoss, 'rgba(200,60,40,0.3)', 1);
  line(accs, yAcc, 'rgba(40,90,200,0.3)', 1);
  line(ema(losses), yLoss, 'rgb(200,60,40)', 2);
  line(ema(accs), yAcc, 'rgb(40,90,200)', 2);
  g.textAlign = 'left';
  g.fillStyle = 'rgb(200,60,40)';
  g.fillText('loss', L + 6, T + 14);
  g.fillStyle = 'rgb(40,90,200)';
  g.fillText('batch accuracy', L + 40, T + 14);
  g.lineWidth = 1;
}

// ---------- data, model, sample image ----------
let data: wt.data.FashionMNIST;
let trainer: DemoTrainer;
let sample = 0;
let stopRequested = false;

function drawImage(index: number): void {
  const c = $<HTMLCanvasElement>('image');
  const small = document.createElement('canvas');
  small.width = small.height = 28;
  const ctx = small.getContext('2d')!;
  const img = ctx.createImageData(28, 28);
  const px = data.test.images.subarray(index * 784, index * 784 + 784);
  for (let i = 0; i < 784; i++) {
    const v = 255 - px[i];
    img.data.set([v, v, v, 255], i * 4);
  }
  ctx.putImageData(img, 0, 0);
  const g = c.getContext('2d')!;
  g.imageSmoothingEnabled = false;
  g.drawImage(small, 0, 0, c.width, c.height);
}

async function showPrediction(): Promise<void> {
  const index = sample % data.test.n;
  drawImage(index);
  const p = await predict(trainer.net, data.test.images.subarray(index * 784), 1);
  let best = 0;
  for (let c = 1; c < 10; c++) if (p[c] > p[best]) best = c;
  const names = wt.data.FASHION_MNIST_CLASSES;
  const label = names[data.test.labels[index]];
  demo.prediction = { index, label, predicted: names[best], probability: p[best] };
  const ok = names[best] === label;
  setText('prediction', `test image #${index}: predicted ${names[best]} (${(100 * p[best]).toFixed(0)}%), true class ${label} ${ok ? '✓' : '✗'}`);
}

async function showTestAccuracy(): Promise<void> {
  demo.testAcc = await evaluate(trainer.net, data.test, TEST_LIMIT);
  setText('testacc', `${(100 * demo.testAcc).toFixed(1)}% on the first ${TEST_LIMIT} test images`);
}

function setBusy(busy: boolean): void {
  trainBtn.disabled = busy;
  stopBtn.disabled = !busy;
  downloadBtn.disabled = busy;
  loadInput.disabled = busy;
  nextBtn.disabled = busy;
}

async function train(): Promise<void> {
  const steps = Math.max(1, Math.floor(Number(stepsInput.value) || 1));
  const batch = Math.max(1, Math.min(1024, Math.floor(Number(batchInput.value) || 64)));
  if (!trainer || trainer.steps > 0 || batch !== trainerBatch) newTrainer(batch);
  demo.state = 'training';
  demo.history = [];
  stopRequested = false;
  setBusy(true);
  // examples/s over the steps after the first (the first compiles the pipelines)
  let t0 = 0;
  let timed = 0;
  await trainSteps(trainer, steps, async (r) => {
    demo.history.push(r);
    if (demo.history.length === 1) t0 = performance.now();
    else {
      timed += r.size;
      demo.examplesPerSec = timed / ((performance.now() - t0) / 1000);
      setText('speed', `${demo.examplesPerSec.toFixed(1)} examples/s (batch ${batch}, steps 2..${r.step})`);
    }
    setText('status', `training: step ${r.step} / ${steps}, loss ${r.loss.toFixed(3)}, batch accuracy ${(100 * r.acc).toFixed(0)}%`);
    drawChart(steps);
    if (r.step % 50 === 0) await showPrediction();
    return stopRequested;
  });
  await showPrediction();
  await showTestAccuracy();
  const h = demo.history;
  setText('status', `${stopRequested ? 'stopped' : 'done'} after ${h.length} steps: loss ${h[0].loss.toFixed(3)} -> ${h.at(-1)!.loss.toFixed(3)}`);
  setBusy(false);
  demo.state = 'done';
}

let trainerBatch = 0;
function newTrainer(batch: number): void {
  trainerBatch = batch;
  trainer = new DemoTrainer(data.train, { batch, lr: LR, activation: ACT });
}

async function downloadWeights(): Promise<void> {
  const bytes = await wt.saveBytes(trainer.net.stateDict(), { format: 'pt', model: `lenet-${ACT}`, steps: String(trainer.steps) });
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = `lenet-fashion-mnist-${trainer.steps}steps.safetensors`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

async function loadWeights(file: File): Promise<void> {
  const sd = wt.loadBytes(new Uint8Array(await file.arrayBuffer()));
  trainer.net.loadStateDict(sd);
  for (const t of Object.values(sd)) t.dispose();
  setText('status', `loaded ${file.name} (${Object.keys(sd).length} tensors)`);
  await showPrediction();
  await showTestAccuracy();
  demo.loadedWeights++;
}

const guard = (fn: () => Promise<void>) => () => void fn().catch(fail);
trainBtn.onclick = guard(train);
stopBtn.onclick = () => (stopRequested = true);
downloadBtn.onclick = guard(downloadWeights);
nextBtn.onclick = guard(async () => {
  sample = (sample + 1 + Math.floor(Math.random() * 97)) % data.test.n;
  await showPrediction();
});
loadInput.onchange = guard(async () => {
  const f = loadInput.files?.[0];
  if (f) await loadWeights(f);
  loadInput.value = '';
});

async function start(): Promise<void> {
  if (!('gpu' in navigator)) throw new Error('this browser has no WebGPU (navigator.gpu is missing); use Chrome / Edge, Firefox with dom.webgpu.enabled, or Safari 26');
  const info = await wt.init();
  demo.info = info;
  demo.adapter = describeAdapter(info);
  setText('adapter', demo.adapter);
  demo.state = 'loading';
  const t = performance.now();
  setText('data', 'fetching Fashion-MNIST from /data/ ...');
  data = await wt.data.fetchFashionMNIST({ baseUrl: new URL('data/', location.href).href, trainLimit: TRAIN_LIMIT, testLimit: TEST_LIMIT });
  setText('data', `${data.train.n} training and ${data.test.n} test images from ${data.dir}/ (${((performance.now() - t) / 1000).toFixed(1)} s)`);
  newTrainer(Math.floor(Number(batchInput.value)));
  drawChart(Number(stepsInput.value));
  await showPrediction();
  demo.state = 'ready';
  setBusy(false);
  setText('status', 'ready: press Train');
  if (params.get('auto') === '1') await train();
}

start().catch(fail);
