/**
 * Synthetic run directories for report tests: schema-valid metrics.jsonl (every record is parsed
 * by the zod schema before it is written), config.json and train.log, from a seeded RNG.
 * A 'climbing' run mimics llama3 in FP8 (kurtosis and attention logits grow, P/dS underflow
 * rises); a 'flat' run mimics fog-xielu (kurtosis stays near 3).
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { metricsRecord, type CastStat, type MetricsRecord, type TensorStat } from '../../src/monitor/schema.js';
import { mulberry32 } from '../util/mulberry32.js';

export const FIXTURE_TENSORS: TensorStat['tensor'][] = ['activation', 'qkv_input', 'qkv', 'q', 'k', 'mlp_intermediate', 'mlp_post_act', 'mlp_out'];

/** GEMM operands written per layer for FP8 runs, plus the LM head's input (layer −1). */
export const FIXTURE_OPERANDS: { gemm: string; role: string; format: 'e4m3' | 'e5m2' }[] = [
  { gemm: 'attn.qkv', role: 'input', format: 'e4m3' },
  { gemm: 'attn.qkv', role: 'weight', format: 'e4m3' },
  { gemm: 'attn.qkv', role: 'grad_output', format: 'e5m2' },
  // FP8DPA's six slots (DESIGN §3)
  { gemm: 'attn.dpa', role: 'qkv', format: 'e4m3' },
  { gemm: 'attn.dpa', role: 'p', format: 'e4m3' },
  { gemm: 'attn.dpa', role: 'o', format: 'e4m3' },
  { gemm: 'attn.dpa', role: 'do', format: 'e5m2' },
  { gemm: 'attn.dpa', role: 'ds', format: 'e5m2' },
  { gemm: 'attn.dpa', role: 'dqkv', format: 'e5m2' },
  { gemm: 'mlp.fc2', role: 'input', format: 'e4m3' },
];

export interface SyntheticRunOptions {
  preset: string;
  precision: string;
  /** 'climbing': kurtosis grows over the run; 'flat': it stays near 3. */
  kurtosis: 'climbing' | 'flat';
  steps: number;
  layers: number;
  seed: number;
  metricsInterval?: number;
  evalInterval?: number;
  tokensPerStep?: number;
  /** Garbage lines inserted after the run record (each counted as malformed). */
  malformedLines?: number;
  /** Append a half-written record at the end, without a newline. */
  partialTail?: boolean;
}

/** Uniform in [0, 1) from mulberry32, so fixtures are identical on every run. */
export function seededRandom(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() / 4294967296;
}

