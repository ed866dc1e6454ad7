/** `fog8 tune`: time the GEMM variants on this CPU and cache the winner (docs/kernels.md, "Tuning"). */
import type { Command } from 'commander';
import { loadNativeAddon } from '../../kernels/native.js';
import { tuneGemm, wisdomPath, writeWisdomEntry, type TuneMode } from '../../kernels/tune.js';

export function registerTuneCommand(program: Command): void {
  program
    .command('tune')
    .description('time the GEMM micro-kernel tiles and blockings on this CPU and cache the fastest per ISA and thread count')
    .option('--quick', 'the short tune `fog8 train` runs on first use (tiles, then k blocks)')
    .option('--threads <n>', 'thread count to tune for (default: FOG8_THREADS or all cores)', (v) => Number(v))
    .option('--wisdom <path>', 'wisdom file (default: FOG8_WISDOM, else $XDG_CACHE_HOME/fog8/wisdom.json or ~/.cache/fog8/wisdom.json)')
    .action((o: { quick?: boolean; threads?: number; wisdom?: string }) => {
      const addon = loadNativeAddon();
      if (addon.avx512Emulated()) throw new Error('this native addon emulates AVX-512 (FOG8_NATIVE_ADDON); its timings mean nothing, so it cannot be tuned');
      if (o.threads !== undefined) {
        if (!Number.isInteger(o.threads) || o.threads < 1 || o.threads > 256) throw new RangeError(`--threads must be an integer in [1, 256], got ${o.threads}`);
        addon.setThreads(o.threads);
      }
      const mode: TuneMode = o.quick ? 'quick' : 'full';
      const path = o.wisdom ?? wisdomPath();
      console.log(`fog8 tune (${mode}): ${addon.isa()} path, ${addon.threads()} thread${addon.threads() > 1 ? 's' : ''}`);
      const { entry, seconds } = tuneGemm(addon, mode, (line) => console.log(`  ${line}`));
      if (entry.timings.length === 0) {
        console.log(`the ${entry.isa} path has one GEMM kernel (${entry.variant}); nothing to tune`);
      } else {
        console.log(`best: ${entry.variant}, ${entry.gflops.toFixed(0)} GFLOP/s (geometric mean over the tuning GEMMs; ${seconds.toFixed(1)} s)`);
      }
      writeWisdomEntry(path, entry);
      console.log(`wrote ${path}`);
    });
}
