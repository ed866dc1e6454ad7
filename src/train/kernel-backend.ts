/**
 * Picks the kernel backend of a run: 'reference' (pure TypeScript), 'native' (the C++ addon; an
 * error if it does not load) or 'auto' (native when it loads, else the reference with a warning
 * from the loader). `threads` sets the native thread pool (null: its default, all cores).
 */
import type { Kernels } from '../kernels/types.js';
import { loadKernels } from '../kernels/index.js';
import { loadNativeAddon } from '../kernels/native.js';

export async function loadKernelBackend(kind: 'auto' | 'native' | 'reference', threads: number | null): Promise<Kernels> {
  const kernels = loadKernels(kind === 'auto' ? undefined : kind);
  if (kernels.name === 'native' && threads !== null) loadNativeAddon().setThreads(threads);
  return kernels;
}
