import { test } from 'node:test';
import assert from 'node:assert/strict';
import { brownWord, detokenize, loadBrownCorpus, stripBrownTags } from '../../src/data/brown-corpus.js';

test('brownWord splits at the last slash, keeping slashes inside words', () => {
  assert.equal(brownWord('jury/nn'), 'jury');
  assert.equal(brownWord('County/nn-tl'), 'County');
  assert.equal(brownWord(',/,'), ',');
  assert.equal(brownWord('``/``'), '``');
  assert.equal(brownWord('1/2/cd'), '1/2');
  assert.equal(brownWord('and/or/cc'), 'and/or');
  assert.equal(brownWord('//in'), '/');
  assert.equal(brownWord("I'm/ppss+bem"), "I'm");
});

test('stripBrownTags turns the first lines of ca01 into plain English', () => {
  const tagged =
    '\n\n\tThe/at Fulton/np-tl County/nn-tl Grand/jj-tl Jury/nn-tl said/vbd Friday/nr an/at investigation/nn of/in ' +
    "Atlanta's/np$ recent/jj primary/nn election/nn produced/vbd ``/`` no/at evidence/nn ''/'' that/cs any/dti irregularities/nns took/vbd place/nn ./.\n\n\n" +
    "\t``/`` Only/rb a/at relative/jj handful/nn ''/'' ,/, the/at jury/nn said/vbd ./.\n";
  assert.equal(
    stripBrownTags(tagged),
    `The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election produced "no evidence" that any irregularities took place.\n\n"Only a relative handful", the jury said.`,
  );
});

test('headlines stand on their own line; sentences of one paragraph join with a space', () => {
  const tagged = '\n\nThirty-three/cd-hl \nScotty/np did/dod not/* go/vb ./.\nHis/pp$ parents/nns talked/vbd (/( loudly/rb )/) ;/. ;/.\n\n\tThe/at end/nn ?/. ?/.\n';
  assert.equal(stripBrownTags(tagged), 'Thirty-three\nScotty did not go. His parents talked (loudly);\n\nThe end?');
});

test('detokenize: single quotes alternate open/close, no space before punctuation, "Jr. ." keeps one period', () => {
  assert.equal(detokenize(['He', 'said', ',', "'", 'Go', 'home', "'", '.']), "He said, 'Go home'.");
  assert.equal(detokenize(['Ivan', 'Allen', 'Jr.', '.']), 'Ivan Allen Jr.');
  assert.equal(detokenize(['It', 'costs', '$', '5', '--', 'or', '10', '%', '.']), 'It costs $5 -- or 10%.');
});

test('loadBrownCorpus gives deterministic plain-text documents in file order', () => {
  const docs = loadBrownCorpus({ limit: 3 });
  assert.deepEqual(docs.map((d) => d.name), ['ca01', 'ca02', 'ca03']);
  assert.ok(docs[0].text.startsWith('The Fulton County Grand Jury said Friday'));
  for (const d of docs) {
    assert.doesNotMatch(d.text, /\/(nn|at|in|vbd|np)\b/, `${d.name} still has tags`);
    assert.doesNotMatch(d.text, /``|''/);
    assert.doesNotMatch(d.text, / [,.;:?!]/);
  }
  assert.equal(loadBrownCorpus({ limit: 3 })[2].text, docs[2].text);
});
