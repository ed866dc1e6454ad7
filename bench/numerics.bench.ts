/**
 * Numerics benchmark (issue 2 §6): throughput of the TypeScript reference codecs on one core, in
 * million values per second — encodeFp8 (E4M3, E5M2; unit scale and a non-unit scale that forces
 * the float32 product), decodeFp8, roundToBf16 and amax — side by side with the per-element scalar
 * API (encodeFp8Scalar in a loop) and the target of 50 M values/s for encodeFp8.
 * Writes bench/results/numerics.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { amax, decodeFp8, encodeFp8, encodeFp8Scalar, fp8Format, roundToBf16 } from '../src/numerics/index.js';

const N = 1 << 22; // values per call (16 MiB of float32)
const REPEATS = 7;
const TARGET_ENCODE_MVPS = 50;

/** Best-of-REPEATS throughput in M values/s (after one warm-up call). */
function throughput(run: () => void): number {
  run();
  let best = Infinity;
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now();
    run();
    best = Math.min(best, performance.now() - t0);
  }
  return N / (best / 1000) / 1e6;
}

function main(): void {
  // Activation-like data: roughly Gaussian with a few outliers, so every code path is exercised.
  let seed = 0x9e3779b9;
  const next = (): number => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const x = new Float32Array(N); // (N)
  for (let i = 0; i < N; i++) {
    const g = next() + next() + next() + next() - 2; // ≈ N(0, 1/3)
    x[i] = next() < 0.001 ? g * 1e4 : g;
  }
  const rows: { op: string; format: string; scale: number | null; mValuesPerSec: number; vsScalarLoop: number | null; vsTarget: number | null }[] = [];
  for (const format of ['e4m3', 'e5m2'] as const) {
    const fmt = fp8Format(format);
    const scalarCodes = new Uint8Array(N);
    const scalarLoop = throughput(() => {
      for (let i = 0; i < N; i++) scalarCodes[i] = encodeFp8Scalar(x[i], fmt);
    });
    for (const scale of [1, 0.37]) {
      const m = throughput(() => encodeFp8(x, format, scale));
      rows.push({ op: 'encodeFp8', format, scale, mValuesPerSec: m, vsScalarLoop: m / scalarLoop, vsTarget: m / TARGET_ENCODE_MVPS });
    }
    rows.push({ op: 'encodeFp8Scalar loop', format, scale: 1, mValuesPerSec: scalarLoop, vsScalarLoop: 1, vsTarget: scalarLoop / TARGET_ENCODE_MVPS });
    const codes = encodeFp8(x, format, 1);
    const d = throughput(() => decodeFp8(codes, format));
    rows.push({ op: 'decodeFp8', format, scale: null, mValuesPerSec: d, vsScalarLoop: null, vsTarget: null });
  }
  rows.push({ op: 'roundToBf16', format: 'bf16', scale: null, mValuesPerSec: throughput(() => roundToBf16(x)), vsScalarLoop: null, vsTarget: null });
  rows.push({ op: 'amax', format: '-', scale: null, mValuesPerSec: throughput(() => amax(x)), vsScalarLoop: null, vsTarget: null });

  // the machine is shared: the load average says how much the numbers may be depressed
  const load1m = loadavg()[0];
  console.log(`numerics reference codecs, one core, ${N} values per call, best of ${REPEATS}, load average ${load1m.toFixed(2)} on ${cpus().length} cores`);
  console.table(
    rows.map((r) => ({
      op: r.op,
      format: r.format,
      scale: r.scale ?? '',
      'M values/s': r.mValuesPerSec.toFixed(1),
      'vs scalar loop': r.vsScalarLoop === null ? '' : `${r.vsScalarLoop.toFixed(2)}×`,
      'vs 50 M/s target': r.vsTarget === null ? '' : `${r.vsTarget.toFixed(2)}×`,
    })),
  );
  const result = {
    bench: 'numerics',
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    loadAverage1m: load1m,
    valuesPerCall: N,
    repeats: REPEATS,
    targetEncodeMValuesPerSec: TARGET_ENCODE_MVPS,
    rows,
  };
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/numerics.json', import.meta.url), JSON.stringify(result, null, 2) + '\n');
  console.log('wrote bench/results/numerics.json');
}

main();
