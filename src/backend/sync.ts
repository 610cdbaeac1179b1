// Explicit synchronisation points for callers (bench, training loop ends).
import { isInitialised } from './device.ts';
import { runtime } from './webgpu.ts';

/** Submit recorded GPU work now (no wait). */
export function flush(): void {
  if (isInitialised()) runtime('flush').flush();
}

/** Submit and wait until the GPU is idle; rethrows asynchronous GPU errors. */
export async function sync(): Promise<void> {
  if (isInitialised()) await runtime('sync').sync();
}
