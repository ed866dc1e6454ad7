/** `fog8 eval CHECKPOINT`: validation loss and perplexity of a checkpoint. */
import type { Command } from 'commander';
import { loadKernelBackend } from '../../train/kernel-backend.js';
import { loadModelForInference } from '../../train/inference.js';
import { openTrainingData } from '../../train/session.js';
import { DEFAULT_TRAIN_CONFIG, validateTrainConfig } from '../../train/config.js';
import { checkEvalMemory, planEvalBatches } from '../../train/eval-limits.js';

export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description('validation loss and perplexity of a checkpoint (a step-N directory or a run directory: newest checkpoint)')
    .argument('<checkpoint>', 'checkpoint or run directory')
    .option('--precision <name>', 'precision recipe to evaluate in (default: the one it was trained in)')
    .option('--data <data>', "'brown' or a dataset prefix (default: the training data)")
    .option('--tokenizer <path>', 'tokenizer.json for --data PREFIX (vocabulary check)')
    .option('--batches <n>', 'validation batches', (v) => Number(v))
    .option('--batch <n>', 'sequences per batch (refused when one forward pass would not fit in memory)', (v) => Number(v))
    .option('--kernels <kind>', 'auto, native or reference', 'auto')
    .option('--json', 'print one JSON object')
    .action(async (path: string, o: { precision?: string; data?: string; tokenizer?: string; batches?: number; batch?: number; kernels: 'auto' | 'native' | 'reference'; json?: boolean }) => {
      const kernels = await loadKernelBackend(o.kernels, null, 'cache');
      const loaded = loadModelForInference(path, kernels, o.precision);
      const saved = loaded.trainConfig ?? {};
      const config = validateTrainConfig({
        ...DEFAULT_TRAIN_CONFIG,
        ...saved,
        data: o.data ?? saved.data ?? 'brown',
        tokenizer: o.tokenizer ?? (o.data ? null : (saved.tokenizer ?? null)),
        batch: o.batch ?? saved.batch ?? DEFAULT_TRAIN_CONFIG.batch,
        microBatches: 1,
        vocabSize: loaded.model.config.vocabSize,
      });
      const T = loaded.model.config.seqLen;
      const data = await openTrainingData(config, T, loaded.model.config.vocabSize, () => {});
      const requested = o.batches ?? config.evalBatches;
      if (!Number.isInteger(requested) || requested < 1) throw new RangeError(`--batches must be an integer ≥ 1, got ${o.batches}`);
      const loader = data.validation();
      // No silent repetition of validation samples, and no forward pass larger than memory.
      const { batches, note } = planEvalBatches({ sampleCount: loader.sampleCount, batch: config.batch, batches: requested, explicit: o.batch !== undefined || o.batches !== undefined });
      if (note !== null) console.error(note);
      checkEvalMemory(loaded.model.config, loaded.model.recipe, config.batch, T);
      let sum = 0;
      for (let i = 0; i < batches; i++) sum += loaded.model.forwardLoss(loader.next());
      const valLoss = sum / batches;
      const result = {
        checkpoint: loaded.checkpoint.dir,
        step: loaded.checkpoint.trainerState?.step ?? null,
        precision: loaded.model.recipe.name,
        scalingStateLoaded: loaded.scalingLoaded,
        batches,
        tokens: batches * config.batch * T,
        valLoss,
        valPerplexity: Math.exp(valLoss),
      };
      if (o.json) console.log(JSON.stringify(result));
      else console.log(`${result.checkpoint} (step ${result.step ?? '?'}, ${result.precision}): val loss ${valLoss.toFixed(4)}, perplexity ${result.valPerplexity.toFixed(2)} over ${result.tokens} tokens`);
    });
}
