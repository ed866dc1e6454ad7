/**
 * Data benchmark (issue 5 §1): byte-level BPE training time (vocab 4096 on the full Brown corpus,
 * ~6 M characters), encode throughput of our integer-id encoder vs tokenizers.js (the library) on
 * the same text — ids checked identical — and BatchLoader batches/s on the resulting dataset.
 * Writes bench/results/data.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchLoader } from '../src/data/batch-loader.js';
import { loadBrownCorpus } from '../src/data/brown-corpus.js';
import { IndexedDataset } from '../src/data/indexed-dataset-reader.js';
import { writeIndexedDataset } from '../src/data/prepare.js';
import { trainTokenizer } from '../src/data/tokenizer.js';

const VOCAB = 4096;
const LIBRARY_SAMPLE_CHARS = 1_000_000; // the library is slow; time it on the first 1 M characters
const LOADER_SHAPES: Array<[number, number]> = [[8, 256], [16, 1024]];

async function main(): Promise<void> {
  let t0 = performance.now();
  const docs = loadBrownCorpus();
  const loadSeconds = (performance.now() - t0) / 1000;
  const texts = docs.map((d) => d.text);
  const text = texts.join('\n\n');
  const megabytes = Buffer.byteLength(text, 'utf8') / 1e6;

  t0 = performance.now();
  const tokenizer = trainTokenizer(texts, { vocabSize: VOCAB });
  const trainSeconds = (performance.now() - t0) / 1000;

  t0 = performance.now();
  const ids = tokenizer.encode(text);
  const oursSeconds = (performance.now() - t0) / 1000;
  const oursMBps = megabytes / oursSeconds;

  const sample = text.slice(0, LIBRARY_SAMPLE_CHARS);
  const sampleMB = Buffer.byteLength(sample, 'utf8') / 1e6;
  t0 = performance.now();
  const libraryIds = tokenizer.encodeWithLibrary(sample);
  const librarySeconds = (performance.now() - t0) / 1000;
  const libraryMBps = sampleMB / librarySeconds;
  const oursOnSample = tokenizer.encode(sample);
  const identical = oursOnSample.length === libraryIds.length && oursOnSample.every((id, i) => id === libraryIds[i]);

  const dir = mkdtempSync(join(tmpdir(), 'fog8-bench-data-'));
  const loaderRows: Array<{ B: number; T: number; batchesPerSec: number; tokensPerSec: number }> = [];
  try {
    t0 = performance.now();
    const summary = await writeIndexedDataset(docs.map((d) => ({ file: d.name, text: d.text })), tokenizer, join(dir, 'brown'));
    const prepareSeconds = (performance.now() - t0) / 1000;
    const dataset = IndexedDataset.open(join(dir, 'brown'), { vocabSize: tokenizer.vocabSize });
    for (const [B, T] of LOADER_SHAPES) {
      const loader = new BatchLoader({ dataset, split: 'train', B, T, seed: 1 });
      const batches = Math.max(20, Math.min(400, Math.floor(4e6 / (B * T))));
      loader.next();
      t0 = performance.now();
      for (let i = 0; i < batches; i++) loader.next();
      const seconds = (performance.now() - t0) / 1000;
      loaderRows.push({ B, T, batchesPerSec: batches / seconds, tokensPerSec: (batches * B * T) / seconds });
    }
    dataset.close();

    console.log(`Brown corpus: ${docs.length} documents, ${megabytes.toFixed(2)} MB UTF-8 (loaded and tag-stripped in ${loadSeconds.toFixed(2)} s)`);
    console.log(`tokenizer training, vocab ${VOCAB}: ${trainSeconds.toFixed(2)} s (${tokenizer.vocabSize} tokens)`);
    console.log(`tokens: ${ids.length} (${(text.length / ids.length).toFixed(2)} chars/token); indexed dataset written in ${prepareSeconds.toFixed(2)} s (${summary.tokens} tokens incl. end-of-document)`);
    console.log('');
    console.log('encoder                 MB/s     vs library');
    console.log(`ours (integer BPE)  ${oursMBps.toFixed(2).padStart(8)}   ${(oursMBps / libraryMBps).toFixed(1).padStart(6)}×`);
    console.log(`tokenizers.js       ${libraryMBps.toFixed(2).padStart(8)}     1.0×   (first ${sampleMB.toFixed(2)} MB; ids identical: ${identical})`);
    console.log('');
    console.log('loader (B, T)      batches/s     M tokens/s');
    for (const r of loaderRows) console.log(`(${r.B}, ${r.T})`.padEnd(16) + r.batchesPerSec.toFixed(0).padStart(11) + (r.tokensPerSec / 1e6).toFixed(1).padStart(15));

    const result = {
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version },
      corpus: { documents: docs.length, megabytes, loadSeconds },
      training: { vocabSize: VOCAB, seconds: trainSeconds },
      encode: { oursMBps, libraryMBps, ratio: oursMBps / libraryMBps, librarySampleMB: sampleMB, identicalIds: identical, tokens: ids.length },
      prepare: { seconds: prepareSeconds, tokens: summary.tokens },
      loader: loaderRows,
    };
    mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
    writeFileSync(new URL('./results/data.json', import.meta.url), JSON.stringify(result, null, 2) + '\n');
    console.log('wrote bench/results/data.json');
    if (!identical) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
