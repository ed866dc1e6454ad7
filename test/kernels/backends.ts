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

/**
 * Runs `check(native, 'isa/threads')` on the native backend at every ISA path this CPU can run
 * (scalar, avx2, avx512bf16 up to the best) and at 1 and 2 threads, restoring both afterwards.
 * Returns the reason instead when the addon does not load (the caller skips with it).
 */
export async function onEveryNativePath(check: (native: Kernels, label: string) => void): Promise<string | null> {
  let control: { bestIsa(): string; isa(): string; setIsa(i: string): void; threads(): number; setThreads(n: number): void };
  let native: Kernels;
  try {
    const m = (await import('../../src/kernels/native.js')) as { loadNativeKernels(): Kernels; loadNativeAddon(): typeof control };
    native = m.loadNativeKernels();
    control = m.loadNativeAddon();
  } catch (error) {
    return `native addon unavailable: ${(error as Error).message}`;
  }
  const isas = ['scalar', 'avx2', 'avx512bf16'];
  const savedIsa = control.isa(), savedThreads = control.threads();
  try {
    for (const isa of isas.slice(0, isas.indexOf(control.bestIsa()) + 1)) {
      for (const threads of [1, 2]) {
        control.setIsa(isa);
        control.setThreads(threads);
        check(native, `${isa}/${threads}`);
      }
    }
  } finally {
    control.setIsa(savedIsa);
    control.setThreads(savedThreads);
  }
  return null;
}
