/** `fog8 inspect CHECKPOINT`: config, parameter count, step and FP8 scaling-state summary. */
import type { Command } from 'commander';
import { fromHfConfig } from '../../model/hf-config.js';
import { buildParamSpecs, countParameters } from '../../model/params.js';
import { checkModelTensors, readCheckpoint } from '../../train/checkpoint.js';
import { resolveCheckpointDir } from '../../train/checkpoint-files.js';

interface SlotJson {
  key: string;
  role: string;
  scale: number;
  amaxHistory: (number | string)[];
}

/** A plain-object summary of a checkpoint (what `inspect --json` prints). */
export function inspectCheckpoint(path: string): Record<string, unknown> {
  const ck = readCheckpoint(resolveCheckpointDir(path));
  const config = fromHfConfig(ck.hfConfig);
  // The same tensor-shape check eval and generate apply, so "verified" means they can load it.
  checkModelTensors(ck, buildParamSpecs(config));
  const st = ck.trainerState;
  const slots = ((st?.scaling as { slots?: SlotJson[] } | undefined)?.slots ?? []).map((s) => {
    const finite = s.amaxHistory.filter((v): v is number => typeof v === 'number');
    return { key: s.key, role: s.role, scale: s.scale, amaxMax: finite.length ? Math.max(...finite) : null, nonFinite: s.amaxHistory.length - finite.length };
  });
  const scales = slots.map((s) => s.scale);
  return {
    checkpoint: ck.dir,
    files: ck.manifest.files,
    model: config,
    parameters: countParameters(config),
    step: st?.step ?? null,
    tokens: st?.tokens ?? null,
    precision: st?.config.precision ?? null,
    optimizer: st?.optimizer ?? null,
    scaling: { slots: slots.length, minScale: scales.length ? Math.min(...scales) : null, maxScale: scales.length ? Math.max(...scales) : null, slotsWithNonFiniteAmax: slots.filter((s) => s.nonFinite > 0).length, perSlot: slots },
  };
}

export function registerInspectCommand(program: Command): void {
  program
    .command('inspect')
    .description('show a checkpoint: model config, parameter count, step, FP8 scaling state')
    .argument('<checkpoint>', 'checkpoint or run directory')
    .option('--json', 'print one JSON object')
    .action((path: string, o: { json?: boolean }) => {
      const info = inspectCheckpoint(path);
      if (o.json) {
        console.log(JSON.stringify(info));
        return;
      }
      const m = info.model as ReturnType<typeof fromHfConfig>;
      const sc = info.scaling as { slots: number; minScale: number | null; maxScale: number | null; slotsWithNonFiniteAmax: number; perSlot: { key: string; role: string; scale: number; amaxMax: number | null }[] };
      const lines = [
        `checkpoint ${info.checkpoint} (files and tensor shapes verified: ${Object.keys(info.files as object).join(', ')})`,
        `model      ${m.preset}/${m.size}: d ${m.dModel}, ${m.nLayers} layers, ${m.nHeads}/${m.nKvHeads} heads × ${m.headDim}, ffn ${m.ffnDim} (${m.mlp}), vocab ${m.vocabSize}, seq ${m.seqLen}, qk-norm ${m.qkNorm}`,
        `parameters ${(info.parameters as number).toLocaleString('en-US')}`,
        `step       ${info.step ?? '?'} (${info.tokens ?? '?'} tokens), precision ${info.precision ?? '?'}`,
        `optimizer  ${JSON.stringify(info.optimizer)}`,
        `scaling    ${sc.slots} slots, scales ${sc.minScale} … ${sc.maxScale}, ${sc.slotsWithNonFiniteAmax} with non-finite amax history`,
        ...sc.perSlot.slice(0, 12).map((s) => `  ${s.key.padEnd(28)} ${s.role.padEnd(12)} scale ${s.scale.toPrecision(5).padStart(12)}  amax ${s.amaxMax ?? 'n/a'}`),
        sc.perSlot.length > 12 ? `  … ${sc.perSlot.length - 12} more (--json for all)` : '',
      ].filter((l) => l !== '');
      console.log(lines.join('\n'));
    });
}
