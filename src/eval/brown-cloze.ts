/**
 * `brown-cloze`: a built-in offline multiple-choice task made from the held-out Brown documents
 * (the validation split of training's document split at the default fraction 0.02: 10 of the 500
 * documents, spread over the genres). Each item gives up to three consecutive sentences of a
 * document as context and asks for the true next sentence among 4: the true one and three
 * sentences drawn from the other held-out documents, in a seeded random order. Chance is 25 %.
 * Deterministic: the same items on every machine.
 */
import { BROWN_DOCUMENT_COUNT, loadBrownCorpus } from '../data/brown-corpus.js';
import { DEFAULT_VALIDATION_FRACTION } from '../data/batch-loader.js';
import { splitDocuments } from '../data/validation-split.js';
import type { MultipleChoiceItem, Task } from './tasks.js';

export const BROWN_CLOZE = 'brown-cloze';
/** Items per held-out document (evenly spaced through it). */
const ITEMS_PER_DOCUMENT = 16;
const CONTEXT_SENTENCES = 3;

/** Sentences of a Brown document (paragraphs split on blank lines, sentences after . ! ? and closing quotes). */
export function brownSentences(text: string): string[] {
  return text
    .split(/\n\s*\n/)
    .flatMap((p) => p.replace(/\s+/g, ' ').trim().split(/(?<=[.!?]["')]?)\s+(?=["'(]?[A-Z])/))
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Sentences usable as an answer: long enough to carry meaning, short enough to fit a window. */
function answerable(s: string): boolean {
  return s.length >= 30 && s.length <= 240;
}

/** Document indices of the held-out Brown documents. */
export function brownHeldOutDocuments(valFraction = DEFAULT_VALIDATION_FRACTION): number[] {
  return splitDocuments(BROWN_DOCUMENT_COUNT, valFraction).validation;
}

export function brownClozeTask(): Task {
  const corpus = loadBrownCorpus();
  const held = brownHeldOutDocuments().map((d) => brownSentences(corpus[d].text));
  let seed = 0x9e3779b9;
  const random = (): number => {
    seed = (seed + 0x6d2b79f5) >>> 0; // mulberry32
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const items: MultipleChoiceItem[] = [];
  held.forEach((sentences, d) => {
    const candidates = sentences.map((s, i) => i).filter((i) => i >= CONTEXT_SENTENCES && answerable(sentences[i]));
    const step = candidates.length / ITEMS_PER_DOCUMENT;
    for (let k = 0; k < Math.min(ITEMS_PER_DOCUMENT, candidates.length); k++) {
      const i = candidates[Math.floor(k * step)];
      const context = sentences.slice(i - CONTEXT_SENTENCES, i).join(' ');
      const distractors: string[] = [];
      while (distractors.length < 3) {
        const other = Math.floor(random() * held.length);
        if (other === d) continue;
        const pool = held[other].filter(answerable);
        const s = pool[Math.floor(random() * pool.length)];
        if (!distractors.includes(s)) distractors.push(s);
      }
      const gold = Math.floor(random() * 4);
      const choices = [...distractors];
      choices.splice(gold, 0, sentences[i]);
      items.push({ context, choices, gold, delimiter: ' ' });
    }
  });
  return { name: BROWN_CLOZE, kind: 'multiple-choice', items };
}
