/**
 * `fog8 eval CHECKPOINT`: loss, perplexity and bits per byte on any data (the training data's
 * held-out split by default), and zero-shot downstream tasks (--tasks). Results are printed (or
 * one JSON object with --json) and appended to RUN_DIR/evals.jsonl when the checkpoint lies in a
 * run directory, where the report and `fog8 compare` find them.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { Tokenizer, loadTokenizer } from '../../data/tokenizer.js';
import type { TokenizerJson } from '../../data/tokenizer-json.js';
import { DEFAULT_VALIDATION_FRACTION } from '../../data/batch-loader.js';
import { loadKernelBackend } from '../../train/kernel-backend.js';
import { loadModelForInference } from '../../train/inference.js';
import { runDirOfCheckpoint } from '../../train/checkpoint-files.js';
import { EVAL_SPLITS, openEvalDocuments, type EvalSplit } from '../../eval/documents.js';
import { scoreDocuments } from '../../eval/perplexity.js';
import { evaluateTask, loadTaskFile, type Task, type TaskResult } from '../../eval/tasks.js';
import { BROWN_CLOZE, brownClozeTask } from '../../eval/brown-cloze.js';
import { appendEvalRecord, formatTaskResult } from '../../eval/results.js';
import { checkEvalMemory } from '../../train/eval-limits.js';

interface EvalOptions {
  precision?: string;
  data?: string;
  split?: string;
  tokenizer?: string;
  tasks?: string;
  limit?: number;
  batches?: number;
  batch?: number;
  kernels: 'auto' | 'native' | 'reference';
  freshScales?: boolean;
  record: boolean;
  json?: boolean;
}

/** A built-in task name or a JSONL task file. */
export function resolveTask(spec: string): Task {
  if (spec === BROWN_CLOZE) return brownClozeTask();
  if (existsSync(spec)) return loadTaskFile(spec);
  throw new Error(`--tasks: '${spec}' is neither a built-in task (${BROWN_CLOZE}) nor a JSONL task file`);
}

