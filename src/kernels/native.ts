/**
 * The native backend: loads the C++ addon `build/Release/fog8_native.node` (built by
 * `scripts/build-native.mjs` during `npm install`; `FOG8_NATIVE_ADDON=<path>` loads another
 * build instead, e.g. the emulated AVX-512 one of `scripts/test-avx512-emulated.mjs`) and maps
 * every `Kernels` method onto the addon function of the same name, same argument order (shape
 * objects are passed as plain objects). Arguments are checked by `withValidation` (the loader
 * wraps this backend); the addon still checks types and lengths itself and throws TypeError
 * rather than crash.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { packageRoot } from '../util/package-root.js';
import type { Kernels, RopeScaling } from './types.js';
import { ropeFrequencies } from './reference/rope.js';

/** Casts and GEMM (bind_casts_gemm.cpp), under the Kernels method names. */
const CORE_METHODS = ['quantize', 'dequantize', 'quantizeDequantize', 'roundBf16', 'packBf16', 'gemm'] as const satisfies readonly (keyof Kernels)[];

/** The fused kernels (bind_fused.cpp), under the Kernels method names. */
const FUSED_METHODS = [
  'rmsnormForward', 'rmsnormBackward', 'ropeForward', 'ropeBackward',
  'crossEntropyForward', 'crossEntropyBackward',
  'attentionForward', 'attentionBackward',
  'swigluForward', 'swigluBackward', 'smoothSwigluForward', 'smoothSwigluBackward',
  'geluForward', 'geluBackward', 'xieluForward', 'xieluBackward',
  'adamw', 'rowMoments', 'sumSquares', 'addInPlace', 'copyColumns',
] as const satisfies readonly (keyof Kernels)[];

type CoreMethodName = (typeof CORE_METHODS)[number];
type FusedMethodName = (typeof FUSED_METHODS)[number];

/** Peak microbenchmark loops: 256/512-bit FMA, BF16 dot (vdpbf16ps) and a portable scalar loop. */
export type PeakKind = 'fma256' | 'fma512' | 'bf16dot256' | 'bf16dot512' | 'scalar';

/** Instruction-set paths of the addon, lowest first. */
export type NativeIsa = 'scalar' | 'avx2' | 'avx512bf16';

/** Casts, GEMM and the control functions for tests and benchmarks. */
export type NativeCoreAddon = Pick<Kernels, CoreMethodName> & {
  /** The path in use (FOG8_ISA may force a lower one). */
  isa(): NativeIsa;
  /** The best path this CPU supports. */
  bestIsa(): NativeIsa;
  /**
   * True when this addon was built with `fog8_avx512_emulated=1`: its avx512bf16 path is the
   * AVX-512 code run through SIMDe on an AVX2 CPU (results are that code's, speed means nothing).
   */
  avx512Emulated(): boolean;
  /** Forces a path; RangeError if the CPU lacks it. */
  setIsa(isa: NativeIsa): void;
  /** Pool threads (FOG8_THREADS, default hardware concurrency). */
  threads(): number;
  setThreads(n: number): void;
  /**
   * GFLOP/s of a peak loop on `threads` threads, measured for about `seconds`; clock 'cpu' divides
   * by the process CPU time per thread (the rate while running, on a shared machine).
   */
  peakGflops(kind: PeakKind, threads: number, seconds: number, clock?: 'wall' | 'cpu'): number;
  /** Register tiles of the BF16/FP8 GEMM path in use ("MRxNR"). */
  gemmTiles(): string[];
  /** The BF16/FP8 GEMM variant in use ("MRxNR-kcKC-mcMC-ncNC" on avx512bf16, else "MRxNR"). */
  gemmVariant(): string;
  /** Bytes the addon holds between calls (GEMM packing buffers, RoPE table). */
  workspaceBytes(): number;
  /** Chooses the GEMM variant ("default" restores the built-in one); RangeError if invalid. All
   *  variants give bit-identical results. */
  setGemmVariant(variant: string): void;
};

