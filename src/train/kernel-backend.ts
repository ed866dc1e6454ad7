/**
 * Picks the kernel backend of a run: 'reference' (pure TypeScript), 'native' (the C++ addon; an
 * error if it does not load) or 'auto' (native when it loads, else reference with a warning).
 */
import type { Kernels } from '../kernels/types.js';
import { createReferenceKernels } from '../kernels/reference/index.js';

export async function loadKernelBackend(kind: 'auto' | 'native' | 'reference', threads: number | null): Promise<Kernels> {
  void threads;
  if (kind === 'native') throw new Error('kernels native: the native kernel loader is not available in this build');
  return createReferenceKernels();
}
