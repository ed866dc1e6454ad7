/**
 * Synthetic GEMM operands for the GEMM benchmarks (bench/gemm-avx512.bench.ts, tools/gemm-shapes.ts):
 * n uniform values in [−2, 2) from a fixed LCG, as float32, BF16 bits or FP8 codes (scale 1,
 * inverse scale 0.5).
 */
import type { NativeCoreAddon } from '../src/kernels/native.js';
import type { GemmOperand, OperandDtype } from '../src/kernels/types.js';

export function syntheticOperand(addon: NativeCoreAddon, dtype: OperandDtype, n: number, trans: boolean): GemmOperand {
  const v = new Float32Array(n);
  let s = 7;
  for (let i = 0; i < n; i++) { s = (Math.imul(s, 1103515245) + 12345) >>> 0; v[i] = (s / 2 ** 32 - 0.5) * 4; }
  if (dtype === 'f32') return { dtype, data: v, trans };
  if (dtype === 'bf16') { const b = new Uint16Array(n); addon.packBf16(v, b); return { dtype, data: b, trans }; }
  const c = new Uint8Array(n); addon.quantize(v, dtype, 1, c); return { dtype, data: c, trans, invScale: 0.5 };
}