/** The addon's RoPE: the last argument is the D/2 float64 frequency table (ropeFrequencies), not theta. */
type NativeRope = (src: Float32Array, dst: Float32Array, B: number, T: number, H: number, D: number, frequencies: Float64Array, roundBf16?: boolean) => void;

/** Everything the addon exports: NativeCoreAddon plus the fused kernels. */
export type NativeAddon = NativeCoreAddon & Pick<Kernels, Exclude<FusedMethodName, 'ropeForward' | 'ropeBackward'>> & { ropeForward: NativeRope; ropeBackward: NativeRope };

const CONTROL_FUNCTIONS = ['isa', 'bestIsa', 'avx512Emulated', 'setIsa', 'threads', 'setThreads', 'peakGflops', 'gemmTiles', 'gemmVariant', 'setGemmVariant', 'workspaceBytes'] as const;
const CORE_FUNCTIONS: readonly string[] = [...CORE_METHODS, ...CONTROL_FUNCTIONS];
const ALL_FUNCTIONS: readonly string[] = [...CORE_FUNCTIONS, ...FUSED_METHODS];

/**
 * Absolute path of the addon binary: `FOG8_NATIVE_ADDON` when set (resolved against the current
 * directory), else `build/Release/fog8_native.node` in the package.
 */
export function nativeAddonPath(): string {
  const override = process.env.FOG8_NATIVE_ADDON;
  if (override !== undefined && override !== '') return resolve(override);
  return join(packageRoot(), 'build', 'Release', 'fog8_native.node');
}

function missingFunctions(module: unknown, names: readonly string[]): string[] {
  if (typeof module !== 'object' || module === null) return [...names];
  const record: Record<string, unknown> = { ...module };
  return names.filter((n) => typeof record[n] !== 'function');
}

function isCoreAddon(module: unknown): module is NativeCoreAddon {
  return missingFunctions(module, CORE_FUNCTIONS).length === 0;
}

function isFullAddon(module: NativeCoreAddon): module is NativeAddon {
  return missingFunctions(module, ALL_FUNCTIONS).length === 0;
}

let cachedAddon: NativeCoreAddon | null = null;

/**
 * The raw addon's casts, GEMM and control functions (for tests and benchmarks; models use
 * `loadKernels`). Throws an Error saying why when the binary is missing, fails to load, or lacks
 * one of them.
 */
