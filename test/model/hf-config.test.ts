import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LLAMA31_ROPE_SCALING, PRESET_NAMES, SIZE_NAMES, resolveModelConfig, type ModelConfig } from '../../src/model/config.js';
import { HfConfigError, fromHfConfig, toHfConfig } from '../../src/model/hf-config.js';

/**
 * Fixtures: config.json files written from the authors' field lists (fog_transformers
 * configuration_fog.py, Megatron-LM tools/checkpoint/saver_fog_hf.py, scripts/submit.sh), one per
 * variant they ran, plus a standard Llama-3.1 LlamaConfig.
 */
const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(fileURLToPath(new URL(`../fixtures/hf-config/${name}`, import.meta.url)), 'utf8'));

/** The fields the authors' FOGConfig.__init__ takes by name (plus PretrainedConfig's that the saver passes). */
const FOG_CONFIG_FIELDS = new Set([
  'vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'hidden_act',
  'max_position_embeddings', 'initializer_range', 'use_cache', 'pad_token_id', 'bos_token_id', 'eos_token_id', 'tie_word_embeddings',
  'rope_theta', 'rope_scaling', 'attention_bias', 'attention_dropout', 'softmax_scale', 'rms_norm_eps', 'qk_norm', 'freeze_qk', 'qk_type',
  'pre_norm', 'post_norm', 'input_upscale', 'layerscale', 'final_layernorm',
  'mlp_bias', 'torch_dtype', 'hidden_dropout', 'model_type', 'architectures',
]);

test('authors\' FOG configs map to the preset of each variant, with the shape of the named size', () => {
  const cases: [string, string, string, Partial<ModelConfig>][] = [
    ['fog-xielu-1.5b.json', 'fog-xielu', '1.5b', { postNormGainInit: 'inv-sqrt-layers', qkNorm: 'rmsnorm', softmaxScale: 0.125, logitBound: 16 }],
    ['fog-xielu-1.5b-layerscale-false.json', 'fog-xielu', '1.5b', { postNormGainInit: 'one' }],
    ['fog-gelu-1.5b.json', 'fog-gelu', '1.5b', { mlp: 'gelu' }],
    ['fog-dyt-1.5b.json', 'fog-tanh', '1.5b', { qkNorm: 'tanh' }],
    ['fog-xielu-390m.json', 'fog-xielu', '390m', { tieEmbeddings: true }],
    ['op-1.5b.json', 'op', '1.5b', { qkNorm: 'rmsnorm-gain', layerScale: true, preNorm: false, postNorm: false, finalNorm: false }],
    ['llama3-smooth-swiglu-1.5b.json', 'llama3-smooth-swiglu', '1.5b', { mlp: 'smooth-swiglu', preNorm: true, finalNorm: true, inputUpscale: 1 }],
    ['llama3-fog-1.5b.json', 'llama3', '1.5b', { mlp: 'swiglu', qkNorm: 'none' }],
  ];
  for (const [file, preset, size, expect] of cases) {
    const c = fromHfConfig(fixture(file));
    assert.equal(c.preset, preset, file);
    assert.equal(c.size, size, file);
    for (const [k, v] of Object.entries(expect)) assert.deepEqual(c[k as keyof ModelConfig], v, `${file}: ${k}`);
    // FOG configs cannot carry Llama-3.1 RoPE scaling (their FOGConfig refuses it), so it is off.
    assert.equal(c.ropeScaling, null, `${file}: ropeScaling`);
    const named = resolveModelConfig({ preset, size });
    for (const k of ['vocabSize', 'dModel', 'nLayers', 'nHeads', 'nKvHeads', 'headDim', 'ffnDim', 'seqLen', 'tieEmbeddings'] as const) {
      assert.equal(c[k], named[k], `${file}: ${k}`);
    }
  }
  // input_upscale 50.0 at initializer_range 0.02 is the 1/σ_init rule; OP without a final norm too.
  assert.equal(fromHfConfig(fixture('fog-xielu-1.5b.json')).inputUpscaleRule, 'inv-init-std');
  assert.equal(fromHfConfig(fixture('op-1.5b.json')).inputUpscale, 50);
});

test('a fixture config reads back to exactly the fields fog8 writes for that preset and size (no fog8 block)', () => {
  for (const [file, preset, size] of [
    ['fog-xielu-1.5b.json', 'fog-xielu', '1.5b'], ['fog-gelu-1.5b.json', 'fog-gelu', '1.5b'], ['fog-xielu-390m.json', 'fog-xielu', '390m'],
    ['op-1.5b.json', 'op', '1.5b'], ['llama3-smooth-swiglu-1.5b.json', 'llama3-smooth-swiglu', '1.5b'],
  ] as const) {
    const ours = toHfConfig(resolveModelConfig({ preset, size }));
    const theirs = fixture(file);
    for (const [k, v] of Object.entries(theirs)) {
      if (['bos_token_id', 'eos_token_id', 'pad_token_id', 'transformers_version', 'use_cache', 'torch_dtype'].includes(k)) continue;
      assert.deepEqual(ours[k], v, `${file}: ${k}`);
    }
    for (const k of Object.keys(ours)) assert.ok(k === 'fog8' || FOG_CONFIG_FIELDS.has(k), `${preset}: ${k} is not a FOGConfig field`);
  }
});

