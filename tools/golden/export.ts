/**
 * Exports the weights and the fixed batch of every preset's `tiny` model (seed 1, fp32) for
 * tools/golden/make_golden.py: OUT/<preset>.safetensors (float32, Hugging Face names) and
 * OUT/<preset>.json (config.json fields, resolved config, batch). Usage:
 *   node --import tsx tools/golden/export.ts [OUT=tools/golden/out]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createReferenceKernels } from '../../src/kernels/reference/index.js';
import { resolvePrecision } from '../../src/numerics/recipe.js';
import { PRESET_NAMES, resolveModelConfig } from '../../src/model/config.js';
import { toHfConfig } from '../../src/model/hf-config.js';
import { Model } from '../../src/model/model.js';
import { goldenBatch, GOLDEN_SEED } from './batch.js';

const out = process.argv[2] ?? 'tools/golden/out';
mkdirSync(out, { recursive: true });
for (const preset of PRESET_NAMES) {
  const config = resolveModelConfig({ preset, size: 'tiny' });
  const model = new Model(config, createReferenceKernels(), resolvePrecision('fp32'), GOLDEN_SEED);
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const s of model.params.specs) {
    const bytes = model.params.get(s.name).byteLength;
    header[s.name] = { dtype: 'F32', shape: s.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  while ((json.length + 8) % 8 !== 0) json += ' ';
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(json.length));
  const data = Buffer.from(model.params.data.buffer, model.params.data.byteOffset, model.params.data.byteLength);
  writeFileSync(join(out, `${preset}.safetensors`), Buffer.concat([head, Buffer.from(json), data]));
  const batch = goldenBatch(config);
  writeFileSync(
    join(out, `${preset}.json`),
    JSON.stringify({ hf: toHfConfig(config), config, B: batch.B, T: batch.T, inputs: [...batch.inputs], targets: [...batch.targets], names: model.params.specs.map((s) => s.name) }),
  );
  console.log(`exported ${preset}: ${model.params.size} parameters`);
}
