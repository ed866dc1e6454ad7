/**
 * Checkpoint contents (DESIGN §7): `RUN_DIR/checkpoints/step-N/` holds
 *   model.safetensors    float32 weights under their Hugging Face names (loads in PyTorch),
 *   config.json          the Hugging Face config (LlamaConfig / FOGConfig fields),
 *   optimizer.safetensors Adam moments in their storage dtype (F32/F16/BF16/F8_E4M3/F8_E5M2)
 *                        as `exp_avg.<name>` / `exp_avg_sq.<name>`, and the per-tensor scales
 *                        `scales.exp_avg`, `scales.exp_avg_sq`, `scales.master` (F32, one per tensor),
 *   trainer_state.json   step, tokens, data-loader position, RNG, FP8 scaling state, resolved config,
 *   tokenizer.json       (when the run has one) so eval/generate need nothing else,
 *   manifest.json        size and SHA-256 of each of the above.
 * Loading is two-phase: `readCheckpoint` verifies and parses every file, `modelWeightsFrom` and
 * `optimizerStateFrom` check them against the model/optimizer being restored — all before the
 * caller copies anything into live state, so a bad checkpoint is never half-loaded.
 */
import { join } from 'node:path';
import type { AdamW, AdamWState } from '../optim/adamw.js';
import { STATE_DTYPE_LAYOUT } from '../optim/state-codec.js';
import { tensorAsFloat32, typedBytes, type SafetensorsFile, type SafetensorsTensor } from './safetensors.js';
import { readCheckpointFiles, safetensorsFile, type CheckpointFile, type Manifest } from './checkpoint-files.js';

export const MODEL_FILE = 'model.safetensors';
export const CONFIG_FILE = 'config.json';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const TRAINER_STATE_FILE = 'trainer_state.json';
export const TOKENIZER_FILE = 'tokenizer.json';

/** The minimal view of a parameter table a checkpoint needs (ParameterStore satisfies it). */
export interface ParamTable {
  readonly specs: readonly { name: string; shape: readonly number[] }[];
  readonly data: Float32Array;
  readonly offsets: ReadonlyMap<string, number>;
}

/** What a checkpoint records beside the weights (the JSON in trainer_state.json). */
export interface TrainerStateJson {
  formatVersion: 1;
  /** optimizer steps completed (including skipped ones). */
  step: number;
  /** training tokens consumed. */
  tokens: number;
  consecutiveBadSteps: number;
  /** seconds of training before this checkpoint (for tokens/s and ETA across resumes). */
  elapsedSeconds: number;
  /** BatchLoader.state() of the training loader. */
  data: unknown;
  /** Randomness: the run seed (weights init); steps draw no random numbers (no dropout). */
  rng: { seed: number };
  /** ScalingState.toJSON(). */
  scaling: unknown;
  /** resolved training configuration. */
  config: Record<string, unknown>;
  optimizer: { stepCount: number; m1Dtype: string; m2Dtype: string; precision: Record<string, string> };
  divergence?: unknown;
  /** loss-spike detector and forecaster feature state (alarms of --on-alarm). */
  spike?: unknown;
  features?: unknown;
  /** rollbacks before this checkpoint (RollbackInfo[]). */
  rollbacks?: unknown;
}

function shapeOf(n: number): number[] {
  return [n];
}

/**
 * Every checkpoint file (manifest excluded) for the current training state. The safetensors
 * files are streamed views of the live weights and optimizer state (no copy, any size): write
 * them (writeCheckpointFiles) before the state changes.
 */
