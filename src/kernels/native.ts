/**
 * The native backend: loads the C++ addon `build/Release/fog8_native.node` (built by
 * `scripts/build-native.mjs` during `npm install`; `FOG8_NATIVE_ADDON=<path>` loads another
 * build instead, e.g. the emulated AVX-512 one of `scripts/test-avx512-emulated.mjs`) and maps
 * every kernel function of the signature table (signatures.ts) onto the addon function of the same
 * name, same argument order (shape objects are passed as plain objects), marshalled where the
 * table says so. Arguments are checked by `withValidation` (the loader wraps this backend); the
 * addon itself checks only what keeps memory safe — buffer types and the lengths it reads and
 * writes — and throws TypeError rather than crash.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { packageRoot } from '../util/package-root.js';
import type { Kernels, RopeScaling } from './types.js';
import { ropeFrequencies } from './reference/rope.js';
import { KERNEL_NAMES, KERNEL_SIGNATURES, type KernelFunctionName, type KernelSignature, type Marshal } from './signatures.js';

/** Casts and GEMM (bind_casts_gemm.cpp), under the Kernels method names. */
const CORE_METHODS = ['quantize', 'quantizeColumns', 'dequantize', 'quantizeDequantize', 'roundBf16', 'packBf16', 'gemm'] as const satisfies readonly (keyof Kernels)[];

type CoreMethodName = (typeof CORE_METHODS)[number];

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
  /** Chooses the GEMM variant ("default" restores the built-in one); RangeError if invalid. All
   *  variants give bit-identical results. */
  setGemmVariant(variant: string): void;
  /** Bytes the addon holds between calls (GEMM packing buffers, RoPE table). */
  workspaceBytes(): number;
};

/** The addon's RoPE: the last argument is the D/2 float64 frequency table (ropeFrequencies), not theta. */
type NativeRope = (src: Float32Array, dst: Float32Array, B: number, T: number, H: number, D: number, frequencies: Float64Array, roundBf16?: boolean) => void;

/** Everything the addon exports: NativeCoreAddon plus every kernel function of the table (RoPE marshalled). */
export type NativeAddon = NativeCoreAddon & Pick<Kernels, Exclude<KernelFunctionName, 'ropeForward' | 'ropeBackward'>> & { ropeForward: NativeRope; ropeBackward: NativeRope };

const CONTROL_FUNCTIONS = ['isa', 'bestIsa', 'avx512Emulated', 'setIsa', 'threads', 'setThreads', 'peakGflops', 'gemmTiles', 'gemmVariant', 'setGemmVariant', 'workspaceBytes'] as const;
const CORE_FUNCTIONS: readonly string[] = [...CORE_METHODS, ...CONTROL_FUNCTIONS];
const ALL_FUNCTIONS: readonly string[] = [...CONTROL_FUNCTIONS, ...KERNEL_NAMES];

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

/**
 * The marshallings the table names: a call's arguments → the addon's. RoPE's addon takes the
 * float64 frequency table (one formula, ropeFrequencies, for both backends) instead of (theta, scaling).
 */
const MARSHAL: Record<Marshal, (args: readonly unknown[]) => unknown[]> = {
  // The types are the interface's (withValidation checks them; unchecked garbage is rejected by the addon or throws here).
  ropeFrequencies: ([x, y, B, T, H, D, theta, scaling, roundBf16]) => [x, y, B, T, H, D, frequencies(D as number, theta as number, (scaling ?? null) as RopeScaling | null), roundBf16],
};

function marshalOf(name: KernelFunctionName): Marshal | undefined {
  const signature: KernelSignature = KERNEL_SIGNATURES[name];
  return signature.marshal;
}

/** An addon call's arguments for kernel `name`: the call's own, marshalled when the table says so. */
export function addonArguments(name: KernelFunctionName, args: readonly unknown[]): unknown[] {
  const marshal = marshalOf(name);
  return marshal === undefined ? [...args] : MARSHAL[marshal](args);
}

/** The native `Kernels` backend (not validated: wrap it with `withValidation`, as `loadKernels` does). */
export function loadNativeKernels(): Kernels {
  const addon = loadNativeAddon();
  if (!isFullAddon(addon)) {
    throw new Error(`fog8 native addon at ${nativeAddonPath()} lacks kernels: ${missingFunctions(addon, ALL_FUNCTIONS).join(', ')} (rebuild it)`);
  }
  return {
    ...addonFunctions(addon),
    name: 'native',
    precision: 'float32',
    alloc: (n) => new Float32Array(n),
    get isa() {
      return addon.isa();
    },
    get threads() {
      return addon.threads();
    },
    get workspaceBytes() {
      return addon.workspaceBytes();
    },
  };
}

/** Each kernel function of the table: the addon's function itself, or a marshalling wrapper around it. */
function addonFunctions(addon: NativeAddon): Pick<Kernels, KernelFunctionName> {
  const functions: Partial<Record<KernelFunctionName, (...args: never[]) => unknown>> = {};
  for (const name of KERNEL_NAMES) {
    const fn: (...args: never[]) => unknown = addon[name];
    const marshal = marshalOf(name);
    functions[name] = marshal === undefined ? fn : (...args: never[]) => Reflect.apply(fn, addon, MARSHAL[marshal](args));
  }
  // Every name of the table is set above, and the table's names are exactly the kernel functions (signatures.ts).
  return functions as Pick<Kernels, KernelFunctionName>;
}
