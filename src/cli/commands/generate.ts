/** `fog8 generate CHECKPOINT --prompt "…"`: sample text from a checkpoint. */
import type { Command } from 'commander';
import { Tokenizer } from '../../data/tokenizer.js';
import type { TokenizerJson } from '../../data/tokenizer-json.js';
import { loadKernelBackend } from '../../train/kernel-backend.js';
import { loadModelForInference, sample } from '../../train/inference.js';

export function registerGenerateCommand(program: Command): void {
  program
    .command('generate')
    .description('sample a continuation of a prompt from a checkpoint')
    .argument('<checkpoint>', 'checkpoint or run directory')
    .requiredOption('--prompt <text>', 'text to continue')
    .option('--temperature <t>', 'sampling temperature (0: greedy)', (v) => Number(v), 0.8)
    .option('--top-k <k>', 'sample among the k most likely tokens (0: all)', (v) => Number(v), 40)
    .option('--max-tokens <n>', 'tokens to generate', (v) => Number(v), 100)
    .option('--seed <n>', 'sampling seed', (v) => Number(v), 0)
    .option('--precision <name>', 'precision recipe (default: the one it was trained in)')
    .option('--kernels <kind>', 'auto, native or reference', 'auto')
    .action(async (path: string, o: { prompt: string; temperature: number; topK: number; maxTokens: number; seed: number; precision?: string; kernels: 'auto' | 'native' | 'reference' }) => {
      if (!Number.isInteger(o.maxTokens) || o.maxTokens < 1) throw new RangeError(`--max-tokens must be an integer ≥ 1, got ${o.maxTokens}`);
      const kernels = await loadKernelBackend(o.kernels, null, 'cache');
      const loaded = loadModelForInference(path, kernels, o.precision);
      if (loaded.checkpoint.tokenizerJson === null) throw new Error(`${loaded.checkpoint.dir}: no tokenizer.json in the checkpoint (train with --tokenizer to include one)`);
      const tokenizer = new Tokenizer(JSON.parse(loaded.checkpoint.tokenizerJson) as TokenizerJson, { source: `${loaded.checkpoint.dir}/tokenizer.json` });
      const prompt = tokenizer.encode(o.prompt);
      const ids = sample(loaded.model, prompt, { temperature: o.temperature, topK: o.topK, maxTokens: o.maxTokens, seed: o.seed, stopId: tokenizer.endOfDocumentId });
      process.stdout.write(o.prompt + tokenizer.decode(ids) + '\n');
    });
}
