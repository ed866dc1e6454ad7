/** Public surface of fog8's data pipeline: corpus, tokenizer, indexed datasets, batches. */
export { loadBrownCorpus, stripBrownTags, type CorpusDocument } from './brown-corpus.js';
export { trainByteLevelBpe, type BpeTrainingOptions, type TrainedBpe } from './bpe-trainer.js';
export { Tokenizer, loadTokenizer, trainTokenizer, END_OF_TEXT, type TokenizerOptions } from './tokenizer.js';
export { trainedBpeToTokenizerJson, type TokenizerJson } from './tokenizer-json.js';
export { TOKEN_DTYPES, dtypeForVocabSize, type TokenDtype, type TokenDtypeName } from './indexed-dataset-format.js';
export { IndexedDatasetWriter, type IndexedDatasetSummary } from './indexed-dataset-writer.js';
export { IndexedDataset, type IndexedDatasetOpenOptions } from './indexed-dataset-reader.js';
export { readDocuments, writeIndexedDataset, type PrepareProgress, type PrepareSummary } from './prepare.js';
export { splitDocuments, type DocumentSplit } from './validation-split.js';
export { seededPermutation, Xoshiro128 } from './seeded-permutation.js';
export { PackedSequences } from './packed-sequences.js';
export { BatchLoader, DEFAULT_VALIDATION_FRACTION, type Batch, type BatchLoaderOptions, type LoaderState, type SplitName } from './batch-loader.js';
export { prepareDefaultCorpus, defaultCacheDir, DEFAULT_VOCAB_SIZE, type DefaultCorpus, type DefaultCorpusOptions } from './default-corpus.js';
