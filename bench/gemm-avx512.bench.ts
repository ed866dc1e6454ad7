/**
 * The BF16/FP8 GEMMs (1024³ and a linear's fprop / dgrad / wgrad at the model shapes)
 * against the BF16-dot peak loop, interleaved in one run: each round samples the peak loop, then
 * every case; prints per-case medians over the rounds and every round's % of peak, and writes
 * bench/results/gemm-avx512.json (OUT=<file> elsewhere).
 * Usage: npm run bench gemm-avx512, or node --import tsx bench/gemm-avx512.bench.ts [rounds]
 * (default 3); CLOCK=cpu divides by the process CPU
 * time per thread (robust on a machine shared with other work), VARIANTS=a,b,... times each
 * GEMM variant in turn, CASES=substr,... picks cases, BASELINE=<path of another build's
 * fog8_native.node> times that addon too, interleaved (before/after in one run), OUT=<file>
 * writes the figures as JSON.
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { createRequire } from 'node:module';
import { loadNativeAddon, type NativeCoreAddon } from '../src/kernels/native.js';
import type { GemmOperand, OperandDtype } from '../src/kernels/types.js';
import { refuseEmulatedAddon } from './emulation-guard.js';
import { syntheticOperand } from './gemm-operands.js';

refuseEmulatedAddon('gemm-avx512');
const addon = loadNativeAddon();
const rounds = Number(process.argv[2] ?? 3);
const threads = addon.threads();
const operand = (dtype: OperandDtype, n: number, trans: boolean): GemmOperand => syntheticOperand(addon, dtype, n, trans);
type Case = [string, number, number, number, OperandDtype, OperandDtype, boolean, boolean];
const cases: Case[] = [
  ['1024³ bf16', 1024, 1024, 1024, 'bf16', 'bf16', false, false],
  ['1024³ e4m3', 1024, 1024, 1024, 'e4m3', 'e4m3', false, false],
  ['1024³ e5m2×e4m3', 1024, 1024, 1024, 'e5m2', 'e4m3', false, false],
];
for (const [T, d, f] of [[4096, 256, 768], [4096, 512, 1536], [8192, 1024, 4096]]) {
  cases.push([`${T}×${d}×${f} fprop`, T, f, d, 'e4m3', 'e4m3', false, true]);
  cases.push([`${T}×${d}×${f} dgrad`, T, d, f, 'e5m2', 'e4m3', false, false]);
  cases.push([`${T}×${d}×${f} wgrad`, f, d, T, 'e5m2', 'e4m3', true, false]);
}
const only = process.env.CASES;
const chosen = only ? cases.filter((c) => only.split(',').some((s) => c[0].includes(s))) : cases;
const prepared = chosen.map(([name, M, N, K, da, db, ta, tb]) => ({
  name, M, N, K, a: operand(da, M * K, ta), b: operand(db, K * N, tb), c: new Float32Array(M * N),
}));
const clock = process.env.CLOCK === 'cpu' ? 'cpu' : 'wall';
interface Runner { label: string; lib: NativeCoreAddon; variant?: string }
const runners: Runner[] = (process.env.VARIANTS ?? addon.gemmVariant()).split(',').map((v) => ({ label: v, lib: addon, variant: v }));
if (process.env.BASELINE) {
  const base = createRequire(import.meta.url)(process.env.BASELINE) as NativeCoreAddon;
  base.setThreads(threads);
  runners.unshift({ label: 'baseline', lib: base });
}
const variants = runners.map((r) => r.label);
/** Milliseconds of fn: wall, or process CPU time per thread. */
function time(fn: () => void): number {
  if (clock === 'wall') { const t0 = performance.now(); fn(); return performance.now() - t0; }
  const c0 = process.cpuUsage(); fn(); const d = process.cpuUsage(c0);
  return (d.user + d.system) / 1000 / threads;
}
const peaks: number[] = [];
const rates: number[][] = prepared.flatMap(() => variants.map(() => [] as number[]));
for (let r = 0; r < rounds; r++) {
  peaks.push(addon.peakGflops('bf16dot512', Math.min(2, threads), 0.2, clock));
  prepared.forEach((p, i) => {
    runners.forEach((run, vi) => {
      const lib = run.lib;
      if (run.variant !== undefined) lib.setGemmVariant(run.variant);
      const flops = 2 * p.M * p.N * p.K;
      lib.gemm(p.M, p.N, p.K, p.a, p.b, p.c);
      let best = Infinity;
      const reps = flops > 1e11 ? 2 : 5;
      for (let j = 0; j < reps; j++) best = Math.min(best, time(() => lib.gemm(p.M, p.N, p.K, p.a, p.b, p.c)));
      rates[i * variants.length + vi].push(flops / best / 1e6);
    });
  });
}
const med = (a: number[]): number => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
const pk = med(peaks);
console.log(`isa ${addon.isa()} threads ${threads} clock ${clock}; bf16dot512 peak median ${pk.toFixed(0)} GFLOP/s (${peaks.map((p) => p.toFixed(0)).join(' ')})`);
prepared.forEach((p, i) => {
  variants.forEach((v, vi) => {
    const rr = rates[i * variants.length + vi];
    const ratios = rr.map((x, r) => x / peaks[r]);
    console.log(`${p.name.padEnd(24)} ${v.padEnd(26)} ${med(rr).toFixed(0).padStart(5)} GFLOP/s  ${(100 * med(ratios)).toFixed(0)}% of peak (per-round ${ratios.map((x) => (100 * x).toFixed(0)).join('/')})`);
  });
});

const outFile = process.env.OUT ?? 'bench/results/gemm-avx512.json';
{
  const rows = prepared.flatMap((p, i) => runners.map((run, vi) => {
    const rr = rates[i * runners.length + vi];
    return {
      gemm: p.name, M: p.M, N: p.N, K: p.K, addon: run.variant === undefined ? `baseline ${process.env.BASELINE}` : 'this build', variant: run.variant ?? null,
      gflopsMedian: med(rr), gflopsRounds: rr, ofPeakMedian: med(rr.map((x, r) => x / peaks[r])),
    };
  }));
  writeFileSync(outFile, `${JSON.stringify({
    date: new Date().toISOString(), cpu: cpus()[0]?.model, isa: addon.isa(), threads, clock, rounds, loadAvg1mStart: loadavg()[0],
    note: 'rounds interleaved: each round samples the bf16dot512 peak loop, then every GEMM with every addon/variant (best of 2-5 calls); % of peak is per round, median over rounds',
    peakGflopsRounds: peaks, rows,
  }, null, 2)}\n`);
  console.log(`wrote ${outFile}`);
}