export function buildCheckpointFiles(args: {
  params: ParamTable;
  hfConfig: Record<string, unknown>;
  optimizer: AdamW;
  trainerState: TrainerStateJson;
  tokenizerJson?: Uint8Array;
}): Map<string, CheckpointFile> {
  const files = new Map<string, CheckpointFile>();
  const weights: SafetensorsTensor[] = args.params.specs.map((s) => {
    const o = args.params.offsets.get(s.name) as number;
    const n = s.shape.reduce((a, b) => a * b, 1);
    return { name: s.name, dtype: 'F32', shape: [...s.shape], bytes: typedBytes(args.params.data.subarray(o, o + n)) };
  });
  files.set(MODEL_FILE, safetensorsFile(weights, { format: 'pt' }));
  files.set(CONFIG_FILE, Buffer.from(JSON.stringify(args.hfConfig, null, 2) + '\n'));
  const opt = args.optimizer;
  const st = opt.state();
  const dt = opt.momentSafetensorsDtypes();
  const moments: SafetensorsTensor[] = [];
  opt.tensors.forEach((t) => {
    moments.push({ name: `exp_avg.${t.name}`, dtype: dt.m1 as SafetensorsTensor['dtype'], shape: [...t.shape], bytes: typedBytes(st.m1.subarray(t.offset, t.offset + t.size)) });
    moments.push({ name: `exp_avg_sq.${t.name}`, dtype: dt.m2 as SafetensorsTensor['dtype'], shape: [...t.shape], bytes: typedBytes(st.m2.subarray(t.offset, t.offset + t.size)) });
  });
  const k = opt.tensors.length;
  moments.push({ name: 'scales.exp_avg', dtype: 'F32', shape: shapeOf(k), bytes: typedBytes(st.m1Scales) });
  moments.push({ name: 'scales.exp_avg_sq', dtype: 'F32', shape: shapeOf(k), bytes: typedBytes(st.m2Scales) });
  moments.push({ name: 'scales.master', dtype: 'F32', shape: shapeOf(k), bytes: typedBytes(st.masterScales) });
  files.set(OPTIMIZER_FILE, safetensorsFile(moments, { step_count: String(st.stepCount), m1_dtype: opt.m1Dtype, m2_dtype: opt.m2Dtype }));
  files.set(TRAINER_STATE_FILE, Buffer.from(JSON.stringify(args.trainerState, null, 2) + '\n'));
  if (args.tokenizerJson) files.set(TOKENIZER_FILE, args.tokenizerJson);
  return files;
}

/** A verified, parsed checkpoint (nothing applied yet). */
export interface Checkpoint {
  dir: string;
  manifest: Manifest;
  hfConfig: unknown;
  model: SafetensorsFile;
  optimizer: SafetensorsFile | null;
  trainerState: TrainerStateJson | null;
  tokenizerJson: string | null;
}

function parseJsonFile(path: string, data: Buffer): unknown {
  try {
    return JSON.parse(data.toString('utf8'));
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

/**
 * Reads a checkpoint directory: verifies the manifest and every file's size and hash, parses
 * the safetensors and JSON files. `forResume` additionally requires the optimizer and trainer
 * state; without it `optimizer` is null (verified, not loaded: eval and generate do not need the
 * 1.5b's 4.8 GB of moments in memory). Throws an Error naming the offending file.
 */
export function readCheckpoint(dir: string, forResume = false): Checkpoint {
  const required = forResume ? [MODEL_FILE, CONFIG_FILE, OPTIMIZER_FILE, TRAINER_STATE_FILE] : [MODEL_FILE, CONFIG_FILE];
  // The safetensors files are parsed while they are verified, tensor by tensor (files above 4 GiB
  // included); without `forResume` the optimizer state is only verified, never held in memory.
  const { manifest, files, safetensors } = readCheckpointFiles(dir, required, forResume ? { safetensors: [MODEL_FILE, OPTIMIZER_FILE] } : { safetensors: [MODEL_FILE], verifyOnly: [OPTIMIZER_FILE] });
  const get = (name: string): Buffer | undefined => files.get(name);
  const model = safetensors.get(MODEL_FILE) as SafetensorsFile;
  const hfConfig = parseJsonFile(join(dir, CONFIG_FILE), get(CONFIG_FILE) as Buffer);
  const optimizer = safetensors.get(OPTIMIZER_FILE) ?? null;
  const stBuf = get(TRAINER_STATE_FILE);
  let trainerState: TrainerStateJson | null = null;
  if (stBuf) {
    const path = join(dir, TRAINER_STATE_FILE);
    const raw = parseJsonFile(path, stBuf) as Partial<TrainerStateJson> | null;
    if (raw === null || typeof raw !== 'object' || raw.formatVersion !== 1 || !Number.isInteger(raw.step) || typeof raw.tokens !== 'number' || typeof raw.config !== 'object' || typeof raw.optimizer !== 'object') {
      throw new Error(`${path}: not a fog8 trainer state (formatVersion 1 with step, tokens, config, optimizer)`);
    }
    trainerState = raw as TrainerStateJson;
  }
  const tok = get(TOKENIZER_FILE);
  return { dir, manifest, hfConfig, model, optimizer, trainerState, tokenizerJson: tok ? tok.toString('utf8') : null };
}

/**
 * Checks that model.safetensors holds exactly the tensors of `specs` (the parameter table of the
 * checkpoint's config), each F32 of its shape, without copying any weights. Throws naming
 * model.safetensors and the first offending tensor. Eval, generate, resume and inspect all use it.
 */
export function checkModelTensors(ckpt: Pick<Checkpoint, 'dir' | 'model'>, specs: readonly { name: string; shape: readonly number[] }[]): void {
  const file = join(ckpt.dir, MODEL_FILE);
  const expected = new Set(specs.map((s) => s.name));
  for (const name of ckpt.model.tensors.keys()) {
    if (!expected.has(name)) throw new Error(`${file}: unexpected tensor ${name} (the model config has no such parameter)`);
  }
  for (const s of specs) {
    const t = ckpt.model.tensors.get(s.name);
    if (!t) throw new Error(`${file}: missing tensor ${s.name}`);
    if (t.dtype !== 'F32' || t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i])) {
      throw new Error(`${file}: tensor ${t.name} is ${t.dtype} [${t.shape.join(', ')}], expected F32 [${s.shape.join(', ')}]`);
    }
  }
}

