/** fog8 command-line entry. Commands are registered from their own modules. */
import { Command } from 'commander';
import { packageVersion } from '../util/package-root.js';
import { ExitCode } from './exit.js';
import { registerTrainCommand } from './commands/train.js';
import { registerEvalCommand } from './commands/eval.js';
import { registerGenerateCommand } from './commands/generate.js';
import { registerInspectCommand } from './commands/inspect.js';
import { registerCompareCommand } from './commands/compare.js';
import { registerSweepCommand } from './commands/sweep.js';
import { registerForecastEvalCommand } from './commands/forecast-eval.js';
import { registerStudyCommand } from './commands/study.js';
import { registerDashCommand } from './commands/dash.js';
import { registerReportCommand } from './commands/report.js';
import { registerDataCommand } from './commands/data.js';
import { registerTokenizerCommand } from './commands/tokenizer.js';
import { registerModelCommand } from './commands/model.js';
import { registerExportCommand } from './commands/export.js';
import { registerTuneCommand } from './commands/tune.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('fog8')
    .description('Fully-FP8-GEMM LLM pre-training with outlier-guarded FOG architectures')
    .version(packageVersion())
    .showHelpAfterError();
  registerReportCommand(program);
  registerDashCommand(program);
  registerCompareCommand(program);
  registerSweepCommand(program);
  registerForecastEvalCommand(program);
  registerStudyCommand(program);
  registerDataCommand(program);
  registerTokenizerCommand(program);
  registerModelCommand(program);
  registerExportCommand(program);
  registerTrainCommand(program);
  registerTuneCommand(program);
  registerEvalCommand(program);
  registerGenerateCommand(program);
  registerInspectCommand(program);
  return program;
}

/** Runs the CLI with the given argv (without node and script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof ExitCode) {
      if (err.message !== '') console.error(`fog8: ${err.message}`);
      return err.code;
    }
    const e = err as { code?: string; exitCode?: number; message?: string };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
    if (typeof e.exitCode === 'number' && e.code?.startsWith('commander.')) return e.exitCode;
    if (e.code === 'fog8.reported') return 1; // already reported (by another MPI rank)
    console.error(`fog8: ${e.message ?? String(err)}`);
    return 1;
  }
}
