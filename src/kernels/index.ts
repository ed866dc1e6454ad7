/**
 * The kernel loader: `loadKernels()` returns the backend every op uses, always wrapped in
 * `withValidation`. Default: the native addon when it is built and loads, else the TypeScript
 * reference with one warning on stderr saying why. `FOG8_KERNELS=native|reference` overrides the
 * default; asking for native (by argument or environment) when it is unavailable throws, and so
 * does the default under FOG8_REQUIRE_NATIVE=1 (CI).
 */
import { createReferenceKernels } from './reference/index.js';
import { loadNativeAddon, loadNativeKernels, type NativeIsa, type PeakKind } from './native.js';
import { withValidation } from './validate.js';
import type { Kernels } from './types.js';

export type KernelsKind = 'native' | 'reference';

export interface NativeAvailability {
  available: boolean;
  /** Why the addon cannot be used (when unavailable). */
  reason?: string;
  /** The ISA path the addon runs (when available). */
  isa?: string;
}

let nativeAttempt: { kernels: Kernels } | { error: string } | null = null;
let warned = false;

function tryNative(): { kernels: Kernels } | { error: string } {
  if (nativeAttempt === null) {
    try {
      nativeAttempt = { kernels: loadNativeKernels() };
    } catch (error) {
      nativeAttempt = { error: error instanceof Error ? error.message : String(error) };
    }
  }
  return nativeAttempt;
}

/** Whether the native addon can be used, and if not, why. */
export function nativeAvailability(): NativeAvailability {
  const attempt = tryNative();
  return 'kernels' in attempt ? { available: true, isa: attempt.kernels.isa } : { available: false, reason: attempt.error };
}

function kindFromEnvironment(): KernelsKind | undefined {
  const value = process.env.FOG8_KERNELS;
  if (value === undefined || value === '') return undefined;
  if (value === 'native' || value === 'reference') return value;
  throw new RangeError(`FOG8_KERNELS must be 'native' or 'reference', got '${value}'`);
}

/**
 * The validated kernel backend. `kind` (or FOG8_KERNELS when `kind` is omitted) picks one
 * explicitly; without either, native is used when available, else the reference (one warning).
 * Throws an Error with the reason when native is requested but unavailable.
 */
export function loadKernels(kind?: KernelsKind): Kernels {
  if (kind !== undefined && kind !== 'native' && kind !== 'reference') {
    throw new TypeError(`loadKernels: kind must be 'native' or 'reference', got '${String(kind)}'`);
  }
  const wanted = kind ?? kindFromEnvironment();
  if (wanted === 'reference') return withValidation(createReferenceKernels());
  const attempt = tryNative();
  if ('kernels' in attempt) return withValidation(attempt.kernels);
  if (wanted === 'native') throw new Error(`loadKernels: the native kernels are unavailable: ${attempt.error}`);
  // CI sets FOG8_REQUIRE_NATIVE=1 so that a missing addon fails instead of silently testing less.
  if (process.env.FOG8_REQUIRE_NATIVE === '1') throw new Error(`loadKernels: FOG8_REQUIRE_NATIVE=1 but the native kernels are unavailable: ${attempt.error}`);
  if (!warned) {
    warned = true;
    process.stderr.write(`fog8: warning: using the slow TypeScript reference kernels because the native addon is unavailable: ${attempt.error}\n`);
  }
  return withValidation(createReferenceKernels());
}

export type { Kernels } from './types.js';

/** Peak loop of each native path: the instruction its GEMM inner loop is built on. */
const PEAK_KIND_OF_ISA: Record<NativeIsa, PeakKind> = { avx512bf16: 'bf16dot512', avx2: 'fma256', scalar: 'scalar' };
let measuredPeak: { isa: NativeIsa; threads: number; flops: number } | null = null;

/**
 * This machine's compute ceiling in FLOP/s for the native path in use, measured once per process
 * by the addon's register-resident peak loop (~0.2 s) on the backend's thread count — the
 * denominator of MFU. null for the reference backend (no meaningful peak).
 */
export function measuredPeakFlops(kernels: Kernels): number | null {
  if (kernels.name !== 'native') return null;
  const addon = loadNativeAddon();
  const isa = addon.isa();
  const threads = kernels.threads;
  if (measuredPeak === null || measuredPeak.isa !== isa || measuredPeak.threads !== threads) {
    measuredPeak = { isa, threads, flops: addon.peakGflops(PEAK_KIND_OF_ISA[isa], threads, 0.2) * 1e9 };
  }
  return measuredPeak.flops;
}
