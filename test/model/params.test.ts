import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PRESET_NAMES, fromHfConfig, resolveModelConfig, toHfConfig } from '../../src/model/config.js';
import { ParameterStore, buildParamSpecs, countParameters } from '../../src/model/params.js';

test('HF config round-trips for every preset; FOG presets emit FOGConfig fields, llama3 LlamaConfig', () => {
  for (const preset of PRESET_NAMES) {
    const c = resolveModelConfig({ preset, size: 's' });
    assert.deepEqual(fromHfConfig(JSON.parse(JSON.stringify(toHfConfig(c)))), c);
  }
  const fog = toHfConfig(resolveModelConfig({ preset: 'fog-xielu', size: 'tiny' }));
  assert.equal(fog.hidden_act, 'xielu');
  assert.equal(fog.freeze_qk, true);
  assert.equal(fog.post_norm, true);
  assert.equal(fog.pre_norm, false);
  assert.equal(fog.input_upscale, 50);
  assert.equal(toHfConfig(resolveModelConfig({ preset: 'llama3', size: 'tiny' })).model_type, 'llama');
});

test('parameter table: Hugging Face names per preset, weight decay on matrices only, fused q/k/v and gate/up spans', () => {
  const names = (preset: string) => buildParamSpecs(resolveModelConfig({ preset, size: 'tiny' })).map((s) => s.name);
  const l0 = (preset: string) => names(preset).filter((n) => n.startsWith('model.layers.0.')).map((n) => n.slice('model.layers.0.'.length));
  assert.deepEqual(l0('llama3'), [
    'input_layernorm.weight', 'self_attn.q_proj.weight', 'self_attn.k_proj.weight', 'self_attn.v_proj.weight', 'self_attn.o_proj.weight',
    'post_attention_layernorm.weight', 'mlp.gate_proj.weight', 'mlp.up_proj.weight', 'mlp.down_proj.weight',
  ]);
  assert.deepEqual(l0('fog-tanh'), [
    'self_attn.q_proj.weight', 'self_attn.k_proj.weight', 'self_attn.v_proj.weight', 'self_attn.o_proj.weight',
    'self_attn.q_norm.alpha', 'self_attn.k_norm.alpha', 'attention_layernorm.weight', 'mlp.up_proj.weight', 'mlp.down_proj.weight',
    'mlp.act_fn.alpha_p', 'mlp.act_fn.alpha_n', 'feedforward_layernorm.weight',
  ]);
  assert.ok(l0('op').includes('self_attn.q_norm.weight') && l0('op').includes('mlp.mlp_layerscale.weight'));
  assert.ok(!l0('fog-xielu').some((n) => n.includes('q_norm')), 'frozen QK norm has no tensor');
  assert.ok(names('llama3').includes('model.norm.weight') && !names('fog-xielu').includes('model.norm.weight'));
  const specs = buildParamSpecs(resolveModelConfig({ preset: 'op', size: 'tiny' }));
  for (const s of specs) assert.equal(s.weightDecay, s.shape.length === 2, s.name);
  const store = new ParameterStore(specs);
  const qkv = store.span(['model.layers.0.self_attn.q_proj.weight', 'model.layers.0.self_attn.k_proj.weight', 'model.layers.0.self_attn.v_proj.weight']);
  assert.equal(qkv.length, (32 + 16 + 16) * 32);
  assert.equal(qkv.buffer, store.data.buffer);
  assert.throws(() => store.span(['model.layers.0.self_attn.q_proj.weight', 'model.layers.0.self_attn.v_proj.weight']), /not adjacent/);
});

test('parameter counts are derived without allocation; non-gated MLPs keep the SwiGLU parameter count', () => {
  const fog = countParameters(resolveModelConfig({ preset: 'fog-xielu', size: '1.5b' }));
  const llama = countParameters(resolveModelConfig({ preset: 'llama3', size: '1.5b' }));
  assert.ok(fog > 1.45e9 && fog < 1.55e9, String(fog));
  // FOG drops 2 pre-norms + final norm, adds 2 post-norms and 2 xIELU scalars per layer
  assert.equal(fog - llama, 16 * 2 - 2048);
  const init = new ParameterStore(buildParamSpecs(resolveModelConfig({ preset: 'fog-xielu', size: 'tiny' })));
  init.initialize(1);
  const ap = init.get('model.layers.0.mlp.act_fn.alpha_p')[0];
  const an = init.get('model.layers.0.mlp.act_fn.alpha_n')[0];
  assert.ok(Math.abs(Math.log1p(Math.exp(ap)) - 0.8) < 1e-6 && Math.abs(0.5 + Math.log1p(Math.exp(an)) - 0.8) < 1e-6);
  let ss = 0;
  const e = init.get('model.embed_tokens.weight');
  for (const v of e) ss += v * v;
  assert.ok(Math.abs(Math.sqrt(ss / e.length) - 0.02) < 0.002, 'embedding std 0.02');
  const o = init.get('model.layers.0.self_attn.o_proj.weight');
  ss = 0;
  for (const v of o) ss += v * v;
  assert.ok(Math.abs(Math.sqrt(ss / o.length) - 0.02 / 2) < 0.002, 'o_proj std 0.02/√(2L)');
});