test('Llama-3.1 LlamaConfig reads to llama3 8b with its rope_scaling; llama3 writes a standard LlamaConfig', () => {
  const c = fromHfConfig(fixture('llama-3.1-8b.json'));
  assert.equal(c.preset, 'llama3');
  assert.equal(c.size, '8b');
  assert.deepEqual(c.ropeScaling, LLAMA31_ROPE_SCALING);
  const hf = toHfConfig(resolveModelConfig({ preset: 'llama3', size: '8b' }));
  assert.equal(hf.model_type, 'llama');
  assert.deepEqual(hf.architectures, ['LlamaForCausalLM']);
  assert.deepEqual(hf.rope_scaling, { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 });
  for (const [k, v] of Object.entries(fixture('llama-3.1-8b.json'))) {
    if (['bos_token_id', 'eos_token_id', 'transformers_version', 'torch_dtype'].includes(k)) continue;
    assert.deepEqual(hf[k], v, k);
  }
  assert.equal(toHfConfig(resolveModelConfig({ preset: 'llama3', size: 'tiny' })).rope_scaling, null);
});

test('FOG configs keep Llama-3.1 scaling out of rope_scaling (FOGConfig would raise) and in the fog8 block', () => {
  const c = resolveModelConfig({ preset: 'fog-xielu', size: '1.5b' });
  const hf = toHfConfig(c);
  assert.equal(hf.rope_scaling, null);
  assert.deepEqual((hf.fog8 as { config: ModelConfig }).config.ropeScaling, LLAMA31_ROPE_SCALING);
  assert.deepEqual(fromHfConfig(JSON.parse(JSON.stringify(hf))), c);
  assert.equal(hf.tie_word_embeddings, false);
  assert.equal(toHfConfig(resolveModelConfig({ preset: 'fog-xielu', size: '390m' })).tie_word_embeddings, true);
});

test('every preset × size round-trips through config.json exactly', () => {
  for (const preset of PRESET_NAMES) {
    for (const size of SIZE_NAMES) {
      const c = resolveModelConfig({ preset, size });
      assert.deepEqual(fromHfConfig(JSON.parse(JSON.stringify(toHfConfig(c)))), c, `${preset}/${size}`);
      // Without the fog8 block the field mapping alone gives the same architecture (init rules aside).
      const hf = toHfConfig(c);
      delete hf.fog8;
      const mapped = fromHfConfig(JSON.parse(JSON.stringify(hf)));
      for (const k of ['vocabSize', 'dModel', 'nLayers', 'nHeads', 'nKvHeads', 'headDim', 'ffnDim', 'seqLen', 'mlp', 'qkNorm', 'preNorm', 'postNorm',
        'layerScale', 'finalNorm', 'inputUpscale', 'softmaxScale', 'tieEmbeddings', 'normEps', 'ropeTheta'] as const) {
        assert.deepEqual(mapped[k], c[k], `${preset}/${size}: ${k}`);
      }
      assert.equal(mapped.preset, preset, `${preset}/${size}: preset`);
    }
  }
});

test('fields fog8 cannot represent are refused by name', () => {
  const fog = fixture('fog-xielu-1.5b.json');
  const cases: [Record<string, unknown>, string][] = [
    [{ ...fog, rope_scaling: { type: 'linear', factor: 2.0 } }, 'rope_scaling'],
    [{ ...fog, attention_bias: true }, 'attention_bias'],
    [{ ...fog, mlp_bias: true }, 'mlp_bias'],
    [{ ...fog, hidden_act: 'relu' }, 'hidden_act'],
    [{ ...fog, qk_type: 'layernorm' }, 'qk_type'],
    [{ ...fog, pre_norm: true }, 'post_norm'],
    [{ ...fog, attention_dropout: 0.1 }, 'attention_dropout'],
    [{ ...fog, hidden_size: 'big' }, 'hidden_size'],
    [{ ...fog, model_type: 'gpt2' }, 'model_type'],
    [{ ...fixture('llama-3.1-8b.json'), rope_scaling: { rope_type: 'yarn', factor: 4 } }, 'rope_scaling.rope_type'],
    [{ ...fixture('llama-3.1-8b.json'), hidden_act: 'gelu' }, 'hidden_act'],
  ];
  for (const [json, field] of cases) {
    assert.throws(() => fromHfConfig(json), (e: unknown) => e instanceof HfConfigError && e.field === field && e.message.includes(field), field);
  }
});

test('a fog8 block written before tieEmbeddings / ropeScaling / inputUpscaleRule existed reads as untied, plain RoPE, fixed upscale', () => {
  const c = resolveModelConfig({ preset: 'fog-xielu', size: '390m' });
  const hf = JSON.parse(JSON.stringify(toHfConfig(c)));
  const old = hf.fog8.config;
  delete old.tieEmbeddings;
  delete old.ropeScaling;
  delete old.inputUpscaleRule;
  hf.tie_word_embeddings = false;
  const read = fromHfConfig(hf);
  assert.equal(read.tieEmbeddings, false);
  assert.equal(read.ropeScaling, null);
  assert.equal(read.inputUpscale, 50);
  assert.equal(read.nLayers, c.nLayers);
});
