/**
 * The monitoring tap interface (DESIGN §6). Ops call it only when a sink is given, so an
 * unmonitored step pays nothing.
 */
import type { CastStats, FloatArray } from '../kernels/types.js';
import type { ScalingRole } from '../numerics/recipe.js';

/** Named per-layer tensors of DESIGN §6 (same names as the metrics schema). */
export type TensorName = 'activation' | 'qkv_input' | 'qkv' | 'q' | 'k' | 'mlp_intermediate' | 'mlp_post_act' | 'mlp_out';

/** One FP8 cast. layer −1 is outside the blocks (LM head); gemm e.g. 'attn.qkv', 'attn.dpa', 'lm_head'. */
export interface CastInfo {
  layer: number;
  gemm: string;
  role: ScalingRole;
  format: 'e4m3' | 'e5m2';
  scale: number;
  stats: CastStats;
  /** Number of elements cast. */
  count: number;
}

export interface MonitorSink {
  /**
   * A named tensor of one layer: x holds `rows` sequences (rows = B) of `cols` = T·C elements each,
   * so per-sequence statistics are per-row statistics. The buffer is reused after the call returns.
   */
  tensor(layer: number, name: TensorName, x: FloatArray, rows: number, cols: number): void;
  cast(info: CastInfo): void;
  /** Max over the batch of softmax_scale·q·k (before masking) of one layer. */
  maxLogit(layer: number, value: number): void;
  /**
   * Whether this pass's tensor statistics and max attention logits are wanted (absent = yes).
   * When false the attention kernel skips the masked-pair work the max logit needs; casts are
   * still reported (they diagnose bad steps).
   */
  readonly collectingTensors?: boolean;
}

/** True when a sink is attached and wants this pass's tensor statistics. */
export function wantsTensorStats(sink: MonitorSink | null | undefined): boolean {
  return sink != null && sink.collectingTensors !== false;
}
