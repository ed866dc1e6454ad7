export { openEvalDocuments, EVAL_SPLITS, type EvalDocuments, type EvalSplit } from './documents.js';
export { scoreDocuments, type PerplexityResult } from './perplexity.js';
export { parseTaskJsonl, loadTaskFile, evaluateTask, logLikelihoods, meanStderr, type Task, type TaskResult } from './tasks.js';
export { brownClozeTask, BROWN_CLOZE } from './brown-cloze.js';
export { latestTaskResults, formatTaskResult, EVALS_FILE } from './results.js';
