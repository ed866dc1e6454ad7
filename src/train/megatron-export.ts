/**
 * `fog8 export megatron RUN` (issue 13 §5): what a user needs to continue a fog8 experiment on
 * the authors' Megatron-LM fork (github.com/anonymous4375934/FOG), written to one directory:
 *
 *   hf/             the weights as a Hugging Face checkpoint — the run's checkpoint already stores
 *                   model.safetensors and config.json in HF layout (LlamaConfig for plain Llama
 *                   presets, the authors' FOGConfig otherwise, src/model/hf-config.ts), copied as
 *                   they are — plus the tokenizer (tokenizer.json, tokenizer_config.json);
 *   data/NAME.bin/.idx  the training data, a Megatron indexed dataset (fog8 writes that format);
 *   megatron-args.sh    `pretrain_gpt.py` arguments for the run's shape, preset, precision
 *                   recipe, optimizer precisions, batch and schedule, in the flag names of the
 *                   fork's scripts/submit.sh and megatron/training/arguments.py, and (plain
 *                   Llama presets) the tools/checkpoint/convert.py command that loads hf/ with
 *                   their loader_llama_mistral.py;
 *   README.md       the round trip and what does not carry over.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { resolveCheckpointDir } from './checkpoint-files.js';
import { CONFIG_FILE, MODEL_FILE, readCheckpoint } from './checkpoint.js';
import { DEFAULT_TRAIN_CONFIG, validateTrainConfig, type TrainConfig } from './config.js';
import { recipeOf } from './session.js';
import { LEGACY_ACTIVATIONS, type PrecisionRecipe } from '../numerics/recipe.js';
import { fromHfConfig, isLlamaConfig } from '../model/hf-config.js';
import type { ModelConfig } from '../model/config.js';
import { prepareDefaultCorpus } from '../data/default-corpus.js';

export interface MegatronExport {
  outDir: string;
  /** Arguments of pretrain_gpt.py, in order (no shell quoting). */
  args: string[];
  /** The convert.py command (plain Llama presets) or null (FOG/OP: no loader into Megatron). */
  convert: string[] | null;
  /** Things of the fog8 run that the Megatron run does not reproduce, one sentence each. */
  notes: string[];
  step: number;
}

/** fog8 optimizer-state precision → the fork's --main-grads-dtype / --exp-avg-dtype values. */
const DTYPE: Readonly<Record<string, string>> = { fp32: 'fp32', bf16: 'bf16', fp16: 'fp16', fp8: 'fp8' };

