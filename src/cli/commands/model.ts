/** `fog8 model`: prints a preset × size architecture and its parameter count without allocating weights. */
import type { Command } from 'commander';
import { PRESET_NAMES, SIZE_NAMES, isGatedMlp, resolveModelConfig, type ModelConfig } from '../../model/config.js';
import { toHfConfig } from '../../model/hf-config.js';
import { buildParamSpecs, parameterGroups } from '../../model/params.js';
import { flopsPerToken } from '../../model/model.js';

function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}

/** Human-readable description of a config (architecture, shapes, parameter groups). */
export function describeModel(c: ModelConfig): string {
  const g = parameterGroups(c);
  const rope = c.ropeScaling
    ? `, Llama-3.1 scaling (factor ${c.ropeScaling.factor}, low/high ${c.ropeScaling.lowFreqFactor}/${c.ropeScaling.highFreqFactor}, original context ${c.ropeScaling.originalContext})`
    : '';
  const upscale = c.inputUpscaleRule === 'inv-init-std' ? `${c.inputUpscale} (1/initStd, initStd ${c.initStd})` : String(c.inputUpscale);
  const lines = [
    `preset ${c.preset}, size ${c.size}`,
    `  layers ${c.nLayers}, d_model ${c.dModel}, heads ${c.nHeads} (kv ${c.nKvHeads}, head_dim ${c.headDim}), vocab ${c.vocabSize}, seq ${c.seqLen}`,
    `  MLP ${c.mlp} (${isGatedMlp(c.mlp) ? 'gated' : 'non-gated'}, width ${c.ffnDim}), QK ${c.qkNorm}, softmax scale ${c.softmaxScale}, RoPE θ ${c.ropeTheta}${rope}`,
    `  pre-norm ${c.preNorm}, post-norm ${c.postNorm}, LayerScale ${c.layerScale}, final norm ${c.finalNorm}, input upscale ${upscale}, embeddings ${c.tieEmbeddings ? 'tied' : 'untied'}`,
    `parameters ${formatCount(g.total)} (${g.total}): matrices ${g.matrix}, vectors ${g.vector}; embedding ${formatCount(g.embedding)}, blocks ${formatCount(g.blocks)}, LM head ${c.tieEmbeddings ? 'tied to the embedding' : formatCount(g.lmHead)}`,
    `matmul FLOPs per token (fwd+bwd) ${formatCount(flopsPerToken(c))}`,
  ];
  return lines.join('\n');
}

/** What `fog8 model --json` prints: parameter counts, FLOPs, the resolved config and its config.json. */
export function modelSummary(c: ModelConfig) {
  return { preset: c.preset, size: c.size, parameters: parameterGroups(c), flopsPerToken: flopsPerToken(c), config: c, hfConfig: toHfConfig(c) };
}

export function registerModelCommand(program: Command): void {
  program
    .command('model')
    .description('print a model architecture and its parameter count (nothing is allocated)')
    .option('--preset <name>', `architecture preset: ${PRESET_NAMES.join(', ')}`, 'fog-xielu')
    .option('--size <name>', `size: ${SIZE_NAMES.join(', ')}`, 'small')
    .option('--json', 'print parameters (total, matrix, vector, embedding, lmHead, blocks), flopsPerToken, config and hfConfig as JSON')
    .option('--hf', 'print only the Hugging Face config.json fields')
    .option('--tensors', 'also list every parameter tensor (name, shape)')
    .action((opts: { preset: string; size: string; json?: boolean; hf?: boolean; tensors?: boolean }) => {
      const c = resolveModelConfig({ preset: opts.preset, size: opts.size });
      if (opts.hf) {
        console.log(JSON.stringify(toHfConfig(c), null, 2));
        return;
      }
      if (opts.json) {
        console.log(JSON.stringify(modelSummary(c), null, 2));
        return;
      }
      console.log(describeModel(c));
      if (opts.tensors) for (const s of buildParamSpecs(c)) console.log(`  ${s.name} [${s.shape.join(', ')}]`);
    });
}
