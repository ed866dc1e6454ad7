import type { Batch, Model } from '../../src/model/model.js';

/**
 * The loss of one forward+backward of `m` on `batch` after `warmPasses` warm passes whose scaling
 * updates run as in training (so FP8 scales come from this batch's amaxes), with the gradients
 * of the warm passes cleared. m.grads then holds this step's gradients.
 */
export function warmedStep(m: Model, batch: Batch, warmPasses: number): number {
  for (let pass = 0; pass < warmPasses; pass++) {
    m.beginOptimizerStep();
    m.forwardBackward(batch, 1);
    m.scaling.updateForward();
    m.scaling.updateBackward();
  }
  m.zeroGrads();
  m.beginOptimizerStep();
  return m.forwardBackward(batch, 1);
}