/** The pretrain_gpt.py arguments of a fog8 run (flag names of the authors' fork). */
export function megatronArgs(config: TrainConfig, model: ModelConfig, recipe: PrecisionRecipe, paths: { data: string; tokenizer: string | null }): { args: string[]; notes: string[] } {
  const a: string[] = [];
  const notes: string[] = [];
  const add = (...xs: (string | number)[]): void => void a.push(...xs.map(String));
  // Shape (LLAMA_ARGS of submit.sh).
  add('--num-layers', model.nLayers, '--hidden-size', model.dModel, '--ffn-hidden-size', model.ffnDim, '--num-attention-heads', model.nHeads);
  add('--group-query-attention', '--num-query-groups', model.nKvHeads);
  if (model.headDim * model.nHeads !== model.dModel) add('--kv-channels', model.headDim);
  add('--seq-length', model.seqLen, '--max-position-embeddings', model.seqLen);
  add('--normalization', 'RMSNorm', '--norm-epsilon', model.normEps, '--position-embedding-type', 'rope', '--rotary-base', model.ropeTheta, '--rotary-percent', '1.0');
  if (model.ropeScaling) add('--use-rope-scaling');
  add('--attention-softmax-in-fp32', '--disable-bias-linear', '--transformer-impl', 'transformer_engine', '--attention-dropout', '0.0', '--hidden-dropout', '0.0');
  if (!model.tieEmbeddings) add('--untie-embeddings-and-output-weights');
  add('--init-method-std', model.initStd);
  if (paths.tokenizer) add('--tokenizer-type', 'HuggingFaceTokenizer', '--tokenizer-model', paths.tokenizer);
  else {
    add('--tokenizer-type', 'NullTokenizer', '--vocab-size', model.vocabSize);
    notes.push('the run has no tokenizer file (token ids only), so Megatron runs with its NullTokenizer over the same ids');
  }
  // Architecture (ARCH_ARGS of submit.sh).
  if (model.mlp === 'swiglu') add('--swiglu');
  else if (model.mlp === 'smooth-swiglu') add('--scaled-swiglu', '--swiglu');
  else if (model.mlp === 'xielu') add('--xielu');
  // gelu is Megatron's default activation; non-gated widths are already in --ffn-hidden-size.
  if (!model.preNorm) {
    add('--no-pre-layer-norm');
    if (!model.finalNorm) add('--no-final-layernorm');
  } else if (!model.finalNorm) notes.push('a pre-norm model without a final norm has no Megatron flag (it always adds one with pre-norm)');
  if (model.postNorm) add('--post-layer-norm');
  if (model.qkNorm !== 'none') {
    add('--qk-layernorm');
    if (model.qkNorm === 'tanh') add('--qk-dyt', '--dyt-alpha-init', '1.0');
    else add('--qknorm-impl', 'apex');
    if (model.qkNorm === 'rmsnorm') add('--no-train-qk-gains');
  }
  if (model.softmaxScale !== 1 / Math.sqrt(model.headDim)) add('--softmax-scale', model.softmaxScale);
  const beta = 1 / Math.sqrt(model.nLayers);
  if (model.postNorm && !model.preNorm && model.postNormGainInit === 'inv-sqrt-layers') add('--layernorm-init', beta);
  else if (model.layerScale) add('--layer-scale', beta);
  if (model.inputUpscale !== 1) add('--input-embeddings-multiplier', model.inputUpscale);
  // Precision (FP8_ARGS of submit.sh). Megatron's wide tensors are BF16 under --bf16 (fp32 without it).
  if (recipe.gemm !== 'fp32') add('--bf16');
  if (recipe.gemm !== 'fp32' && recipe.activations === 'fp32') notes.push('this run kept its wide tensors (activations) in float32; Megatron with --bf16 keeps them in BF16');
  if (recipe.gemm === 'fp8') {
    add('--fp8-format', 'hybrid');
    if (recipe.scaling === 'delayed') {
      add('--fp8-recipe', 'delayed', '--fp8-margin', recipe.margin, '--fp8-amax-history-len', recipe.amaxHistoryLen, '--fp8-amax-compute-algo', recipe.amaxAlgo);
    } else if (recipe.scaling === 'current') add('--fp8-recipe', 'tensorwise');
    else notes.push(`fog8's block scaling (1×${recipe.blockSizeActivation} / ${recipe.blockSizeWeight}² tiles) has no equivalent in the fork (its recipes: delayed, tensorwise, mxfp8); the arguments use delayed scaling`);
    if (recipe.scaling === 'block') add('--fp8-recipe', 'delayed');
    if (recipe.fp8Attention) add('--fp8-dot-product-attention');
    if (recipe.fp8LmHead) add('--lm-head-in-fp8');
  }
  const opt = { grads: config.gradPrecision, params: config.masterPrecision, m1: config.m1Precision, m2: config.m2Precision };
  if (opt.grads !== 'fp32' || opt.params !== 'fp32' || opt.m1 !== 'fp32' || opt.m2 !== 'fp32') {
    add('--use-precision-aware-optimizer', '--main-grads-dtype', DTYPE[opt.grads], '--main-params-dtype', DTYPE[opt.params], '--exp-avg-dtype', DTYPE[opt.m1], '--exp-avg-sq-dtype', DTYPE[opt.m2]);
  }
  // Training (TRAINING_ARGS, SCHEDULER_ARGS).
  const microBatch = config.batch / config.microBatches;
  add('--micro-batch-size', microBatch, '--global-batch-size', config.batch, '--train-iters', config.steps);
  add('--lr', config.lr, '--min-lr', config.minLr, '--lr-warmup-iters', config.warmup);
  if (config.schedule === 'wsd') add('--lr-decay-style', 'WSD', '--lr-wsd-decay-style', '1-sqrt', '--lr-wsd-decay-iters', Math.round(config.cooldownFraction * config.steps));
  else add('--lr-decay-style', config.schedule);
  add('--weight-decay', config.weightDecay, '--adam-beta1', config.beta1, '--adam-beta2', config.beta2, '--adam-eps', config.eps, '--clip-grad', config.gradClip);
  add('--seed', config.seed);
  // Data (DATA_ARGS).
  add('--data-path', paths.data, '--split', '99,1,0');
  notes.push(`Megatron draws its own sample order and validation split (--split 99,1,0 by sequences) from the same .bin/.idx; fog8 held out ${config.valFraction} of the documents`);
  notes.push('the Megatron run casts and scales FP8 with Transformer Engine on GPUs: same recipe, different kernels, so losses agree statistically, not bit for bit');
  return { args: a, notes };
}

