import type { Kernels } from '../../src/kernels/types.js';
import { createReferenceKernels } from '../../src/kernels/reference/index.js';
import { withValidation } from '../../src/kernels/validate.js';

/** Why the native backend is absent from backends() (null when it loaded). */
export let nativeUnavailableReason: string | null = null;

let cached: Promise<Kernels[]> | null = null;

/**
 * Every backend the backend-generic tests run on: the reference (wrapped in withValidation) and,
 * when `src/kernels/native.ts` exists and its `loadNativeKernels()` succeeds, the native addon
 * (wrapped too). The native module is imported through a variable specifier so that this file
 * typechecks before native.ts exists.
 */
export function backends(): Promise<Kernels[]> {
  cached ??= (async () => {
    const list = [withValidation(createReferenceKernels())];
    const native = await tryLoadNative();
    // CI (FOG8_REQUIRE_NATIVE=1): the native kernel tests must never vanish because the addon is missing.
    if (native === null && process.env.FOG8_REQUIRE_NATIVE === '1') throw new Error(`FOG8_REQUIRE_NATIVE=1 but the native addon does not load: ${nativeUnavailableReason}`);
    if (native !== null) list.push(withValidation(native));
    return list;
  })();
  return cached;
}

async function tryLoadNative(): Promise<Kernels | null> {
  const specifier = '../../src/kernels/native.js';
  try {
    const module: unknown = await import(specifier);
    const load = typeof module === 'object' && module !== null && 'loadNativeKernels' in module ? module.loadNativeKernels : undefined;
    if (typeof load !== 'function') {
      nativeUnavailableReason = 'src/kernels/native.ts does not export loadNativeKernels()';
      return null;
    }
    const kernels: Kernels = load();
    return kernels;
  } catch (error) {
    nativeUnavailableReason = error instanceof Error ? error.message : String(error);
    return null;
  }
}
