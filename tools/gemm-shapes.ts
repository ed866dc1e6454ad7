/**
 * The BF16/FP8 GEMM shapes of a llama3 `s` training step (tools/profile-step.ts), timed standalone
 * on the raw addon, 1 and 2 threads, interleaved rounds (runner order rotated each round), best
 * call per round, median over rounds; GFLOP per CPU-second (process CPU time, all threads) and
 * per wall second.
 *   node --import tsx tools/gemm-shapes.ts [rounds]
 * BASELINE=<another build's fog8_native.node> times that addon too, each variant on both (before/after in one run);
 * VARIANTS=a,b,... times each variant of this build (default: the built-in one); CASES=substr,...
 * picks shapes; THREADS=1,2 the thread counts.
 */
import { createRequire } from 'node:module';
import { loadNativeAddon, type NativeCoreAddon } from '../src/kernels/native.js';
import type { GemmOperand, OperandDtype } from '../src/kernels/types.js';
import { syntheticOperand } from '../bench/gemm-operands.js';

const addon = loadNativeAddon();
const rounds = Number(process.argv[2] ?? 5);
const operand = (dtype: OperandDtype, n: number, trans: boolean): GemmOperand => syntheticOperand(addon, dtype, n, trans);
// M, N, K, A dtype, A transposed, B dtype, B transposed, beta, round C to BF16: as the step calls
// them (fprop and dgrad round their output to BF16, wgrads accumulate into dW).
type Case = [number, number, number, OperandDtype, boolean, OperandDtype, boolean, number, boolean];
const cases: Case[] = [
  [4096, 1536, 256, 'e4m3', false, 'e4m3', true, 0, true],
  [4096, 768, 256, 'e5m2', false, 'e4m3', false, 0, true],
  [4096, 768, 256, 'e4m3', false, 'e4m3', true, 0, true],
  [4096, 256, 256, 'e5m2', false, 'e4m3', false, 0, true],
  [4096, 256, 256, 'e4m3', false, 'e4m3', true, 0, true],
  [4096, 256, 1536, 'e5m2', false, 'e4m3', false, 0, true],
  [4096, 256, 768, 'e4m3', false, 'e4m3', true, 0, true],
  [256, 768, 4096, 'e5m2', true, 'e4m3', false, 1, false],
  [256, 256, 4096, 'e5m2', true, 'e4m3', false, 1, false],
  [768, 256, 4096, 'e5m2', true, 'e4m3', false, 1, false],
  [1536, 256, 4096, 'e5m2', true, 'e4m3', false, 1, false],
  [2048, 4096, 256, 'bf16', false, 'bf16', true, 0, true],
  [4096, 256, 2048, 'bf16', true, 'bf16', false, 1, false],
  [2048, 256, 4096, 'bf16', false, 'bf16', false, 0, false],
];
const name = ([M, N, K, da, ta, db, tb, beta, round]: Case) => `${M}×${N}×${K} ${da}${ta ? 'ᵀ' : ''}×${db}${tb ? 'ᵀ' : ''}${beta ? ' β1' : ''}${round ? ' rnd' : ''}`;
const only = process.env.CASES;
const chosen = only ? cases.filter((c) => only.split(',').some((s) => name(c).includes(s))) : cases;
const prepared = chosen.map((cs) => {
  const [M, N, K, da, ta, db, tb, beta, round] = cs;
  return { name: name(cs), M, N, K, a: operand(da, M * K, ta), b: operand(db, K * N, tb), c: new Float32Array(M * N), beta, round };
});
interface Runner { label: string; lib: NativeCoreAddon; variant?: string }
const variantList = (process.env.VARIANTS ?? addon.gemmVariant()).split(',');
const base = process.env.BASELINE ? (createRequire(import.meta.url)(process.env.BASELINE) as NativeCoreAddon) : null;
const runners: Runner[] = variantList.flatMap((v) => [
  ...(base ? [{ label: `base ${v}`, lib: base, variant: v }] : []),
  { label: v, lib: addon, variant: v },
]);
const threadCounts = (process.env.THREADS ?? '1,2').split(',').map(Number);
// FLUSH=1: overwrite a 64 MiB buffer before each timed call (outside the timer), so operands and C
// come from DRAM as in a training step, where other kernels run between the GEMMs.
const flushBuf = process.env.FLUSH === '1' ? new Float32Array(16 << 20) : null;
let flushTick = 0;
const flush = () => { if (flushBuf) flushBuf.fill(++flushTick); };
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const med = (a: number[]): number => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
// rates[shape][thread][runner] = { cpu: [], wall: [] }
const rates = prepared.map(() => threadCounts.map(() => runners.map(() => ({ cpu: [] as number[], wall: [] as number[] }))));
for (let r = 0; r < rounds; r++) {
  threadCounts.forEach((th, ti) => {
    for (const run of runners) run.lib.setThreads(th);
    prepared.forEach((p, pi) => {
      for (let q = 0; q < runners.length; q++) {
        const ri = (q + r) % runners.length;
        const run = runners[ri];
        if (run.variant !== undefined) run.lib.setGemmVariant(run.variant);
        const flops = 2 * p.M * p.N * p.K;
        run.lib.gemm(p.M, p.N, p.K, p.a, p.b, p.c, 1, p.beta, p.round);
        let bestCpu = Infinity, bestWall = Infinity;
        for (let j = 0; j < 3; j++) {
          flush();
          const c0 = cpuMs(), w0 = performance.now();
          run.lib.gemm(p.M, p.N, p.K, p.a, p.b, p.c, 1, p.beta, p.round);
          bestWall = Math.min(bestWall, performance.now() - w0);
          bestCpu = Math.min(bestCpu, cpuMs() - c0);
        }
        rates[pi][ti][ri].cpu.push(flops / bestCpu / 1e6);
        rates[pi][ti][ri].wall.push(flops / bestWall / 1e6);
      }
    });
  });
}
console.log(`GFLOP per CPU-second (per wall second), median of ${rounds} interleaved rounds, best of 3 calls each${flushBuf ? ', caches flushed before each call' : ''}; runners: ${runners.map((r) => r.label).join(', ')}`);
console.log(`${'shape'.padEnd(30)} ${threadCounts.flatMap((t) => runners.map((r) => `${t}T ${r.label}`.slice(0, 16).padStart(16))).join(' ')}`);
prepared.forEach((p, pi) => {
  const cols = threadCounts.flatMap((_, ti) => runners.map((__, ri) => {
    const x = rates[pi][ti][ri];
    return `${med(x.cpu).toFixed(0)} (${med(x.wall).toFixed(0)})`.padStart(16);
  }));
  console.log(`${p.name.padEnd(30)} ${cols.join(' ')}`);
});
