/**
 * Picks the kernel backend of a run: 'reference' (pure TypeScript), 'native' (the C++ addon; an
 * error if it does not load) or 'auto' (native when it loads, else the reference with a warning
 * from the loader). `threads` sets the native thread pool (null: its default, all cores). With
 * native kernels the GEMM variant comes from the wisdom file (kernels/tune.ts) under the policy
 * FOG8_TUNE (default 'auto': a quick tune on first use); it changes speed only, never results.
 */
import type { Kernels } from '../kernels/types.js';
import { loadKernels } from '../kernels/index.js';
import { loadNativeAddon } from '../kernels/native.js';
import { applyWisdom, tunePolicyFromEnv, type TunePolicy } from '../kernels/tune.js';

export async function loadKernelBackend(kind: 'auto' | 'native' | 'reference', threads: number | null, tune: TunePolicy = tunePolicyFromEnv()): Promise<Kernels> {
  const kernels = loadKernels(kind === 'auto' ? undefined : kind);
  if (kernels.name === 'native') {
    const addon = loadNativeAddon();
    if (threads !== null) addon.setThreads(threads);
    if (!addon.avx512Emulated()) applyWisdom(addon, tune);
  }
  return kernels;
}
