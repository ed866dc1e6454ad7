/**
 * The activation table: one declaration per tensor handed from one op to the next (forward
 * outputs and their gradients), with the storage the recipe gives it. It is to the inter-op
 * tensors what params.ts is to the parameters, and the one place that decides a tensor's dtype:
 * ModelGraph binds each entry to its buffer and rounds exactly the entries declared 'bf16' with
 * rounding 'round', right after their producer (forward) or its backward (gradients).
 *
 * The rule (DESIGN §3 "What stays wide", Megatron `--bf16`): every tensor passed between ops is
 * stored BF16 (RNE) when `recipe.activations` is 'bf16'; everything in FLOAT32_PLACES stays float32.
 * In Megatron the residual stream is a BF16 tensor (fp32_residual_connection off), so its add
 * rounds; the residual gradient is the autograd sum of two BF16 gradients, formed in float32 and
 * rounded once (PyTorch adds BF16 tensors that way), which the fork's boundary reproduces; parameter
 * gradients accumulate in float32 (Megatron's main_grad).
 */
import type { ActivationPrecision } from '../numerics/recipe.js';
import { blockWidths, type ModelConfig } from './config.js';

/**
 * How an entry becomes BF16 when the recipe says so:
 * - 'round': the graph rounds the buffer in place (kernels.roundBf16) right after its producer
 *   (forward entries) or right after the producer's backward (gradient entries);
 * - 'op': the producing op rounds as it writes: attention's O (which the op also saves for its
 *   backward) and the fused LM head's logits and dlogits chunks (which never exist whole);
 * - 'exact': views of tensors that are BF16 already (the QKV split: q, k, v are column blocks of the
 *   projection's planar output, dqkv the blocks their gradients are written into), so no work.
 */
export type Rounding = 'round' | 'op' | 'exact';

/** The ops of one layer and of the model that produce table entries (keys of ModelGraph's ops). */
export type Producer =
  | 'embedding' | 'input_norm' | 'qkv' | 'split' | 'q_norm' | 'k_norm' | 'q_rope' | 'k_rope' | 'attention' | 'attn_out'
  | 'attn_post' | 'attn_residual' | 'attn_fork' | 'post_attn_norm' | 'fc1' | 'act' | 'fc2' | 'rescale' | 'mlp_post'
  | 'mlp_residual' | 'mlp_fork' | 'final_norm' | 'lm_head';

export interface ActivationSpec {
  /** Tensor name; gradients start with 'd.', e.g. 'qkv.out' and 'd.qkv.in'. */
  name: string;
  /** 'forward': an op's output; 'backward': the gradient an op's backward hands on. */
  pass: 'forward' | 'backward';
  /** The op that writes it (for 'backward', the op whose backward writes it). */
  producer: Producer;
  /** true inside each block (one instance per layer), false outside (embedding, final norm, head). */
  perLayer: boolean;
  /** Elements per row of the (R = B·T)-row tensor. */
  cols: number;
  dtype: ActivationPrecision;
  rounding: Rounding;
}

/** What stays float32 whatever `activations` says (documentation and the probe test's negative checks). */
export const FLOAT32_PLACES: readonly string[] = Object.freeze([
  'arithmetic inside every op: GEMM accumulation, norms, softmax, RoPE, activations, cross-entropy',
  'statistics saved for backward: RMSNorm rstd, attention and cross-entropy log-sum-exp, Smooth-SwiGLU s',
  'parameter gradients: wgrad GEMMs accumulate with beta 1, norm gains, LayerScale, DyT α, xIELU α and the embedding scatter-add accumulate in float32 (Megatron main_grad)',
  'optimizer state and master weights (their own precision knobs)',
  'the loss and its per-token terms',
]);

