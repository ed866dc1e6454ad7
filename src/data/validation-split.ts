/**
 * Held-out validation split by document: k = max(1, round(fraction·D)) documents spread evenly
 * over the corpus (document ⌊(i + ½)·D/k⌋ for i < k), so every part of an ordered corpus (the
 * Brown genres, say) is represented. Depends only on (D, fraction): deterministic and stable.
 */

export interface DocumentSplit {
  /** Document indices in increasing order. */
  train: number[];
  validation: number[];
}

export function splitDocuments(documentCount: number, validationFraction: number): DocumentSplit {
  if (!Number.isInteger(documentCount) || documentCount < 1) throw new RangeError(`documentCount must be a positive integer, got ${documentCount}`);
  if (!(validationFraction >= 0 && validationFraction < 1)) throw new RangeError(`validationFraction must be in [0, 1), got ${validationFraction}`);
  const k = validationFraction === 0 ? 0 : Math.max(1, Math.round(validationFraction * documentCount));
  if (k >= documentCount) {
    throw new RangeError(`a validation fraction of ${validationFraction} leaves no training documents out of ${documentCount}; need at least 2 documents or a smaller fraction`);
  }
  const isValidation = new Uint8Array(documentCount);
  for (let i = 0; i < k; i++) isValidation[Math.floor(((i + 0.5) * documentCount) / k)] = 1;
  const train: number[] = [];
  const validation: number[] = [];
  for (let d = 0; d < documentCount; d++) (isValidation[d] === 1 ? validation : train).push(d);
  return { train, validation };
}
