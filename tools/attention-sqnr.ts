/**
 * Attention-gradient SQNR of FP8 attention against float32, for one source tree.
 *
 *   node --import tsx tools/attention-sqnr.ts [--root DIR] [--json]
 *
 * Loads AttentionOp, OpContext, ScalingState, recipes and the reference kernels from DIR/src
 * (default: this checkout), so the same fixed inputs can be run through two versions of the op —
 * e.g. `--root /work/main` for the variant before FP8DPA as DESIGN §3 — and compared. Inputs are
 * drawn here, independent of DIR: q and k have unit RMS per head (as after fog8's gain-free QK
 * norm), v ~ N(0, 1), dO ~ N(0, 1e-3²). Each case runs two warm-up passes under fp8-delayed (each
 * followed by updateForward/updateBackward, as the trainer does), then measures the third against
 * the fp32 recipe on the same inputs. SQNR = 10·log10(Σ ref² / Σ (fp8 − ref)²) per tensor and over
 * dq, dk, dv together.
 */
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { Rng } from '../src/model/rng.js';

interface Case {
  name: string;
  B: number;
  T: number;
  Hq: number;
  Hkv: number;
  D: number;
  softmaxScale: number;
}

/** tiny fog-xielu's attention (hd 8, scale 16/hd = 2: near one-hot P) and a paper-like head (hd 128, scale 0.125). */
const CASES: Case[] = [
  { name: 'tiny-fog (D 8, scale 2)', B: 2, T: 64, Hq: 4, Hkv: 2, D: 8, softmaxScale: 2 },
  { name: 'paper-like (D 128, scale 0.125)', B: 1, T: 128, Hq: 4, Hkv: 2, D: 128, softmaxScale: 0.125 },
];

function args(): { root: string; json: boolean } {
  const argv = process.argv.slice(2);
  const i = argv.indexOf('--root');
  return { root: resolve(i >= 0 ? argv[i + 1] : new URL('..', import.meta.url).pathname), json: argv.includes('--json') };
}

function inputs(c: Case, seed: number) {
  const rng = new Rng(seed, 7);
  const normals = (n: number, scale: number) => Float32Array.from({ length: n }, () => scale * rng.normal());
  const unitRmsPerHead = (x: Float32Array) => {
    for (let o = 0; o < x.length; o += c.D) {
      let ss = 0;
      for (let d = 0; d < c.D; d++) ss += x[o + d] ** 2;
      const inv = 1 / Math.sqrt(ss / c.D);
      for (let d = 0; d < c.D; d++) x[o + d] *= inv;
    }
    return x;
  };
  const nq = c.B * c.T * c.Hq * c.D;
  const nkv = c.B * c.T * c.Hkv * c.D;
  return { q: unitRmsPerHead(normals(nq, 1)), k: unitRmsPerHead(normals(nkv, 1)), v: normals(nkv, 1), dO: normals(nq, 1e-3) };
}

function sqnr(parts: [Float32Array, Float32Array][]): number {
  let signal = 0;
  let noise = 0;
  for (const [a, ref] of parts) {
    for (let i = 0; i < ref.length; i++) {
      signal += ref[i] ** 2;
      noise += (a[i] - ref[i]) ** 2;
    }
  }
  return 10 * Math.log10(signal / noise);
}

async function main(): Promise<void> {
  const { root, json } = args();
  const load = (p: string) => import(pathToFileURL(resolve(root, 'src', p)).href);
  const [{ AttentionOp }, { OpContext }, { ScalingState }, { resolvePrecision }, { createReferenceKernels }] = await Promise.all([
    load('ops/attention.ts'), load('ops/context.ts'), load('numerics/scaling.ts'), load('numerics/recipe.ts'), load('kernels/reference/index.ts'),
  ]);
  const kernels = createReferenceKernels();
  const results = [];
  for (const c of CASES) {
    const x = inputs(c, 2026);
    const run = (recipeName: string, passes: number) => {
      const recipe = resolvePrecision(recipeName);
      const scaling = new ScalingState(recipe);
      const ctx = new OpContext(kernels, recipe, scaling);
      const shape = { B: c.B, T: c.T, Hq: c.Hq, Hkv: c.Hkv, D: c.D, softmaxScale: c.softmaxScale };
      let out = null;
      for (let pass = 0; pass < passes; pass++) {
        const o = new Float32Array(x.q.length);
        const dq = new Float32Array(x.q.length);
        const dk = new Float32Array(x.k.length);
        const dv = new Float32Array(x.v.length);
        const op = new AttentionOp(ctx, 0, 'attn', shape, x.q.slice(), x.k.slice(), x.v.slice(), o, x.dO.slice(), dq, dk, dv);
        op.forward();
        op.backward();
        scaling.updateForward();
        scaling.updateBackward();
        out = { o, dq, dk, dv };
      }
      return out as unknown as { o: Float32Array; dq: Float32Array; dk: Float32Array; dv: Float32Array };
    };
    const ref = run('fp32', 1);
    const fp8 = run('fp8-delayed', 3);
    results.push({
      case: c.name,
      o: sqnr([[fp8.o, ref.o]]),
      dq: sqnr([[fp8.dq, ref.dq]]),
      dk: sqnr([[fp8.dk, ref.dk]]),
      dv: sqnr([[fp8.dv, ref.dv]]),
      dqkv: sqnr([[fp8.dq, ref.dq], [fp8.dk, ref.dk], [fp8.dv, ref.dv]]),
    });
  }
  if (json) {
    console.log(JSON.stringify({ root, results }));
    return;
  }
  console.log(`attention SQNR vs fp32 (fp8-delayed, 3rd pass), source ${root}`);
  for (const r of results) {
    console.log(`  ${r.case.padEnd(34)} O ${r.o.toFixed(1)} dB  dQ ${r.dq.toFixed(1)}  dK ${r.dk.toFixed(1)}  dV ${r.dv.toFixed(1)}  dQKV ${r.dqkv.toFixed(1)} dB`);
  }
}

await main();