/** The activation table of a config under `activations` (entries of absent ops are omitted). */
export function buildActivationTable(c: ModelConfig, activations: ActivationPrecision): ActivationSpec[] {
  const specs: ActivationSpec[] = [];
  const { d, Wq, Wkv, F, F1 } = blockWidths(c);
  const branchPost = c.postNorm || c.layerScale;
  const add = (pass: ActivationSpec['pass'], name: string, producer: Producer, cols: number, perLayer = true, rounding: Rounding = 'round') =>
    specs.push({ name, pass, producer, perLayer, cols, dtype: activations, rounding });
  const fwd = (name: string, producer: Producer, cols: number, rounding: Rounding = 'round') => add('forward', name, producer, cols, true, rounding);
  const bwd = (name: string, producer: Producer, cols: number, rounding: Rounding = 'round') => add('backward', name, producer, cols, true, rounding);

  add('forward', 'embedding.out', 'embedding', d, false);
  // one block, forward in execution order
  if (c.preNorm) fwd('input_norm.out', 'input_norm', d);
  fwd('qkv.out', 'qkv', Wq + 2 * Wkv);
  fwd('split.q', 'split', Wq, 'exact');
  fwd('split.k', 'split', Wkv, 'exact');
  fwd('split.v', 'split', Wkv, 'exact');
  if (c.qkNorm !== 'none') {
    fwd('q_norm.out', 'q_norm', Wq);
    fwd('k_norm.out', 'k_norm', Wkv);
  }
  fwd('q_rope.out', 'q_rope', Wq);
  fwd('k_rope.out', 'k_rope', Wkv);
  fwd('attention.out', 'attention', Wq, 'op'); // the op rounds O before saving it for its backward
  fwd('attn_out.out', 'attn_out', d);
  if (branchPost) fwd('attn_post.out', 'attn_post', d);
  fwd('attn_residual.out', 'attn_residual', d);
  if (c.preNorm) fwd('post_attn_norm.out', 'post_attn_norm', d);
  fwd('fc1.out', 'fc1', F1); // also rounded again after backward's recompute of it
  fwd('act.out', 'act', F);
  fwd('fc2.out', 'fc2', d);
  if (c.mlp === 'smooth-swiglu') fwd('rescale.out', 'rescale', d);
  if (branchPost) fwd('mlp_post.out', 'mlp_post', d);
  fwd('mlp_residual.out', 'mlp_residual', d);
  if (c.finalNorm) add('forward', 'final_norm.out', 'final_norm', d, false);
  add('forward', 'lm_head.logits', 'lm_head', c.vocabSize, false, 'op');

  // backward, in execution order
  add('backward', 'd.lm_head.logits', 'lm_head', c.vocabSize, false, 'op');
  add('backward', 'd.lm_head.in', 'lm_head', d, false);
  if (c.finalNorm) add('backward', 'd.final_norm.in', 'final_norm', d, false);
  if (branchPost) bwd('d.mlp_post.in', 'mlp_post', d);
  if (c.mlp === 'smooth-swiglu') bwd('d.rescale.in', 'rescale', d);
  bwd('d.fc2.in', 'fc2', F);
  bwd('d.act.in', 'act', F1);
  bwd('d.fc1.in', 'fc1', d);
  if (c.preNorm) bwd('d.post_attn_norm.in', 'post_attn_norm', d);
  bwd('d.mlp_fork.out', 'mlp_fork', d); // dres += d(branch input), then rounded
  if (branchPost) bwd('d.attn_post.in', 'attn_post', d);
  bwd('d.attn_out.in', 'attn_out', Wq);
  bwd('d.attention.q', 'attention', Wq);
  bwd('d.attention.k', 'attention', Wkv);
  bwd('d.attention.v', 'attention', Wkv);
  bwd('d.q_rope.in', 'q_rope', Wq);
  bwd('d.k_rope.in', 'k_rope', Wkv);
  if (c.qkNorm !== 'none') {
    bwd('d.q_norm.in', 'q_norm', Wq);
    bwd('d.k_norm.in', 'k_norm', Wkv);
  }
  bwd('d.split.in', 'split', Wq + 2 * Wkv, 'exact');
  bwd('d.qkv.in', 'qkv', d);
  if (c.preNorm) bwd('d.input_norm.in', 'input_norm', d);
  bwd('d.attn_fork.out', 'attn_fork', d);
  return specs;
}

/** Whether the table hands `name` on as a BF16 tensor it rounds (its values are then exact as BF16 bits). */
export function isRoundedBf16(c: ModelConfig, activations: ActivationPrecision, name: string): boolean {
  const spec = buildActivationTable(c, activations).find((e) => e.name === name);
  return spec?.dtype === 'bf16' && spec.rounding === 'round';
}