/** Every record of a synthetic run, in the order a trainer would write them. */
export function syntheticRecords(o: SyntheticRunOptions): MetricsRecord[] {
  const rand = seededRandom(o.seed);
  const metricsInterval = o.metricsInterval ?? 5;
  const evalInterval = o.evalInterval ?? 10;
  const tokensPerStep = o.tokensPerStep ?? 4096;
  const fp8 = o.precision.startsWith('fp8');
  const climbing = o.kurtosis === 'climbing';
  const out: MetricsRecord[] = [];
  const t0 = 1_700_000_000;
  out.push({ type: 'run', step: 0, tokens: 0, time: t0, schemaVersion: 1, runName: `${o.preset}-${o.precision}`, preset: o.preset, size: 'tiny', precision: o.precision, parameters: 1_234_567, flopsPerToken: 7_400_000, resumed: false, kernels: 'reference' });
  for (let step = 1; step <= o.steps; step++) {
    const tokens = step * tokensPerStep;
    const time = t0 + step * 0.5;
    const progress = step / o.steps;
    const loss = 3 + 7.8 * Math.exp(-step / (o.steps / 4)) + 0.05 * (rand() - 0.5);
    out.push({ type: 'step', step, tokens, time, loss, lr: 1e-3 * Math.min(1, step / 10), gradNorm: 0.5 + 2 * Math.exp(-step / 10) + 0.1 * rand(), tokensPerSec: 8000 + 500 * rand(), mfu: 0.2 + 0.02 * rand(), skipped: false, stepTimeMs: 500 + 20 * rand() });
    if (step % evalInterval === 0) {
      const valLoss = loss + 0.1;
      out.push({ type: 'eval', step, tokens, time, valLoss, valPerplexity: Math.exp(valLoss) });
    }
    if (step % metricsInterval === 0) {
      const stats: TensorStat[] = [];
      for (let layer = 0; layer < o.layers; layer++) {
        FIXTURE_TENSORS.forEach((tensor, ti) => {
          const growth = climbing ? Math.exp(progress * (2 + layer * 0.6 + ti * 0.1)) : 1;
          stats.push({ layer, tensor, mean: 0.01 * (rand() - 0.5), rms: (climbing ? 1 : 40) * (1 + 0.2 * layer) * (1 + 0.05 * rand()) * Math.sqrt(growth), kurtosis: (3 + 0.3 * rand()) * growth });
        });
      }
      const maxAttentionLogit = Array.from({ length: o.layers }, (_, l) => (climbing ? 4 + 20 * progress * (1 + l / o.layers) : 8 + rand()));
      out.push({ type: 'tensors', step, tokens, time, stats, maxAttentionLogit });
      if (fp8) {
        const casts: CastStat[] = [];
        for (let layer = -1; layer < o.layers; layer++) {
          const operands = layer < 0 ? [{ gemm: 'lm_head', role: 'input', format: 'e4m3' as const }] : FIXTURE_OPERANDS;
          for (const op of operands) {
            const attnProb = op.role === 'p' || op.role === 'ds';
            casts.push({ layer, gemm: op.gemm, role: op.role, format: op.format, amax: 1 + 10 * rand(), scale: 2 ** (4 + layer + 3 * rand()), underflowPct: attnProb ? (climbing ? 15 * progress : 0.1 * rand()) : 0.01 * rand(), overflowPct: climbing ? 0.5 * progress * rand() : 0, relErr: 0.02 + 0.03 * rand(), massLostPct: attnProb ? 0.5 * rand() : 0 });
          }
        }
        out.push({ type: 'fp8', step, tokens, time, casts });
      }
    }
  }
  out.push({ type: 'event', step: o.steps, tokens: o.steps * tokensPerStep, time: t0 + o.steps * 0.5, level: 'info', message: 'run finished' });
  return out;
}

/** Resolved config of a synthetic run (nested, like a trainer's). */
export function syntheticConfig(o: SyntheticRunOptions): Record<string, unknown> {
  return {
    model: { preset: o.preset, size: 'tiny', nLayers: o.layers, dModel: 64, nHeads: 4, qkNorm: o.preset.startsWith('fog') ? 'rmsnorm' : 'none', mlp: o.preset.startsWith('fog') ? 'xielu' : 'swiglu' },
    train: { steps: o.steps, lr: 1e-3, batch: 8, seq: 64, precision: o.precision, metricsInterval: o.metricsInterval ?? 5 },
    seed: 1234,
  };
}

/** Writes metrics.jsonl, config.json and train.log of a synthetic run into `dir` (created). */
export function writeSyntheticRun(dir: string, o: SyntheticRunOptions): MetricsRecord[] {
  mkdirSync(dir, { recursive: true });
  const records = syntheticRecords(o).map((r) => metricsRecord.parse(r));
  const lines = records.map((r) => JSON.stringify(r));
  for (let i = 0; i < (o.malformedLines ?? 0); i++) lines.splice(1 + i, 0, i % 2 === 0 ? '{"type":"step","step":' : '{"type":"nonsense","step":1}');
  writeFileSync(join(dir, 'metrics.jsonl'), `${lines.join('\n')}\n`);
  if (o.partialTail) appendFileSync(join(dir, 'metrics.jsonl'), '{"type":"step","step":99999,"tok');
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(syntheticConfig(o), null, 2)}\n`);
  writeFileSync(join(dir, 'train.log'), records.filter((r) => r.type === 'step' && r.step % 10 === 0).map((r) => `step ${r.step} loss ${r.type === 'step' ? r.loss?.toFixed(4) : ''}`).join('\n') + '\n');
  return records;
}

/** The two standard fixture runs: llama3 whose kurtosis climbs and fog-xielu that stays flat. */
export function writeTwoRuns(root: string, steps = 60): { llama: string; fog: string } {
  const llama = join(root, 'llama3-fp8-delayed');
  const fog = join(root, 'fog-xielu-fp8-delayed');
  writeSyntheticRun(llama, { preset: 'llama3', precision: 'fp8-delayed', kurtosis: 'climbing', steps, layers: 4, seed: 1 });
  writeSyntheticRun(fog, { preset: 'fog-xielu', precision: 'fp8-delayed', kurtosis: 'flat', steps, layers: 4, seed: 2 });
  return { llama, fog };
}
