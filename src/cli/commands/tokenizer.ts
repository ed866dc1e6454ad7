/** `fog8 tokenizer train`: trains a byte-level BPE and saves it as a Hugging Face tokenizer.json. */
import type { Command } from 'commander';
import { loadBrownCorpus } from '../../data/brown-corpus.js';
import { readDocuments } from '../../data/prepare.js';
import { trainTokenizer } from '../../data/tokenizer.js';
import { checkOutputPath } from '../../util/safe-file.js';

interface TokenizerTrainFlags {
  input?: string[];
  output: string;
  vocabSize: string;
  minPairFrequency: string;
  jsonKey: string;
}

export function registerTokenizerCommand(program: Command): void {
  const tokenizer = program.command('tokenizer').description('Tokenizer tools');
  tokenizer
    .command('train')
    .description('Train a byte-level BPE (GPT-2 style, <|endoftext|> special token) and save it as a Hugging Face tokenizer.json')
    .option('--input <files...>', '.txt (one document per file) or .jsonl files; default: the embedded Brown corpus')
    .requiredOption('--output <file>', 'where to write tokenizer.json')
    .option('--vocab-size <n>', 'vocabulary size including the 256 byte tokens and <|endoftext|>', '4096')
    .option('--min-pair-frequency <n>', 'stop when the most frequent pair occurs fewer times', '2')
    .option('--json-key <field>', 'JSONL field holding the text', 'text')
    .action(async (flags: TokenizerTrainFlags) => {
      const vocabSize = parseInteger(flags.vocabSize, '--vocab-size');
      const minPairFrequency = parseInteger(flags.minPairFrequency, '--min-pair-frequency');
      // Before training (minutes): an output that is a directory or one of the inputs is refused.
      checkOutputPath(flags.output, '--output', flags.input ?? []);
      const started = performance.now();
      const texts: string[] = [];
      if (flags.input === undefined || flags.input.length === 0) {
        for (const d of loadBrownCorpus()) texts.push(d.text);
        console.error(`tokenizer: training on the embedded Brown corpus (${texts.length} documents)`);
      } else {
        for await (const d of readDocuments(flags.input, flags.jsonKey)) texts.push(d.text);
        console.error(`tokenizer: training on ${texts.length} documents from ${flags.input.length} file(s)`);
      }
      const trained = trainTokenizer(texts, { vocabSize, minPairFrequency });
      trained.save(flags.output);
      const seconds = (performance.now() - started) / 1000;
      const note = trained.vocabSize < vocabSize ? ` (the corpus ran out of pairs seen ≥ ${minPairFrequency} times before ${vocabSize})` : '';
      console.log(`wrote ${flags.output}: ${trained.vocabSize} tokens${note}, end-of-document ${trained.endOfDocumentToken} = ${trained.endOfDocumentId}, ${seconds.toFixed(1)} s`);
    });
}

export function parseInteger(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new RangeError(`${flag} must be an integer, got ${JSON.stringify(value)}`);
  return n;
}
