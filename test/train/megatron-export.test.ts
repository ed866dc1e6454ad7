/** `fog8 export megatron RUN`: weights, data, tokenizer and the fork's launch arguments (issue 13 §5). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_TRAIN_CONFIG, validateTrainConfig } from '../../src/train/config.js';
import { referenceKernelLoader, runTraining } from '../../src/train/session.js';
import { argMap, exportMegatron } from '../../src/train/megatron-export.js';
import { trainTokenizer } from '../../src/data/tokenizer.js';
import { writeCountingDataset } from './helpers.js';

async function trainTiny(dir: string, extra: Record<string, unknown>): Promise<string> {
  const runDir = join(dir, 'run');
  await runTraining({
    config: validateTrainConfig({
      ...DEFAULT_TRAIN_CONFIG, size: 'tiny', kernels: 'reference', steps: 2, batch: 2, seq: 16, evalInterval: 0, evalBatches: 1, valFraction: 0.1, progress: 'none', runDir, ...extra,
    }),
    loadKernels: referenceKernelLoader,
  });
  return runDir;
}

test('export megatron, llama3 in bf16 with a low-precision optimizer: HF Llama checkpoint + tokenizer, data copy, their flags, loader_llama_mistral command', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-megatron-'));
  try {
    const prefix = writeCountingDataset(dir);
    const tok = join(dir, 'tokenizer.json');
    trainTokenizer(['the cat sat on the mat', 'the dog sat on the log'], { vocabSize: 260, minPairFrequency: 1 }).save(tok);
    const run = await trainTiny(dir, { preset: 'llama3', precision: 'bf16', data: prefix, tokenizer: tok, gradPrecision: 'bf16', masterPrecision: 'fp16', m1Precision: 'fp8', m2Precision: 'fp16', batch: 4, microBatches: 2 });
    const out = join(dir, 'export');
    const r = await exportMegatron(run, out);
    assert.equal(r.step, 2);
    const ckpt = join(run, 'checkpoints', 'step-2');
    assert.ok(readFileSync(join(out, 'hf', 'model.safetensors')).equals(readFileSync(join(ckpt, 'model.safetensors'))));
    const hf = JSON.parse(readFileSync(join(out, 'hf', 'config.json'), 'utf8'));
    assert.equal(hf.model_type, 'llama');
    assert.deepEqual(hf.architectures, ['LlamaForCausalLM']);
    assert.ok(readFileSync(join(out, 'hf', 'tokenizer.json')).equals(readFileSync(tok)));
    assert.equal(JSON.parse(readFileSync(join(out, 'hf', 'tokenizer_config.json'), 'utf8')).eos_token, '<|endoftext|>');
    for (const ext of ['bin', 'idx']) assert.ok(readFileSync(join(out, 'data', `counting.${ext}`)).equals(readFileSync(`${prefix}.${ext}`)));
    const a = argMap(r.args);
    assert.deepEqual(a.get('--num-layers'), [String(hf.num_hidden_layers)]);
    assert.deepEqual(a.get('--num-query-groups'), [String(hf.num_key_value_heads)]);
    assert.deepEqual(a.get('--ffn-hidden-size'), [String(hf.intermediate_size)]);
    assert.ok(a.has('--swiglu') && a.has('--bf16') && !a.has('--fp8-format') && !a.has('--no-pre-layer-norm') && !a.has('--qk-layernorm'));
    assert.deepEqual(a.get('--tokenizer-model'), [join(out, 'hf')]);
    assert.deepEqual(a.get('--data-path'), [join(out, 'data', 'counting')]);
    assert.deepEqual(a.get('--micro-batch-size'), ['2']);
    assert.deepEqual(a.get('--global-batch-size'), ['4']);
    assert.ok(a.has('--use-precision-aware-optimizer'));
    assert.deepEqual([a.get('--main-grads-dtype'), a.get('--main-params-dtype'), a.get('--exp-avg-dtype'), a.get('--exp-avg-sq-dtype')], [['bf16'], ['fp16'], ['fp8'], ['fp16']]);
    assert.deepEqual(a.get('--lr-decay-style'), ['WSD']);
    assert.ok(r.convert !== null);
    const c = argMap(r.convert.slice(2));
    assert.deepEqual([c.get('--loader'), c.get('--checkpoint-type'), c.get('--model-size'), c.get('--load-dir')], [['llama_mistral'], ['hf'], ['llama3'], [join(out, 'hf')]]);
    const script = readFileSync(join(out, 'megatron-args.sh'), 'utf8');
    assert.match(script, /python tools\/checkpoint\/convert\.py .*--loader llama_mistral/);
    assert.match(script, /python pretrain_gpt\.py "\$\{MEGATRON_ARGS\[@\]\}"/);
    assert.ok(existsSync(join(out, 'README.md')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('export megatron, fog-xielu in fp8-delayed with FP8 attention: FOGConfig checkpoint, FOG flags, FP8 flags, no Megatron loader (said)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-megatron-fog-'));
  try {
    const prefix = writeCountingDataset(dir);
    const run = await trainTiny(dir, { preset: 'fog-xielu', precision: 'fp8-delayed', fp8Attention: true, data: prefix, vocabSize: 64 });
    const r = await exportMegatron(run, join(dir, 'export'));
    const hf = JSON.parse(readFileSync(join(dir, 'export', 'hf', 'config.json'), 'utf8'));
    assert.equal(hf.model_type, 'fog');
    assert.equal(hf.hidden_act, 'xielu');
    const a = argMap(r.args);
    for (const flag of ['--xielu', '--no-pre-layer-norm', '--no-final-layernorm', '--post-layer-norm', '--qk-layernorm', '--no-train-qk-gains', '--fp8-dot-product-attention']) assert.ok(a.has(flag), flag);
    assert.ok(!a.has('--swiglu'));
    assert.deepEqual(a.get('--fp8-format'), ['hybrid']);
    assert.deepEqual(a.get('--fp8-amax-history-len'), ['1024']);
    assert.deepEqual(a.get('--fp8-amax-compute-algo'), ['max']);
    assert.deepEqual(a.get('--input-embeddings-multiplier'), [String(hf.input_upscale)]);
    assert.deepEqual(a.get('--layernorm-init'), [String(1 / Math.sqrt(hf.num_hidden_layers))]);
    assert.deepEqual(a.get('--softmax-scale'), [String(hf.softmax_scale)]);
    assert.deepEqual([a.get('--tokenizer-type'), a.get('--vocab-size')], [['NullTokenizer'], ['64']]);
    assert.equal(r.convert, null);
    assert.ok(r.notes.some((n) => /no FOG\/OP loader into Megatron/.test(n)));
    assert.match(readFileSync(join(dir, 'export', 'README.md'), 'utf8'), /no FOG\/OP loader into Megatron/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
