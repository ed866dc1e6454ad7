/**
 * Zero-shot downstream tasks in the conventions of EleutherAI's lm-evaluation-harness.
 *
 * A task file is JSONL, one item per line, of one of two kinds:
 * - multiple choice: `{"context": "…", "choices": ["…", …], "gold": i}` — each choice is scored by
 *   the log-likelihood of `delimiter + choice` after the context; `acc` takes the argmax of the
 *   summed log-likelihoods, `acc_norm` the argmax of log-likelihood per UTF-8 byte of the choice
 *   (the harness divides by the choice's length; equal for ASCII text);
 * - cloze / last word: `{"context": "…", "continuation": "…"}` — `acc` is the fraction of items
 *   whose continuation is the greedy (argmax) continuation token for token, `perplexity` is
 *   exp(−mean log-likelihood) (LAMBADA's metrics).
 * `delimiter` (per line, default " ", the harness's target_delimiter) goes between context and
 * continuation. Tokenization follows the harness: trailing whitespace of the context moves to the
 * continuation, the continuation's tokens are those of encode(context + continuation) after
 * encode(context), an empty context becomes the end-of-document token, and a request longer than
 * the window keeps its last seqLen + 1 tokens. Standard errors are the sample standard deviation
 * over items / √n (the harness's mean_stderr).
 */
import { readFileSync } from 'node:fs';
import type { Model } from '../model/model.js';
import type { Tokenizer } from '../data/tokenizer.js';

export interface MultipleChoiceItem {
  context: string;
  choices: string[];
  gold: number;
  delimiter: string;
}

export interface ClozeItem {
  context: string;
  continuation: string;
  delimiter: string;
}

export type Task =
  | { name: string; kind: 'multiple-choice'; items: MultipleChoiceItem[] }
  | { name: string; kind: 'cloze'; items: ClozeItem[] };

export interface TaskResult {
  task: string;
  kind: Task['kind'];
  items: number;
  acc: number;
  accStderr: number;
  /** Multiple choice only. */
  accNorm?: number;
  accNormStderr?: number;
  /** Multiple choice only: argmax of ll(choice | context) − ll(choice | end-of-document), the harness's acc_mutual_info. */
  accMutualInfo?: number;
  accMutualInfoStderr?: number;
  /** Cloze only. */
  perplexity?: number;
}

