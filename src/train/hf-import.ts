/**
 * Hugging Face model directories that fog8 did not write: `config.json` (a LlamaConfig — GQA,
 * `rope_scaling`, `tie_word_embeddings` — or the authors' FOGConfig, mapped by fromHfConfig) plus
 * `model.safetensors` or a sharded `model.safetensors.index.json` (its `weight_map` names the
 * shard of every tensor), tensors in F32, BF16 or F16 (converted exactly to float32). Tensor names
 * are the Hugging Face names fog8's parameter table uses; non-parameter buffers some exporters
 * include (`rotary_emb.inv_freq`) are skipped, and a tied model's `lm_head.weight` copy is
 * accepted when it equals the embedding. Used by `fog8 eval DIR`, `fog8 generate DIR` and
 * `fog8 train --init-from DIR`. Each file is read tensor by tensor (readSafetensorsFile), so a
 * single file or shard above 4 GiB loads as long as each tensor fits one typed array.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fromHfConfig } from '../model/hf-config.js';
import type { ModelConfig } from '../model/config.js';
import { EMBED_NAME, LM_HEAD_NAME } from '../model/params.js';
import { readSafetensorsFile, type SafetensorsTensor } from './safetensors.js';
import type { ParamTable } from './checkpoint.js';

export const HF_SINGLE_FILE = 'model.safetensors';
export const HF_INDEX_FILE = 'model.safetensors.index.json';

/** A directory with config.json and HF weights but no fog8 manifest. */
export function isHfModelDir(dir: string): boolean {
  return (
    existsSync(dir) && statSync(dir).isDirectory() && !existsSync(join(dir, 'manifest.json')) && existsSync(join(dir, 'config.json')) &&
    (existsSync(join(dir, HF_SINGLE_FILE)) || existsSync(join(dir, HF_INDEX_FILE)))
  );
}

export interface HfModel {
  dir: string;
  hfConfig: unknown;
  config: ModelConfig;
  tensors: Map<string, SafetensorsTensor>;
  tokenizerJson: string | null;
}

/** float32 of one BF16 or F16 code. */
function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m === 0 ? sign * Infinity : NaN;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** The tensor as float32 (F32 copied; BF16 and F16 widened exactly), after checking the shape. */
export function tensorToFloat32(t: SafetensorsTensor, shape: readonly number[], file: string): Float32Array {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${file}: tensor ${t.name} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
  }
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const view = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  if (t.dtype === 'F32') for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
  else if (t.dtype === 'BF16') {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) bits[i] = view.getUint16(2 * i, true) << 16;
  } else if (t.dtype === 'F16') for (let i = 0; i < n; i++) out[i] = f16ToF32(view.getUint16(2 * i, true));
  else throw new Error(`${file}: tensor ${t.name} is ${t.dtype}; fog8 imports F32, BF16 and F16`);
  return out;
}

const SKIPPED = /\.rotary_emb\.inv_freq$/;

/** Reads config.json and every tensor (single file or sharded index). Errors name the file. */
export function readHfModel(dir: string): HfModel {
  const configPath = join(dir, 'config.json');
  let hfConfig: unknown;
  try {
    hfConfig = JSON.parse(readFileSync(configPath, 'utf8'));
  } catch (e) {
    throw new Error(`${configPath}: not valid JSON (${(e as Error).message})`);
  }
  const config = fromHfConfig(hfConfig);
  const tensors = new Map<string, SafetensorsTensor>();
  const shards: string[] = [];
  if (existsSync(join(dir, HF_INDEX_FILE))) {
    const indexPath = join(dir, HF_INDEX_FILE);
    const index = JSON.parse(readFileSync(indexPath, 'utf8')) as { weight_map?: Record<string, string> };
    if (!index.weight_map || typeof index.weight_map !== 'object') throw new Error(`${indexPath}: no "weight_map" object`);
    for (const f of Object.values(index.weight_map)) {
      if (typeof f !== 'string' || f.includes('/') || f.includes('\\') || f.startsWith('.')) throw new Error(`${indexPath}: weight_map names ${JSON.stringify(f)}, not a file in the directory`);
      if (!shards.includes(f)) shards.push(f);
    }
    for (const f of shards) {
      for (const [name, t] of readSafetensorsFile(join(dir, f), { what: 'Hugging Face weights' }).tensors) {
        if (index.weight_map[name] !== f) throw new Error(`${join(dir, f)}: tensor ${name} is not mapped to this shard by ${HF_INDEX_FILE}`);
        tensors.set(name, t);
      }
    }
    for (const name of Object.keys(index.weight_map)) if (!tensors.has(name)) throw new Error(`${indexPath}: tensor ${name} is missing from ${index.weight_map[name]}`);
  } else {
    for (const [name, t] of readSafetensorsFile(join(dir, HF_SINGLE_FILE), { what: 'Hugging Face weights' }).tensors) tensors.set(name, t);
  }
  const tok = join(dir, 'tokenizer.json');
  return { dir, hfConfig, config, tensors, tokenizerJson: existsSync(tok) ? readFileSync(tok, 'utf8') : null };
}

/** The weights as one float32 arena laid out like `params`; errors name the missing or unexpected tensor. */
export function hfWeightsFor(model: HfModel, params: ParamTable): Float32Array {
  const where = `${model.dir} (Hugging Face weights)`;
  const arena = new Float32Array(params.data.length);
  const expected = new Set(params.specs.map((s) => s.name));
  for (const s of params.specs) {
    const t = model.tensors.get(s.name);
    if (!t) throw new Error(`${where}: missing tensor ${s.name}`);
    arena.set(tensorToFloat32(t, s.shape, where), params.offsets.get(s.name) as number);
  }
  for (const [name, t] of model.tensors) {
    if (expected.has(name) || SKIPPED.test(name)) continue;
    if (name === LM_HEAD_NAME && model.config.tieEmbeddings) {
      // Some exporters write the tied head too: accept it only as the embedding's copy.
      const embed = arena.subarray(params.offsets.get(EMBED_NAME) as number);
      const head = tensorToFloat32(t, [model.config.vocabSize, model.config.dModel], where);
      if (head.some((v, i) => v !== embed[i])) throw new Error(`${where}: tie_word_embeddings is true but lm_head.weight differs from ${EMBED_NAME}`);
      continue;
    }
    throw new Error(`${where}: unexpected tensor ${name} (the model config has no such parameter)`);
  }
  return arena;
}
