/** The named tensors of DESIGN §6, in the order the report shows them, with what each one is. */
import type { TensorStat } from '../monitor/schema.js';

export type TensorName = TensorStat['tensor'];

/** Every named tensor; a Record so that a new schema name does not compile until described here. */
export const TENSOR_DESCRIPTIONS: Record<TensorName, string> = {
  activation: 'layer output (residual stream after the block)',
  qkv_input: 'residual stream entering attention, before any norm',
  qkv: 'QKV projection output',
  q: 'queries after QK normalisation, before RoPE',
  k: 'keys after QK normalisation, before RoPE',
  mlp_intermediate: 'fc1 output',
  mlp_post_act: 'fc2 input (after the activation)',
  mlp_out: 'fc2 output, before any post-norm',
};

export const TENSOR_NAMES = Object.keys(TENSOR_DESCRIPTIONS) as TensorName[];