/**
 * The weights of the checkpoint as one float32 arena laid out like `params` (not applied).
 * Throws naming model.safetensors if a tensor is missing, extra, or has the wrong dtype/shape.
 */
export function modelWeightsFrom(ckpt: Checkpoint, params: ParamTable): Float32Array {
  checkModelTensors(ckpt, params.specs);
  const file = join(ckpt.dir, MODEL_FILE);
  const arena = new Float32Array(params.data.length);
  for (const s of params.specs) {
    arena.set(tensorAsFloat32(ckpt.model.tensors.get(s.name) as SafetensorsTensor, s.shape, file), params.offsets.get(s.name) as number);
  }
  return arena;
}

/**
 * Checks optimizer.safetensors against `opt` without copying anything: moment dtypes, step
 * count, and every tensor's presence, dtype and shape. Returns the step count. Errors name
 * optimizer.safetensors.
 */
export function checkOptimizerState(ckpt: Pick<Checkpoint, 'dir' | 'optimizer'>, opt: AdamW): { stepCount: number } {
  const file = join(ckpt.dir, OPTIMIZER_FILE);
  if (!ckpt.optimizer) throw new Error(`${file}: missing (needed to resume)`);
  const f = ckpt.optimizer;
  const meta = f.metadata;
  if (meta.m1_dtype !== opt.m1Dtype || meta.m2_dtype !== opt.m2Dtype) {
    throw new Error(`${file}: moments stored as ${meta.m1_dtype}/${meta.m2_dtype}, but this run's optimizer uses ${opt.m1Dtype}/${opt.m2Dtype} (optimizer precision changed?)`);
  }
  const stepCount = Number(meta.step_count);
  if (!Number.isInteger(stepCount) || stepCount < 0) throw new Error(`${file}: step_count metadata ${JSON.stringify(meta.step_count)} is not an integer ≥ 0`);
  const check = (name: string, dtype: string, shape: readonly number[], bytes: number): void => {
    const t = f.tensors.get(name);
    if (!t) throw new Error(`${file}: missing tensor ${name}`);
    if (t.dtype !== dtype || t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]) || t.bytes.length !== bytes) {
      throw new Error(`${file}: tensor ${name} is ${t.dtype} [${t.shape.join(', ')}], expected ${dtype} [${shape.join(', ')}]`);
    }
  };
  const dt = opt.momentSafetensorsDtypes();
  const b1 = STATE_DTYPE_LAYOUT[opt.m1Dtype].bytes;
  const b2 = STATE_DTYPE_LAYOUT[opt.m2Dtype].bytes;
  for (const t of opt.tensors) {
    check(`exp_avg.${t.name}`, dt.m1, t.shape, t.size * b1);
    check(`exp_avg_sq.${t.name}`, dt.m2, t.shape, t.size * b2);
  }
  const k = opt.tensors.length;
  for (const name of ['scales.exp_avg', 'scales.exp_avg_sq', 'scales.master']) check(name, 'F32', [k], 4 * k);
  const expectedCount = 2 * k + 3;
  if (f.tensors.size !== expectedCount) throw new Error(`${file}: ${f.tensors.size} tensors, expected ${expectedCount} for this model`);
  return { stepCount };
}

