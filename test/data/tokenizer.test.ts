import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer as LibraryTokenizer } from '@huggingface/tokenizers';
import { loadBrownCorpus } from '../../src/data/brown-corpus.js';
import { trainByteLevelBpe } from '../../src/data/bpe-trainer.js';
import { BYTE_TO_CHAR, toByteLevelString } from '../../src/data/byte-level.js';
import { trainedBpeToTokenizerJson } from '../../src/data/tokenizer-json.js';
import { Tokenizer, loadTokenizer, trainTokenizer } from '../../src/data/tokenizer.js';
import { Xoshiro128 } from '../../src/data/seeded-permutation.js';

const brown = loadBrownCorpus({ limit: 20 }).map((d) => d.text);
const brownTokenizer = trainTokenizer(brown, { vocabSize: 600 });

test('byte-to-unicode map: printable bytes map to themselves, space to Ġ, newline to Ċ, all distinct', () => {
  assert.equal(BYTE_TO_CHAR[0x41], 'A');
  assert.equal(BYTE_TO_CHAR[0x20], 'Ġ');
  assert.equal(BYTE_TO_CHAR[0x0a], 'Ċ');
  assert.equal(BYTE_TO_CHAR[0x00], 'Ā');
  assert.equal(new Set(BYTE_TO_CHAR).size, 256);
  assert.equal(toByteLevelString(' é'), 'ĠÃ©');
});

test('a hand-computed merge sequence on "ab ab ab cd"', () => {
  // Pieces: "ab"×1, " ab"×2, " cd"×1. Pair counts: ab 3, Ġa 2, Ġc 1, cd 1.
  // 1: a+b (3). 2: Ġ+ab (2). 3: tie at 1 between (Ġ,c)=(32,99) and (c,d)=(99,100): smaller ids first → Ġ+c. 4: Ġc+d.
  const bpe = trainByteLevelBpe(['ab ab ab cd'], { vocabSize: 261, specialTokens: ['<|endoftext|>'], minPairFrequency: 1 });
  assert.deepEqual(bpe.merges, [['a', 'b'], ['Ġ', 'ab'], ['Ġ', 'c'], ['Ġc', 'd']]);
  assert.deepEqual(bpe.vocab.slice(256), ['ab', 'Ġab', 'Ġc', 'Ġcd', '<|endoftext|>']);
  assert.deepEqual(bpe.specialTokens, [{ content: '<|endoftext|>', id: 260 }]);
  // With the default minimum pair frequency 2 only the first two merges are learned.
  assert.equal(trainByteLevelBpe(['ab ab ab cd'], { vocabSize: 300 }).merges.length, 2);

  const tok = new Tokenizer(trainedBpeToTokenizerJson(bpe));
  assert.deepEqual(tok.encode('ab cd'), [256, 259]);
  // " abab": a+b at positions 1 and 3 (leftmost first), then Ġ+ab → [Ġab, ab].
  assert.deepEqual(tok.encode(' abab'), [257, 256]);
  assert.deepEqual(tok.encodeWithLibrary(' abab'), [257, 256]);
  assert.deepEqual(tok.encode('ab<|endoftext|>x'), [256, 260, 120]);
});

