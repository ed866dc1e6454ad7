/** `fog8 generate CHECKPOINT --prompt "…"`: sample text from a checkpoint. */
import type { Command } from 'commander';
import { Tokenizer } from '../../data/tokenizer.js';
import type { TokenizerJson } from '../../data/tokenizer-json.js';
import { loadKernelBackend } from '../../train/kernel-backend.js';
import { loadModelForInference, sample, sampleFullWindow } from '../../train/inference.js';

export function registerGenerateCommand(program: Command): void {
  program
    .command('generate')
    .description('sample a continuation of a prompt from a checkpoint')
    .argument('<checkpoint>', 'checkpoint or run directory')
    .requiredOption('--prompt <text>', 'text to continue')
    .option('--temperature <t>', 'sampling temperature (0: greedy)', (v) => Number(v), 0.8)
    .option('--top-k <k>', 'sample among the k most likely tokens (0: all)', (v) => Number(v), 40)
    .option('--top-p <p>', 'then among the smallest set of tokens whose probability reaches p (1: all)', (v) => Number(v), 1)
    .option('--max-tokens <n>', 'tokens to generate', (v) => Number(v), 100)
    .option('--seed <n>', 'sampling seed', (v) => Number(v), 0)
    .option('--precision <name>', 'precision recipe (default: the one it was trained in)')
    .option('--kernels <kind>', 'auto, native or reference', 'auto')
    .option('--full-window', 'recompute the whole window for every token instead of using the KV cache (slow; for comparison)')
    .option('--stats', 'print tokens/s to stderr at the end')
    .option('--fresh-scales', 'run FP8 with fresh scales (1) when the checkpoint has no usable FP8 scaling state')
    .action(async (path: string, o: { prompt: string; temperature: number; topK: number; topP: number; maxTokens: number; seed: number; precision?: string; kernels: 'auto' | 'native' | 'reference'; fullWindow?: boolean; stats?: boolean; freshScales?: boolean }) => {
      if (!Number.isInteger(o.maxTokens) || o.maxTokens < 1) throw new RangeError(`--max-tokens must be an integer ≥ 1, got ${o.maxTokens}`);
      const kernels = await loadKernelBackend(o.kernels, null, 'cache');
      const loaded = loadModelForInference(path, kernels, o.precision, { freshScales: o.freshScales === true });
      if (loaded.checkpoint.tokenizerJson === null) throw new Error(`${loaded.checkpoint.dir}: no tokenizer.json in the checkpoint (train with --tokenizer to include one)`);
      const tokenizer = new Tokenizer(JSON.parse(loaded.checkpoint.tokenizerJson) as TokenizerJson, { source: `${loaded.checkpoint.dir}/tokenizer.json` });
      const prompt = tokenizer.encode(o.prompt);
      // Streaming: print each new piece of text as soon as its token is chosen. A byte-level BPE
      // token may end inside a UTF-8 character, so text ending in U+FFFD waits for the next token.
      const ids: number[] = [];
      let printed = '';
      process.stdout.write(o.prompt);
      const onToken = (id: number): void => {
        ids.push(id);
        const text = tokenizer.decode(ids);
        if (text.endsWith('\uFFFD')) return;
        process.stdout.write(text.slice(printed.length));
        printed = text;
      };
      const started = performance.now();
      const run = o.fullWindow ? sampleFullWindow : sample;
      run(loaded.model, prompt, { temperature: o.temperature, topK: o.topK, topP: o.topP, maxTokens: o.maxTokens, seed: o.seed, stopId: tokenizer.endOfDocumentId, onToken });
      const seconds = (performance.now() - started) / 1000;
      const text = tokenizer.decode(ids);
      process.stdout.write(text.slice(printed.length) + '\n');
      if (o.stats) console.error(`${ids.length} tokens in ${seconds.toFixed(2)} s: ${(ids.length / seconds).toFixed(1)} tokens/s (${o.fullWindow ? 'full window' : 'KV cache'}, ${kernels.name} kernels)`);
    });
}
