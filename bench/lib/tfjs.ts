// TF.js (tfjs-core + tfjs-backend-webgpu 4.22) on the same Dawn instance, in this process, as a
// `Target` for `measure`. TF.js creates its own GPUDevice from the adapter.
import type * as TF from '@tensorflow/tfjs-core';
import { benchTimer, type GpuTimer, type Target } from './timer.ts';

export type Tf = typeof TF;

/** TF.js submits by itself every this many dispatches; `measure` keeps a sample below it so a
 * sample's work is one submit between timestamp markers (and disposed buffers are reclaimed at
 * each submit, so it also bounds memory). */
export const TF_BATCH = 64;

interface TfBackend {
  device: GPUDevice;
  queue: GPUQueue;
  commandEncoder: GPUCommandEncoder | null;
  endComputePassEncoder(): void;
  submitQueue(): void;
  recordAndSubmit(...a: unknown[]): unknown;
}

export interface TfHandle {
  tf: Tf;
  target: Target;
  device: GPUDevice;
}

/** Import TF.js with `navigator.gpu = gpu` and select its WebGPU backend. */
export async function loadTfjs(gpu: GPU): Promise<TfHandle> {
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  const tf = (await import('@tensorflow/tfjs-core')) as Tf;
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('TF.js: the webgpu backend failed to initialise');
  await tf.ready();
  tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', TF_BATCH);
  const be = tf.backend() as unknown as TfBackend;
  let submits = 0;
  let dispatches = 0;
  const q = be.queue;
  const submit = q.submit.bind(q);
  q.submit = (cbs: Iterable<GPUCommandBuffer>) => {
    submits++;
    submit(cbs);
  };
  const record = be.recordAndSubmit.bind(be);
  be.recordAndSubmit = (...a: unknown[]) => {
    dispatches++;
    return record(...a);
  };
  const flush = () => {
    if (be.commandEncoder) {
      be.endComputePassEncoder();
      be.submitQueue();
    }
  };
  let timer: GpuTimer | null | undefined;
  const target: Target = {
    flush,
    sync: async () => {
      flush();
      await q.onSubmittedWorkDone();
    },
    submits: () => submits,
    dispatches: () => dispatches,
    timer: () => {
      if (timer === undefined) timer = benchTimer(be.device);
      return timer;
    },
    maxBatchDispatches: TF_BATCH - 4,
  };
  return { tf, target, device: be.device };
}
