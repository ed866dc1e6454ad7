/** `fog8 model`: prints a preset × size architecture and its parameter count without allocating weights. */
import type { Command } from 'commander';
import { PRESET_NAMES, SIZE_NAMES, isGatedMlp, resolveModelConfig, toHfConfig, type ModelConfig } from '../../model/config.js';
import { buildParamSpecs, shapeSize } from '../../model/params.js';
import { flopsPerToken } from '../../model/model.js';

function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}

/** Human-readable description of a config (architecture, shapes, parameter groups). */
export function describeModel(c: ModelConfig): string {
  const specs = buildParamSpecs(c);
  const total = specs.reduce((a, s) => a + shapeSize(s.shape), 0);
  const embed = shapeSize(specs[0].shape);
  const head = shapeSize(specs[specs.length - 1].shape);
  const lines = [
    `preset ${c.preset}, size ${c.size}`,
    `  layers ${c.nLayers}, d_model ${c.dModel}, heads ${c.nHeads} (kv ${c.nKvHeads}, head_dim ${c.headDim}), vocab ${c.vocabSize}, seq ${c.seqLen}`,
    `  MLP ${c.mlp} (${isGatedMlp(c.mlp) ? 'gated' : 'non-gated'}, width ${c.ffnDim}), QK ${c.qkNorm}, softmax scale ${c.softmaxScale}, RoPE θ ${c.ropeTheta}`,
    `  pre-norm ${c.preNorm}, post-norm ${c.postNorm}, LayerScale ${c.layerScale}, final norm ${c.finalNorm}, input upscale ${c.inputUpscale}`,
    `parameters ${formatCount(total)} (${total}): embedding ${formatCount(embed)}, blocks ${formatCount(total - embed - head)}, LM head ${formatCount(head)}`,
    `matmul FLOPs per token (fwd+bwd) ${formatCount(flopsPerToken(c))}`,
  ];
  return lines.join('\n');
}

export function registerModelCommand(program: Command): void {
  program
    .command('model')
    .description('print a model architecture and its parameter count (nothing is allocated)')
    .option('--preset <name>', `architecture preset: ${PRESET_NAMES.join(', ')}`, 'fog-xielu')
    .option('--size <name>', `size: ${SIZE_NAMES.join(', ')}`, 'small')
    .option('--json', 'print the Hugging Face config.json fields instead')
    .option('--tensors', 'also list every parameter tensor (name, shape)')
    .action((opts: { preset: string; size: string; json?: boolean; tensors?: boolean }) => {
      const c = resolveModelConfig({ preset: opts.preset, size: opts.size });
      if (opts.json) {
        console.log(JSON.stringify(toHfConfig(c), null, 2));
        return;
      }
      console.log(describeModel(c));
      if (opts.tensors) for (const s of buildParamSpecs(c)) console.log(`  ${s.name} [${s.shape.join(', ')}]`);
    });
}