export function loadNativeAddon(): NativeCoreAddon {
  if (cachedAddon !== null) return cachedAddon;
  const path = nativeAddonPath();
  if (!existsSync(path)) {
    const hint = process.env.FOG8_NATIVE_ADDON ? 'FOG8_NATIVE_ADDON names a file that does not exist' : 'run `npm install` or `node scripts/build-native.mjs`';
    throw new Error(`fog8 native addon not built: ${path} is missing (${hint})`);
  }
  let module: unknown;
  try {
    module = createRequire(import.meta.url)(path);
  } catch (error) {
    throw new Error(`fog8 native addon failed to load from ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!isCoreAddon(module)) {
    throw new Error(`fog8 native addon at ${path} is incomplete: missing ${missingFunctions(module, CORE_FUNCTIONS).join(', ')} (rebuild it)`);
  }
  cachedAddon = module;
  return module;
}

/** ropeFrequencies of the last (D, theta, scaling), reused: RoPE runs twice per layer per pass. */
let lastFrequencies: { key: string; table: Float64Array } | null = null;
function frequencies(D: number, theta: number, scaling: RopeScaling | null): Float64Array {
  const key = JSON.stringify([D, theta, scaling]);
  if (lastFrequencies?.key !== key) lastFrequencies = { key, table: ropeFrequencies(D, theta, scaling) };
  return lastFrequencies.table;
}

/** The native `Kernels` backend (not validated: wrap it with `withValidation`, as `loadKernels` does). */
export function loadNativeKernels(): Kernels {
  const addon = loadNativeAddon();
  if (!isFullAddon(addon)) {
    throw new Error(`fog8 native addon at ${nativeAddonPath()} lacks kernels: ${missingFunctions(addon, ALL_FUNCTIONS).join(', ')} (rebuild it)`);
  }
  return {
    name: 'native',
    precision: 'float32',
    alloc: (n) => new Float32Array(n),
    get isa() {
      return addon.isa();
    },
    get threads() {
      return addon.threads();
    },
    workspaceBytes: () => addon.workspaceBytes(),
    quantize: (x, format, scale, codes) => addon.quantize(x, format, scale, codes),
    dequantize: (codes, format, invScale, out, roundBf16) => addon.dequantize(codes, format, invScale, out, roundBf16),
    quantizeDequantize: (x, format, scale, out, roundBf16) => addon.quantizeDequantize(x, format, scale, out, roundBf16),
    roundBf16: (x, out) => addon.roundBf16(x, out),
    packBf16: (x, bits) => addon.packBf16(x, bits),
    gemm: (M, N, K, a, b, c, alpha, beta) => addon.gemm(M, N, K, a, b, c, alpha, beta),
    rmsnormForward: (x, gain, y, rstd, R, C, eps, roundBf16) => addon.rmsnormForward(x, gain, y, rstd, R, C, eps, roundBf16),
    rmsnormBackward: (dy, x, gain, rstd, dx, dgain, R, C, roundBf16) => addon.rmsnormBackward(dy, x, gain, rstd, dx, dgain, R, C, roundBf16),
    // The addon takes the float64 frequency table (one formula, ropeFrequencies, for both backends).
    ropeForward: (x, y, B, T, H, D, theta, scaling, roundBf16) => addon.ropeForward(x, y, B, T, H, D, frequencies(D, theta, scaling ?? null), roundBf16),
    ropeBackward: (dy, dx, B, T, H, D, theta, scaling, roundBf16) => addon.ropeBackward(dy, dx, B, T, H, D, frequencies(D, theta, scaling ?? null), roundBf16),
    crossEntropyForward: (logits, targets, losses, lse, R, V) => addon.crossEntropyForward(logits, targets, losses, lse, R, V),
    crossEntropyBackward: (logits, targets, lse, dloss, dlogits, R, V, roundBf16) =>
      addon.crossEntropyBackward(logits, targets, lse, dloss, dlogits, R, V, roundBf16),
    attentionForward: (q, k, v, o, lse, shape, fp8, options) => addon.attentionForward(q, k, v, o, lse, shape, fp8, options),
    attentionBackward: (q, k, v, o, lse, do_, dq, dk, dv, shape, fp8) =>
      addon.attentionBackward(q, k, v, o, lse, do_, dq, dk, dv, shape, fp8),
    swigluForward: (h, a, R, F, roundBf16) => addon.swigluForward(h, a, R, F, roundBf16),
    swigluBackward: (h, da, dh, R, F, roundBf16) => addon.swigluBackward(h, da, dh, R, F, roundBf16),
    smoothSwigluForward: (h, a, s, R, F, roundBf16) => addon.smoothSwigluForward(h, a, s, R, F, roundBf16),
    smoothSwigluBackward: (h, s, da, dh, R, F, roundBf16) => addon.smoothSwigluBackward(h, s, da, dh, R, F, roundBf16),
    geluForward: (x, y, roundBf16) => addon.geluForward(x, y, roundBf16),
    geluBackward: (x, dy, dx, roundBf16) => addon.geluBackward(x, dy, dx, roundBf16),
    xieluForward: (x, y, p, roundBf16) => addon.xieluForward(x, y, p, roundBf16),
    xieluBackward: (x, dy, dx, p, roundBf16) => addon.xieluBackward(x, dy, dx, p, roundBf16),
    adamw: (w, g, m, v, p) => addon.adamw(w, g, m, v, p),
    rowMoments: (x, R, C, out) => addon.rowMoments(x, R, C, out),
    sumSquares: (x) => addon.sumSquares(x),
    addInPlace: (acc, x, roundBf16) => addon.addInPlace(acc, x, roundBf16 ?? false),
    copyColumns: (src, srcCols, srcCol0, dst, dstCols, dstCol0, R, cols) => addon.copyColumns(src, srcCols, srcCol0, dst, dstCols, dstCol0, R, cols),
  };
}