/** Writes the export of a run (or one checkpoint directory) to `outDir`. */
export async function exportMegatron(run: string, outDir: string): Promise<MegatronExport> {
  const dir = resolveCheckpointDir(run);
  const ckpt = readCheckpoint(dir, true);
  const state = ckpt.trainerState!;
  // As --resume reads it: keys added since the run was saved take their defaults (activations: the old float32).
  const config = validateTrainConfig({ ...DEFAULT_TRAIN_CONFIG, activations: LEGACY_ACTIVATIONS, ...(state.config as Record<string, unknown>) });
  const model = fromHfConfig(ckpt.hfConfig);
  const recipe = recipeOf(config);
  const out = resolve(outDir);
  const hf = join(out, 'hf');
  const dataDir = join(out, 'data');
  mkdirSync(hf, { recursive: true });
  mkdirSync(dataDir, { recursive: true });
  // Weights: the checkpoint's HF files, byte for byte (verified against the manifest by readCheckpoint).
  copyFileSync(join(dir, MODEL_FILE), join(hf, MODEL_FILE));
  copyFileSync(join(dir, CONFIG_FILE), join(hf, CONFIG_FILE));
  let tokenizer: string | null = null;
  if (ckpt.tokenizerJson !== null) {
    writeFileSync(join(hf, 'tokenizer.json'), ckpt.tokenizerJson);
    const added = (JSON.parse(ckpt.tokenizerJson) as { added_tokens?: { content: string }[] }).added_tokens ?? [];
    const eos = added.find((t) => /endoftext|eos|<\/s>/i.test(t.content))?.content ?? null;
    // AutoTokenizer (Megatron's HuggingFaceTokenizer) loads a directory with these two files.
    writeFileSync(join(hf, 'tokenizer_config.json'), JSON.stringify({ tokenizer_class: 'PreTrainedTokenizerFast', ...(eos ? { eos_token: eos, bos_token: eos } : {}), model_max_length: model.seqLen }, null, 2) + '\n');
    tokenizer = hf;
  }
  // Data: the run's indexed dataset.
  const prefix = config.data === 'brown' ? (await prepareDefaultCorpus({ vocabSize: config.vocabSize ?? model.vocabSize })).datasetPrefix : resolve(config.data);
  const name = basename(prefix);
  copyFileSync(`${prefix}.bin`, join(dataDir, `${name}.bin`));
  copyFileSync(`${prefix}.idx`, join(dataDir, `${name}.idx`));
  const { args, notes } = megatronArgs(config, model, recipe, { data: join(dataDir, name), tokenizer });
  const llama = isLlamaConfig(model) || (model.preNorm && !model.postNorm && model.qkNorm === 'none' && !model.layerScale && model.inputUpscale === 1 && model.mlp === 'smooth-swiglu');
  const convert = llama
    ? ['python', 'tools/checkpoint/convert.py', '--model-type', 'GPT', '--loader', 'llama_mistral', '--checkpoint-type', 'hf', '--model-size', 'llama3', '--load-dir', hf,
      '--save-dir', join(out, 'megatron-checkpoint'), '--tokenizer-model', tokenizer ?? hf, '--saver', 'core', '--target-tensor-parallel-size', '1', '--target-pipeline-parallel-size', '1']
    : null;
  notes.push(`the weights are those of step ${state.step}; the AdamW moments, the FP8 amax histories and the data position do not carry over (Megatron restarts them)`);
  if (!llama) notes.push('there is no FOG/OP loader into Megatron in the fork (tools/checkpoint has saver_fog_hf.py, Megatron → HF, only): hf/ loads in their transformers fork (FOGForCausalLM) for evaluation, and a Megatron run with these arguments starts from a fresh initialisation');
  if (model.mlp === 'smooth-swiglu' && llama) notes.push('loader_llama_mistral.py builds a plain SwiGLU model: add --scaled-swiglu to the training arguments (as here); the weights are the same tensors');
  if (model.ropeScaling && llama) notes.push('loader_llama_mistral.py sets seq_length 4096 while converting; the training arguments set the run\'s own');
  const q = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  const lines = [
    '#!/usr/bin/env bash',
    `# Megatron-LM (github.com/anonymous4375934/FOG, Megatron-LM/) arguments for fog8 run ${ckpt.dir} (step ${state.step}).`,
    '# Run from the fork\'s Megatron-LM directory with torchrun/srun as its scripts/submit.sh does; set SAVE_PATH.',
    `# ${config.preset}/${config.size}, ${recipe.name}${recipe.gemm === 'fp8' ? `, FP8 attention ${recipe.fp8Attention ? 'on' : 'off'}` : ''}`,
    ...(convert ? ['', '# 1. HF → Megatron weights (their loader_llama_mistral.py):', convert.map(q).join(' '), ''] : ['']),
    'MEGATRON_ARGS=(',
    ...chunk(args).map((l) => `  ${l.map(q).join(' ')}`),
    '  --save "$SAVE_PATH" --load "$SAVE_PATH"',
    ')',
    ...(convert ? [`# To start from the fog8 weights: --load ${q(join(out, 'megatron-checkpoint'))} --finetune --no-load-optim --no-load-rng`] : []),
    'python pretrain_gpt.py "${MEGATRON_ARGS[@]}"',
    '',
  ];
  writeFileSync(join(out, 'megatron-args.sh'), lines.join('\n'), { mode: 0o755 });
  const readme = [
    `# fog8 → Megatron-LM export of ${ckpt.dir}`,
    '',
    `- \`hf/\`: Hugging Face checkpoint of step ${state.step} (${isLlamaConfig(model) ? 'LlamaForCausalLM' : 'FOGForCausalLM, the authors\' transformers fork'}): model.safetensors, config.json${tokenizer ? ', tokenizer.json, tokenizer_config.json' : ''}.`,
    `- \`data/${name}.bin\`, \`data/${name}.idx\`: the training data as a Megatron indexed dataset (\`--data-path ${join(dataDir, name)}\`).`,
    '- `megatron-args.sh`: `pretrain_gpt.py` arguments with the flag names of the fork.',
    '',
    '## Not carried over',
    '',
    ...notes.map((n) => `- ${n}.`),
    '',
  ];
  writeFileSync(join(out, 'README.md'), readme.join('\n'));
  return { outDir: out, args, convert, notes, step: state.step };
}

/** Groups flag/value pairs onto lines (one flag and its values per line). */
function chunk(args: string[]): string[][] {
  const lines: string[][] = [];
  for (const x of args) {
    if (x.startsWith('--') || lines.length === 0) lines.push([x]);
    else lines[lines.length - 1].push(x);
  }
  return lines;
}

/** For tests: the exported args as a flag → values map. */
export function argMap(args: readonly string[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const l of chunk([...args])) m.set(l[0], l.slice(1));
  return m;
}
