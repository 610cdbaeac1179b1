// A quiet start. When a Dawn instance enumerates its adapters (inside its first requestAdapter
// call, synchronously) Dawn's Limits.cpp clamps the driver's maxDynamicUniformBuffersPerPipelineLayout
// and maxDynamicStorageBuffersPerPipelineLayout (1000000 on lavapipe, 500000+ on RADV and NVIDIA)
// to its own 16 and prints "Warning: ... artificially reduced ..." from native code straight to
// file descriptor 2, whatever limits are requested later. Those two lines say nothing about this
// library's work, so on Linux fd 2 points at a temporary file for the duration of that one
// synchronous call (no JavaScript runs meanwhile); afterwards fd 2 is reopened on the original
// stderr and whatever else Dawn printed there is passed on, minus those two notices. Node has no
// dup2, so the original is reopened through /proc/self/fd: that works for a terminal, a pipe or a
// file, not for a socket (the stdio of a child that Node spawned with 'pipe', a systemd journal
// stream), where the notices still print.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The notices dropped (everything else Dawn prints during discovery is passed on). */
export const DAWN_LIMIT_NOTICE =
  /^Warning: maxDynamic(?:Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?\n?/gm;

/** Run `request` (a requestAdapter call) with Dawn's limit notices filtered from native stderr. */
export function quietAdapterDiscovery<T>(request: () => T): T {
  if (process.platform !== 'linux') return request();
  let saved: number;
  try {
    // a second descriptor for the original stderr (a tty, pipe or file; a socket cannot be reopened)
    saved = openSync('/proc/self/fd/2', 'a');
  } catch {
    return request();
  }
  const tmp = join(tmpdir(), `webgpu-tensor-dawn-${process.pid}-${Math.random().toString(36).slice(2)}.txt`);
  let capture = -1;
  let swapped = false;
  try {
    capture = openSync(tmp, 'w+');
    closeSync(2);
    swapped = true;
    // the lowest free descriptor: 2 again, now the temporary file
    const fd = openSync(tmp, 'a');
    if (fd !== 2) {
      // another thread opened a file between the close and the open and got 2: leave it alone
      closeSync(fd);
      swapped = false;
    }
  } catch {
    // fall through: run unfiltered
  }
  try {
    return request();
  } finally {
    if (swapped) {
      try {
        closeSync(2);
      } catch {
        // not ours
      }
      openSync(`/proc/self/fd/${saved}`, 'a'); // the lowest free descriptor: 2, the original stderr
    }
    closeSync(saved);
    let text = '';
    if (capture >= 0) {
      try {
        text = readFileSync(tmp, 'utf8');
      } catch {
        // nothing captured
      }
      closeSync(capture);
      try {
        unlinkSync(tmp);
      } catch {
        // already gone
      }
    }
    const rest = text.replace(DAWN_LIMIT_NOTICE, '');
    if (rest) writeSync(2, rest);
  }
}