test('training rejects bad arguments and an empty corpus with clear errors', () => {
  assert.throws(() => trainByteLevelBpe([''], { vocabSize: 300 }), /empty corpus/);
  assert.throws(() => trainByteLevelBpe([], { vocabSize: 300 }), /empty corpus/);
  assert.throws(() => trainByteLevelBpe(['x'], { vocabSize: 100 }), /vocabSize must be an integer in \[256/);
  assert.throws(() => trainByteLevelBpe(['bad \uD800 text'], { vocabSize: 300 }), /lone surrogate U\+D800 at UTF-16 index 4/);
});

const tricky = [
  'Hello, world!',
  'emoji 🙂👍🏽 family 👨‍👩‍👧 flag 🇨🇭',
  '日本語のテキストと中文文本，한국어',
  'combining e\u0301 a\u0308 \u0915\u094D\u0937',
  'controls \u0000\u0001\u0007\t\r\n\u001b[0m \u007f \u0085 \u200b\u200d',
  '\uFEFFleading BOM',
  '   leading and trailing spaces   ',
  "contractions: don't, I'm, we'll, they've, she'd 's",
  '',
  '<|endoftext|>',
  'text <|endoftext|> between',
  '\u{10FFFF}\u{1F600}\uFFFD\uFFFF',
];

test('decode(encode(text)) = text for tricky Unicode, with our encoder and through the library', () => {
  for (const text of tricky) {
    const ids = brownTokenizer.encode(text);
    assert.equal(brownTokenizer.decode(ids), text, JSON.stringify(text));
    assert.equal(brownTokenizer.decodeWithLibrary(ids), text, `library decode of ${JSON.stringify(text)}`);
  }
});

test('decode(encode(text)) = text for random well-formed strings (seeded)', () => {
  const rng = new Xoshiro128(1234);
  const pools = [[0x0, 0x7f], [0x80, 0x7ff], [0x800, 0xd7ff], [0xe000, 0xffff], [0x10000, 0x10ffff]];
  for (let trial = 0; trial < 200; trial++) {
    let text = '';
    const length = rng.nextBelow(40);
    for (let i = 0; i < length; i++) {
      const [lo, hi] = pools[rng.nextBelow(pools.length)];
      text += String.fromCodePoint(lo + rng.nextBelow(hi - lo + 1));
    }
    const ids = brownTokenizer.encode(text);
    assert.equal(brownTokenizer.decode(ids), text);
    assert.deepEqual(ids, brownTokenizer.encodeWithLibrary(text), `ids differ for ${JSON.stringify(text)}`);
  }
});

test('lone surrogates are rejected with a clear TypeError', () => {
  for (const bad of ['\uD83D', 'x\uDE00', 'ok \uD83D\uD83D', '\uDFFF\uD800']) {
    assert.throws(() => brownTokenizer.encode(bad), (err: Error) => err instanceof TypeError && /lone surrogate U\+D[89A-F][0-9A-F]{2} at UTF-16 index \d+/.test(err.message));
    assert.throws(() => brownTokenizer.encodeWithLibrary(bad), TypeError);
  }
  assert.deepEqual(brownTokenizer.decode(brownTokenizer.encode('\uD83D\uDE00')), '\uD83D\uDE00'); // a proper pair is fine
});

test('our tokenizer.json loads in tokenizers.js and gives the same ids as our encoder on Brown text', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-tok-'));
  try {
    const path = join(dir, 'tokenizer.json');
    brownTokenizer.save(path);
    const json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    assert.equal((json.model as { type: string }).type, 'BPE');
    assert.equal((json.pre_tokenizer as { type: string }).type, 'ByteLevel');
    assert.equal((json.decoder as { type: string }).type, 'ByteLevel');
    // Straight into the library, independently of our wrapper.
    const library = new LibraryTokenizer(json, {});
    const sample = brown.slice(0, 20).join('\n\n').slice(0, 60000);
    const ours = brownTokenizer.encode(sample);
    assert.deepEqual(ours, library.encode(sample, { add_special_tokens: false }).ids);
    assert.equal(library.token_to_id('<|endoftext|>'), 599);
    assert.ok(ours.length < sample.length / 2, `only ${(sample.length / ours.length).toFixed(2)} chars per token`);

    const loaded = loadTokenizer(path);
    assert.equal(loaded.encoderKind, 'fast');
    assert.equal(loaded.vocabSize, 600);
    assert.equal(loaded.endOfDocumentId, 599);
    assert.deepEqual(loaded.encode(sample), ours);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a tokenizer.json our fast encoder does not support is encoded by the library, and old "a b" merges load', () => {
  const json = trainedBpeToTokenizerJson(trainByteLevelBpe(brown.slice(0, 3), { vocabSize: 300, specialTokens: ['</s>'] }));
  const merges = json.model.merges as Array<[string, string] | string>;
  json.model.merges = merges.map((m) => (Array.isArray(m) ? `${m[0]} ${m[1]}` : m));
  const withStrings = new Tokenizer(json);
  assert.equal(withStrings.encoderKind, 'fast');
  assert.equal(withStrings.endOfDocumentToken, '</s>');
  const lowercasing = new Tokenizer({ ...json, normalizer: { type: 'Lowercase' } });
  assert.equal(lowercasing.encoderKind, 'library');
  assert.match(lowercasing.fastEncoderUnsupportedReason ?? '', /normalizer/);
  assert.deepEqual(lowercasing.encode('The JURY said'), withStrings.encode('the jury said'));
  assert.throws(() => new Tokenizer({ ...json, added_tokens: [] }), /no end-of-document token/);
  assert.throws(() => withStrings.decode([300]), /token id 300 at position 0 is outside the vocabulary \[0, 300\)/);
});
