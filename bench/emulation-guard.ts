/**
 * Benchmarks time the native addon, so an addon built with fog8_avx512_emulated=1 (SIMDe on an
 * AVX2 CPU, for correctness tests; loaded when FOG8_NATIVE_ADDON points at it) must not be timed:
 * its speed means nothing. Every timing bench calls this first.
 */
import { loadNativeAddon } from '../src/kernels/native.js';

/** Exits with status 1 and a message when the addon that would be timed is the emulated build. */
export function refuseEmulatedAddon(bench: string): void {
  let emulated = false;
  try {
    emulated = loadNativeAddon().avx512Emulated();
  } catch {
    return; // no addon: the bench reports that itself
  }
  if (emulated) {
    console.error(`${bench} bench: REFUSED: this addon runs AVX-512 emulated by SIMDe (fog8_avx512_emulated=1); its speed means nothing. Unset FOG8_NATIVE_ADDON to benchmark the real build.`);
    process.exit(1);
  }
}
