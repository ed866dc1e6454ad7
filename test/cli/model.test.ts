import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../src/cli/main.js';

async function run(t: { mock: { method: (o: object, m: string, f: (...a: unknown[]) => void) => unknown } }, args: string[]): Promise<string> {
  const lines: string[] = [];
  t.mock.method(console, 'log', (...a: unknown[]) => lines.push(a.join(' ')));
  assert.equal(await main(args), 0);
  return lines.join('\n');
}

test('fog8 model --json: parameters.matrix is exactly DESIGN §4\'s matrix count for each paper size', async (t) => {
  for (const [size, matrix] of [['390m', 385_875_968], ['1.5b', 1_543_503_872], ['8b', 8_053_063_680]] as const) {
    const out = JSON.parse(await run(t, ['model', '--preset', 'llama3', '--size', size, '--json']));
    assert.equal(out.parameters.matrix, matrix, size);
    assert.equal(out.parameters.total, out.parameters.matrix + out.parameters.vector);
    assert.equal(out.config.tieEmbeddings, size === '390m');
    assert.equal(out.hfConfig.tie_word_embeddings, size === '390m');
    assert.equal(out.hfConfig.rope_scaling.rope_type, 'llama3');
    // 6 FLOPs per matmul weight (the embedding lookup is no matmul unless it is also the tied head) + attention
    const c = out.config;
    const matmulWeights = matrix - (c.tieEmbeddings ? 0 : out.parameters.embedding);
    assert.equal(out.flopsPerToken, 6 * matmulWeights + 12 * c.nLayers * c.nHeads * c.headDim * c.seqLen);
  }
});

test('fog8 model prints tie, RoPE scaling and 1/σ_init upscale; --hf prints the authors\' FOGConfig fields', async (t) => {
  const text = await run(t, ['model', '--preset', 'fog-xielu', '--size', '390m']);
  assert.match(text, /embeddings tied/);
  assert.match(text, /Llama-3\.1 scaling \(factor 8, low\/high 1\/4, original context 8192\)/);
  assert.match(text, /input upscale 50 \(1\/initStd, initStd 0\.02\)/);
  assert.match(text, /LM head tied to the embedding/);
  const hf = JSON.parse(await run(t, ['model', '--preset', 'fog-xielu', '--size', '1.5b', '--hf']));
  assert.deepEqual([hf.model_type, hf.hidden_act, hf.qk_type, hf.freeze_qk, hf.post_norm, hf.layerscale, hf.softmax_scale], ['fog', 'xielu', 'rms', true, true, true, 0.125]);
});