/**
 * Copies the (checked) moments of `f` into the arenas `m1`/`m2` laid out like `opt`, tensor by
 * tensor (per-tensor views: a whole arena may exceed one Uint8Array); with `drop`, each tensor
 * is removed from `f` once copied, so its memory can go before the next one is copied.
 */
function copyMoments(f: SafetensorsFile, opt: AdamW, m1: AdamWState['m1'], m2: AdamWState['m2'], drop: boolean): AdamWState['m1Scales'][] {
  const take = (name: string, dst: Uint8Array): void => {
    dst.set((f.tensors.get(name) as SafetensorsTensor).bytes);
    if (drop) f.tensors.delete(name);
  };
  for (const t of opt.tensors) {
    take(`exp_avg.${t.name}`, typedBytes(m1.subarray(t.offset, t.offset + t.size)));
    take(`exp_avg_sq.${t.name}`, typedBytes(m2.subarray(t.offset, t.offset + t.size)));
  }
  return ['scales.exp_avg', 'scales.exp_avg_sq', 'scales.master'].map((name) => {
    const out = new Float32Array(opt.tensors.length);
    take(name, typedBytes(out));
    return out;
  });
}

/** The optimizer state of the checkpoint shaped for `opt` (not applied); errors name optimizer.safetensors. */
export function optimizerStateFrom(ckpt: Checkpoint, opt: AdamW): AdamWState {
  const { stepCount } = checkOptimizerState(ckpt, opt);
  const fresh = opt.state();
  const m1 = fresh.m1.slice();
  const m2 = fresh.m2.slice();
  const [m1Scales, m2Scales, masterScales] = copyMoments(ckpt.optimizer as SafetensorsFile, opt, m1, m2, false);
  return { stepCount, m1, m2, m1Scales, m2Scales, masterScales };
}

/**
 * Applies a checkpoint to a model's parameters and its optimizer after checking both
 * (checkModelTensors, checkOptimizerState; throws before changing anything if either fails).
 * Tensors are copied straight into the live arenas and removed from `ckpt` as they go, so the
 * peak memory is the live state plus the checkpoint's tensors — not a third copy of either
 * (the 1.5b resume needs this to fit 24 GiB). `ckpt.model`/`ckpt.optimizer` are emptied.
 */
export function moveCheckpointInto(ckpt: Checkpoint, params: ParamTable, opt: AdamW): void {
  checkModelTensors(ckpt, params.specs);
  const { stepCount } = checkOptimizerState(ckpt, opt);
  moveModelWeightsInto(ckpt, params);
  const live = opt.state();
  const [m1Scales, m2Scales, masterScales] = copyMoments(ckpt.optimizer as SafetensorsFile, opt, live.m1, live.m2, true);
  opt.restore({ stepCount, m1: live.m1, m2: live.m2, m1Scales, m2Scales, masterScales });
}

/**
 * Copies the checkpoint's weights straight into `params.data` after checkModelTensors (throws
 * before writing anything), removing each tensor from `ckpt.model` once copied: one copy of the
 * weights beside the live ones, not two (modelWeightsFrom builds a separate arena).
 */
export function moveModelWeightsInto(ckpt: Pick<Checkpoint, 'dir' | 'model'>, params: ParamTable): void {
  checkModelTensors(ckpt, params.specs);
  for (const s of params.specs) {
    const o = params.offsets.get(s.name) as number;
    const n = s.shape.reduce((a, b) => a * b, 1);
    // Per-tensor byte views: the whole arena (4.77 GB at 1.5b) is more than one Uint8Array holds.
    typedBytes(params.data.subarray(o, o + n)).set((ckpt.model.tensors.get(s.name) as SafetensorsTensor).bytes);
    ckpt.model.tensors.delete(s.name);
  }
}