export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description('loss, perplexity and bits per byte of a checkpoint on any data, and zero-shot downstream tasks')
    .argument('<checkpoint>', 'checkpoint or run directory (newest checkpoint), or a Hugging Face model directory')
    .option('--data <data>', "'brown', a dataset prefix, a .jsonl ({\"text\": …} per line) or .txt file (default: the training data)")
    .option('--split <split>', "'all' or 'val' (the held-out documents of training's split); default: 'val' for the training data, 'all' otherwise")
    .option('--tasks <list>', `comma-separated downstream tasks: '${BROWN_CLOZE}' or JSONL task files (then no loss on --data unless --data is given)`)
    .option('--limit <n>', 'score only the first n items of each task', (v) => Number(v))
    .option('--precision <name>', 'precision recipe to evaluate in (default: the one it was trained in)')
    .option('--tokenizer <path>', 'tokenizer.json (default: the checkpoint\'s)')
    .option('--batches <n>', 'stop after n batches of windows (a quick estimate; no bits per byte)', (v) => Number(v))
    .option('--batch <n>', 'windows per forward pass (refused when one forward pass would not fit in memory)', (v) => Number(v))
    .option('--kernels <kind>', 'auto, native or reference', 'auto')
    .option('--fresh-scales', 'evaluate FP8 with fresh scales (1) when the checkpoint has no usable FP8 scaling state')
    .option('--no-record', 'do not append the results to RUN_DIR/evals.jsonl')
    .option('--json', 'print one JSON object')
    .action(async (path: string, o: EvalOptions) => {
      for (const [name, v] of [['--limit', o.limit], ['--batches', o.batches], ['--batch', o.batch]] as const) {
        if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new RangeError(`${name} must be an integer ≥ 1, got ${v}`);
      }
      if (o.split !== undefined && !EVAL_SPLITS.includes(o.split as EvalSplit)) throw new RangeError(`--split must be one of ${EVAL_SPLITS.join(', ')}, got '${o.split}'`);
      const kernels = await loadKernelBackend(o.kernels, null, 'cache');
      const loaded = loadModelForInference(path, kernels, o.precision, { freshScales: o.freshScales === true });
      const saved = loaded.trainConfig ?? {};
      const model = loaded.model;
      const tokenizer = o.tokenizer
        ? loadTokenizer(o.tokenizer)
        : loaded.checkpoint.tokenizerJson !== null
          ? new Tokenizer(JSON.parse(loaded.checkpoint.tokenizerJson) as TokenizerJson, { source: `${loaded.checkpoint.dir}/tokenizer.json` })
          : null;
      const batch = o.batch ?? saved.batch ?? 8;
      // No forward pass larger than memory.
      checkEvalMemory(model.config, model.recipe, batch, model.config.seqLen);
      const step = loaded.checkpoint.trainerState?.step ?? null;
      const base = { checkpoint: loaded.checkpoint.dir, step, precision: model.recipe.name, scalingStateLoaded: loaded.scalingLoaded };
      const runDir = loaded.checkpoint.trainerState ? runDirOfCheckpoint(loaded.checkpoint.dir) : null;
      const record = o.record && runDir !== null && existsSync(join(runDir, 'metrics.jsonl'));
      const lines: string[] = [];
      const result: Record<string, unknown> = { ...base };

      const tasks = o.tasks ? o.tasks.split(',').map((s) => s.trim()).filter((s) => s !== '') : [];
      if (tasks.length === 0 || o.data !== undefined) {
        const trainingData = saved.data ?? null;
        const data = o.data ?? trainingData ?? 'brown';
        const isTrainingData = trainingData !== null && (data === trainingData || (data !== 'brown' && resolve(data) === resolve(trainingData)));
        const split = (o.split as EvalSplit | undefined) ?? (isTrainingData ? 'val' : 'all');
        if (isTrainingData && split === 'all') console.error(`fog8 eval: note: --split all on the training data (${data}) scores documents the model was trained on`);
        const docs = await openEvalDocuments({ data, split, valFraction: saved.valFraction ?? DEFAULT_VALIDATION_FRACTION, tokenizer, vocabSize: model.config.vocabSize });
        const r = scoreDocuments(model, docs.documents, { batch, bos: tokenizer?.endOfDocumentId ?? null, bytes: docs.bytes, maxBatches: o.batches ?? null });
        Object.assign(result, { data, split, documents: r.documents, windows: r.windows, tokens: r.tokens, bytes: docs.bytes, loss: r.loss, perplexity: r.perplexity, bitsPerByte: r.bitsPerByte });
        lines.push(
          `${base.checkpoint} (step ${step ?? '?'}, ${base.precision}): ${data}/${split} (${r.documents} documents, ${r.tokens} tokens): ` +
            `loss ${r.loss.toFixed(4)}, perplexity ${r.perplexity.toFixed(2)}, ${r.bitsPerByte === null ? 'bits per byte n/a' : `${r.bitsPerByte.toFixed(4)} bits per byte`}`,
        );
        if (record && runDir) appendEvalRecord(runDir, { type: 'data', time: Date.now() / 1000, ...base, data, split, documents: r.documents, tokens: r.tokens, loss: r.loss, perplexity: r.perplexity, bitsPerByte: r.bitsPerByte });
      }
      if (tasks.length > 0) {
        if (!tokenizer) throw new Error(`${loaded.checkpoint.dir}: downstream tasks need a tokenizer (the checkpoint has none; pass --tokenizer)`);
        const results: TaskResult[] = [];
        for (const spec of tasks) {
          const r = evaluateTask(model, tokenizer, resolveTask(spec), { batch, limit: o.limit ?? null });
          results.push(r);
          lines.push(`${base.checkpoint} (step ${step ?? '?'}, ${base.precision}): ${formatTaskResult(r)}`);
          if (record && runDir) appendEvalRecord(runDir, { type: 'task', time: Date.now() / 1000, ...base, ...r });
        }
        result.tasks = results;
      }
      if (o.json) console.log(JSON.stringify(result));
      else for (const l of lines) console.log(l);
    });
}
