import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PRESET_NAMES, resolveModelConfig } from '../../src/model/config.js';
import { fromHfConfig, toHfConfig } from '../../src/model/hf-config.js';
import { ParameterStore, buildParamSpecs, countParameters, lmHeadParamName, parameterGroups } from '../../src/model/params.js';

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

test('the authors\' sizes (DESIGN §4): shapes, vocabulary 131072, tie, RoPE scaling and matrix parameter counts', () => {
  const table = [
    ['390m', 16, 1024, 8, 4, 4096, true, 385_875_968],
    ['1.5b', 16, 2048, 16, 8, 8192, false, 1_543_503_872],
    ['8b', 32, 4096, 32, 8, 14336, false, 8_053_063_680],
  ] as const;
  for (const [size, L, d, heads, kv, F, tied, matrix] of table) {
    for (const preset of PRESET_NAMES) {
      const c = resolveModelConfig({ preset, size });
      assert.deepEqual([c.nLayers, c.dModel, c.nHeads, c.nKvHeads, c.headDim, c.vocabSize, c.seqLen, c.tieEmbeddings], [L, d, heads, kv, 128, 131072, 4096, tied], `${preset}/${size}`);
      assert.equal(c.ffnDim, c.mlp === 'swiglu' || c.mlp === 'smooth-swiglu' ? F : 1.5 * F, `${preset}/${size} ffnDim`);
      assert.deepEqual(c.ropeScaling, { factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8192 }, `${preset}/${size} ropeScaling`);
      // 1.5·F non-gated keeps every preset's matrix count equal to the table's
      assert.equal(parameterGroups(c).matrix, matrix, `${preset}/${size} matrix parameters`);
    }
  }
  for (const size of ['tiny', 'small', 's', 'm'] as const) {
    const c = resolveModelConfig({ preset: 'llama3', size });
    assert.equal(c.ropeScaling, null, size);
    assert.equal(c.tieEmbeddings, false, size);
  }
});

test('tieEmbeddings: no lm_head tensor; the head reads the embedding; counts drop by V·d', () => {
  const untied = resolveModelConfig({ preset: 'fog-xielu', size: 'tiny' });
  const tied = resolveModelConfig({ preset: 'fog-xielu', size: 'tiny', tieEmbeddings: true });
  assert.ok(buildParamSpecs(untied).some((s) => s.name === 'lm_head.weight'));
  assert.ok(!buildParamSpecs(tied).some((s) => s.name === 'lm_head.weight'));
  assert.equal(lmHeadParamName(tied), 'model.embed_tokens.weight');
  assert.equal(lmHeadParamName(untied), 'lm_head.weight');
  assert.equal(countParameters(untied) - countParameters(tied), 64 * 32);
  const g = parameterGroups(tied);
  assert.equal(g.lmHead, 0);
  assert.equal(g.total, g.matrix + g.vector);
  assert.equal(g.total, g.embedding + g.blocks + g.lmHead);
  assert.throws(() => resolveModelConfig({ preset: 'llama3', size: 'tiny', tieEmbeddings: 'yes' as unknown as boolean }), /tieEmbeddings/);
});

test('input upscale 1/σ_init follows initStd where the preset asks for it; a number or Llama stays fixed', () => {
  assert.equal(resolveModelConfig({ preset: 'fog-xielu', size: 'tiny' }).inputUpscale, 50);
  assert.equal(resolveModelConfig({ preset: 'fog-xielu', size: 'tiny', initStd: 0.01 }).inputUpscale, 100);
  assert.equal(resolveModelConfig({ preset: 'op', size: 'tiny', initStd: 0.04 }).inputUpscale, 25);
  assert.equal(resolveModelConfig({ preset: 'llama3', size: 'tiny', initStd: 0.01 }).inputUpscale, 1);
  const fixed = resolveModelConfig({ preset: 'fog-xielu', size: 'tiny', initStd: 0.01, inputUpscale: 30 });
  assert.equal(fixed.inputUpscale, 30);
  assert.equal(fixed.inputUpscaleRule, 30);
  const rule = resolveModelConfig({ preset: 'llama3', size: 'tiny', initStd: 0.025, inputUpscaleRule: 'inv-init-std' });
  assert.equal(rule.inputUpscale, 40);
  assert.throws(() => resolveModelConfig({ preset: 'fog-xielu', size: 'tiny', inputUpscale: -1 }), /inputUpscale.*inv-init-std/);
  assert.throws(() => resolveModelConfig({ preset: 'fog-xielu', size: 'tiny', inputUpscaleRule: 'inv-init-std', inputUpscale: 7 }), /inputUpscale = 7 contradicts/);
});

test('ropeScaling is validated field by field', () => {
  const ok = { factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8192 };
  assert.equal(resolveModelConfig({ preset: 'llama3', size: '8b', ropeScaling: null }).ropeScaling, null);
  assert.deepEqual(resolveModelConfig({ preset: 'llama3', size: 'tiny', ropeScaling: ok }).ropeScaling, ok);
  assert.throws(() => resolveModelConfig({ preset: 'llama3', size: 'tiny', ropeScaling: { ...ok, factor: 0.5 } }), /ropeScaling\.factor/);
  assert.throws(() => resolveModelConfig({ preset: 'llama3', size: 'tiny', ropeScaling: { ...ok, highFreqFactor: 1 } }), /ropeScaling\.highFreqFactor/);
  assert.throws(() => resolveModelConfig({ preset: 'llama3', size: 'tiny', ropeScaling: { ...ok, originalContext: undefined } as never }), /ropeScaling\.originalContext/);
  assert.throws(() => resolveModelConfig({ preset: 'llama3', size: 'tiny', ropeScaling: { ...ok, type: 'llama3' } as never }), /unknown field "type"/);
});
