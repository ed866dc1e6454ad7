/** The fixed batch and seed of the golden fixtures (shared by the exporter and the test). */
import type { ModelConfig } from '../../src/model/config.js';
import type { Batch } from '../../src/model/model.js';

export const GOLDEN_SEED = 1;

/** B = 2, T = 6 tokens from a fixed formula; one ignored target. */
export function goldenBatch(c: ModelConfig): Batch {
  const B = 2;
  const T = 6;
  const inputs = new Int32Array(B * T).map((_, i) => (i * 37 + 11) % c.vocabSize);
  const targets = new Int32Array(B * T).map((_, i) => (i * 53 + 5) % c.vocabSize);
  targets[3] = -1;
  return { inputs, targets, B, T };
}