/** Parses a JSONL task file (format above); errors name the line and the field. */
export function parseTaskJsonl(text: string, name: string): Task {
  const mc: MultipleChoiceItem[] = [];
  const cloze: ClozeItem[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${name}:${i + 1}`;
    let r: Record<string, unknown>;
    try {
      r = JSON.parse(line) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`${where}: not valid JSON: ${(e as Error).message}`);
    }
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new Error(`${where}: each line must be a JSON object`);
    if (typeof r.context !== 'string') throw new Error(`${where}: "context" must be a string`);
    const delimiter = r.delimiter === undefined ? ' ' : r.delimiter;
    if (typeof delimiter !== 'string') throw new Error(`${where}: "delimiter" must be a string (default " ")`);
    if (r.choices !== undefined) {
      const choices = r.choices;
      if (!Array.isArray(choices) || choices.length < 2 || !choices.every((c) => typeof c === 'string' && c.length > 0)) {
        throw new Error(`${where}: "choices" must be an array of at least 2 non-empty strings`);
      }
      if (!Number.isInteger(r.gold) || (r.gold as number) < 0 || (r.gold as number) >= choices.length) {
        throw new Error(`${where}: "gold" must be an integer index into "choices" (0..${choices.length - 1}), got ${JSON.stringify(r.gold)}`);
      }
      mc.push({ context: r.context, choices: choices as string[], gold: r.gold as number, delimiter });
    } else if (typeof r.continuation === 'string' && r.continuation.length > 0) {
      cloze.push({ context: r.context, continuation: r.continuation, delimiter });
    } else {
      throw new Error(`${where}: an item needs "choices" and "gold" (multiple choice) or a non-empty "continuation" (cloze)`);
    }
  });
  if (mc.length > 0 && cloze.length > 0) throw new Error(`${name}: mixes multiple-choice and cloze items; use one kind per file`);
  if (mc.length > 0) return { name, kind: 'multiple-choice', items: mc };
  if (cloze.length > 0) return { name, kind: 'cloze', items: cloze };
  throw new Error(`${name}: no items`);
}

export function loadTaskFile(path: string): Task {
  const name = path.split(/[\\/]/).pop()!.replace(/\.jsonl$/i, '');
  return parseTaskJsonl(readFileSync(path, 'utf8'), name);
}

interface Request {
  context: number[];
  continuation: number[];
}

/** The harness's encode pair: whitespace moves from context to continuation; continuation = whole − context. */
function encodePair(tokenizer: Tokenizer, context: string, continuation: string): Request {
  const trailing = context.length - context.trimEnd().length;
  if (trailing > 0) {
    continuation = context.slice(context.length - trailing) + continuation;
    context = context.slice(0, context.length - trailing);
  }
  if (context === '') return { context: [tokenizer.endOfDocumentId], continuation: tokenizer.encode(continuation) };
  const whole = tokenizer.encode(context + continuation);
  const ctx = tokenizer.encode(context);
  return { context: ctx, continuation: whole.slice(ctx.length) };
}

export interface LogLikelihood {
  /** Σ log p(continuation token | earlier tokens), nats. */
  ll: number;
  /** Every continuation token is the argmax. */
  greedy: boolean;
}

/**
 * Log-likelihood of each request's continuation. Requests are sorted by length (longest first) and
 * batched `batch` at a time into windows padded to a multiple of 32 tokens (at most seqLen), so
 * few (B, T) graphs are built; causal attention keeps the padding from touching the real tokens.
 */
export function logLikelihoods(model: Model, requests: readonly Request[], batch: number): LogLikelihood[] {
  const T = model.config.seqLen;
  const V = model.config.vocabSize;
  const prepared = requests.map((r, index) => {
    if (r.continuation.length === 0) throw new RangeError('a continuation encodes to no tokens');
    const all = [...r.context, ...r.continuation].slice(-(T + 1));
    return { index, inputs: all.slice(0, -1), targets: all.slice(1), n: Math.min(r.continuation.length, all.length - 1) };
  });
  const order = [...prepared].sort((a, b) => b.inputs.length - a.inputs.length);
  const out: LogLikelihood[] = new Array(requests.length);
  for (let i0 = 0; i0 < order.length; i0 += batch) {
    const group = order.slice(i0, i0 + batch);
    const B = group.length;
    const Tw = Math.min(T, Math.ceil(group[0].inputs.length / 32) * 32);
    const inputs = new Int32Array(B * Tw);
    group.forEach((r, b) => inputs.set(r.inputs, b * Tw));
    const logits = model.logitsBatch(inputs, B, Tw);
    group.forEach((r, b) => {
      let ll = 0;
      let greedy = true;
      const L = r.inputs.length;
      for (let p = L - r.n; p < L; p++) {
        const row = (b * Tw + p) * V;
        let max = -Infinity;
        let arg = 0;
        for (let v = 0; v < V; v++) if (logits[row + v] > max) (max = logits[row + v]), (arg = v);
        let sum = 0;
        for (let v = 0; v < V; v++) sum += Math.exp(logits[row + v] - max);
        const target = r.targets[p];
        ll += logits[row + target] - max - Math.log(sum);
        if (arg !== target) greedy = false;
      }
      out[r.index] = { ll, greedy };
    });
  }
  return out;
}

/** Mean and the harness's standard error (sample std / √n) of per-item values. */
export function meanStderr(values: readonly number[]): [number, number] {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return [mean, NaN];
  const variance = values.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1);
  return [mean, Math.sqrt(variance / n)];
}

const utf8 = new TextEncoder();

/** Runs one task zero-shot; `limit` keeps the first items. */
export function evaluateTask(model: Model, tokenizer: Tokenizer, task: Task, o: { batch: number; limit?: number | null }): TaskResult {
  if (task.kind === 'multiple-choice') {
    const items = o.limit != null ? task.items.slice(0, o.limit) : task.items;
    const requests = items.flatMap((it) => it.choices.map((c) => encodePair(tokenizer, it.context, it.delimiter + c)));
    const lls = logLikelihoods(model, requests, o.batch);
    // Unconditional log-likelihoods (the harness's "unconditional context": the end-of-document token).
    const unconditional = logLikelihoods(model, items.flatMap((it) => it.choices.map((c) => encodePair(tokenizer, '', it.delimiter.trimStart() + c))), o.batch);
    const acc: number[] = [];
    const accNorm: number[] = [];
    const accMi: number[] = [];
    let at = 0;
    for (const it of items) {
      const scores = it.choices.map((c, j) => ({ ll: lls[at + j].ll, norm: lls[at + j].ll / utf8.encode(c).length, mi: lls[at + j].ll - unconditional[at + j].ll }));
      at += it.choices.length;
      const argmax = (key: 'll' | 'norm' | 'mi'): number => scores.reduce((best, s, j) => (s[key] > scores[best][key] ? j : best), 0);
      acc.push(argmax('ll') === it.gold ? 1 : 0);
      accNorm.push(argmax('norm') === it.gold ? 1 : 0);
      accMi.push(argmax('mi') === it.gold ? 1 : 0);
    }
    const [a, as] = meanStderr(acc);
    const [an, ans] = meanStderr(accNorm);
    const [am, ams] = meanStderr(accMi);
    return { task: task.name, kind: task.kind, items: items.length, acc: a, accStderr: as, accNorm: an, accNormStderr: ans, accMutualInfo: am, accMutualInfoStderr: ams };
  }
  const items = o.limit != null ? task.items.slice(0, o.limit) : task.items;
  const lls = logLikelihoods(model, items.map((it) => encodePair(tokenizer, it.context, it.delimiter + it.continuation)), o.batch);
  const [a, as] = meanStderr(lls.map((r) => (r.greedy ? 1 : 0)));
  const meanLl = lls.reduce((s, r) => s + r.ll, 0) / lls.length;
  return { task: task.name, kind: task.kind, items: items.length, acc: a, accStderr: as, perplexity: Math.exp(-meanLl) };
}
