/** `fog8 data prepare`: text / JSONL files → Megatron indexed dataset (PREFIX.bin + PREFIX.idx). */
import type { Command } from 'commander';
import { readDocuments, writeIndexedDataset, type PrepareProgress } from '../../data/prepare.js';
import { loadTokenizer } from '../../data/tokenizer.js';

interface DataPrepareFlags {
  input: string[];
  tokenizer: string;
  output: string;
  jsonKey: string;
  eodToken?: string;
}

export function registerDataCommand(program: Command): void {
  const data = program.command('data').description('Training data tools');
  data
    .command('prepare')
    .description('Tokenize .txt (one document per file) / .jsonl files into a Megatron indexed dataset, with an end-of-document token after each document')
    .requiredOption('--input <files...>', '.txt or .jsonl input files')
    .requiredOption('--tokenizer <file>', 'Hugging Face tokenizer.json')
    .requiredOption('--output <prefix>', 'writes PREFIX.bin and PREFIX.idx')
    .option('--json-key <field>', 'JSONL field holding the text', 'text')
    .option('--eod-token <token>', 'end-of-document token (default: <|endoftext|>, <|end_of_text|>, </s>, <eos> or <|im_end|>, whichever exists)')
    .action(async (flags: DataPrepareFlags) => {
      const tokenizer = loadTokenizer(flags.tokenizer, flags.eodToken === undefined ? {} : { endOfDocumentToken: flags.eodToken });
      console.error(`data: ${flags.tokenizer}: ${tokenizer.vocabSize} tokens, end-of-document ${tokenizer.endOfDocumentToken} = ${tokenizer.endOfDocumentId}, ${tokenizer.encoderKind} encoder`);
      const summary = await writeIndexedDataset(readDocuments(flags.input, flags.jsonKey), tokenizer, flags.output, progressPrinter());
      if (process.stderr.isTTY) process.stderr.write('\n');
      const skipped = summary.skippedEmpty > 0 ? `, ${summary.skippedEmpty} empty documents skipped` : '';
      console.log(`wrote ${flags.output}.bin / .idx: ${summary.documents} documents, ${summary.tokens} tokens (${summary.dtype.name})${skipped}, ${summary.seconds.toFixed(1)} s`);
    });
}

// One updating line on a terminal, a plain line every 5 s otherwise.
function progressPrinter(): (p: PrepareProgress) => void {
  const started = performance.now();
  let last = started;
  return (p) => {
    const now = performance.now();
    const interval = process.stderr.isTTY ? 200 : 5000;
    if (now - last < interval) return;
    last = now;
    const seconds = (now - started) / 1000;
    const line = `data: ${p.documents} documents, ${p.tokens} tokens, ${(p.characters / 1e6 / seconds).toFixed(2)} M chars/s (${p.file})`;
    if (process.stderr.isTTY) process.stderr.write(`\r${line}\x1b[K`);
    else console.error(line);
  };
}
