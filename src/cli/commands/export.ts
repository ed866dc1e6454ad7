/** `fog8 export megatron RUN`: continue a fog8 experiment on the authors' Megatron-LM fork (src/train/megatron-export.ts). */
import type { Command } from 'commander';
import { join } from 'node:path';
import { exportMegatron } from '../../train/megatron-export.js';

export function registerExportCommand(program: Command): void {
  const exp = program.command('export').description('export a run for another framework');
  exp
    .command('megatron')
    .description("write Megatron-LM launch arguments (the authors' fork), the dataset as .bin/.idx with its tokenizer, and the weights as a Hugging Face checkpoint")
    .argument('<run>', 'run directory or checkpoints/step-N directory (newest checkpoint of a run)')
    .option('-o, --output <dir>', 'output directory (default: RUN/megatron-export)')
    .action(async (run: string, opts: { output?: string }) => {
      const out = opts.output ?? join(run, 'megatron-export');
      const r = await exportMegatron(run, out);
      console.log(`fog8 export megatron: step ${r.step} → ${r.outDir}`);
      console.log(`  hf/ (weights, config, tokenizer), data/ (.bin/.idx), megatron-args.sh, README.md`);
      console.log(r.convert ? '  weights load into Megatron with their tools/checkpoint/convert.py --loader llama_mistral (command in megatron-args.sh)' : '  FOG/OP: no loader into Megatron exists; hf/ loads in their transformers fork (see README.md)');
      for (const n of r.notes) console.log(`  note: ${n}`);
    });
}
