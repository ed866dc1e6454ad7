/**
 * GEMM tuning on the user's own CPU (docs/kernels.md, "Tuning"): times the candidate register
 * tiles and blockings of the BF16/FP8 GEMM path and caches the winner per CPU model, instruction
 * set and thread count in a JSON wisdom file. Every variant gives bit-identical results (each
 * output element is one accumulation chain over k in order), so tuning changes speed only.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { NativeCoreAddon } from './native.js';
import type { GemmOperand } from './types.js';

/** One tuned choice, as stored in the wisdom file. */
export interface WisdomEntry {
  variant: string;
  /** Geometric mean GFLOP/s of the winner over the tuning shapes. */
  gflops: number;
  cpu: string;
  isa: string;
  threads: number;
  mode: TuneMode;
  date: string;
  /** Every candidate timed, best first within each stage (rates compare only within a stage:
   *  the stages run at different times). */
  timings: { variant: string; gflops: number; stage: 1 | 2 }[];
}

export type TuneMode = 'quick' | 'full';

/** How a run uses the wisdom: 'auto' (use it, tune quickly when missing), 'cache' (use it if
 *  present), 'off' (built-in default variant). */
export type TunePolicy = 'auto' | 'cache' | 'off';
export const TUNE_POLICIES: readonly TunePolicy[] = ['auto', 'cache', 'off'];

const WISDOM_VERSION = 1;

/** The wisdom file: FOG8_WISDOM, else $XDG_CACHE_HOME/fog8/wisdom.json, else ~/.cache/fog8/wisdom.json. */
export function wisdomPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FOG8_WISDOM) return env.FOG8_WISDOM;
  const cache = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.startsWith('/') ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(cache, 'fog8', 'wisdom.json');
}

/** The policy from FOG8_TUNE (default 'auto'); an unknown value is an error naming the allowed ones. */
export function tunePolicyFromEnv(env: NodeJS.ProcessEnv = process.env): TunePolicy {
  const v = env.FOG8_TUNE;
  if (v === undefined || v === '') return 'auto';
  if ((TUNE_POLICIES as readonly string[]).includes(v)) return v as TunePolicy;
  throw new TypeError(`FOG8_TUNE must be one of ${TUNE_POLICIES.join(', ')}, got '${v}'`);
}

/** Key of an entry: the CPU model (a wisdom file copied to another machine does not apply), ISA, threads. */
export function wisdomKey(cpu: string, isa: string, threads: number): string {
  return `${cpu} | ${isa} | ${threads} threads`;
}

/** The CPU's model name, with family/model/stepping where /proc/cpuinfo gives them: virtual
 *  machines often show a generic name ("AMD EPYC" covers Zen 4 and Zen 5, whose best GEMM
 *  variants differ), so the name alone would let one CPU's wisdom apply to another. */
export function cpuModel(): string {
  const name = cpus()[0]?.model?.trim() || 'unknown CPU';
  let info = '';
  try {
    info = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return name; // not Linux
  }
  const field = (key: string): string | undefined => new RegExp(`^${key}\\s*:\\s*(\\S+)`, 'm').exec(info)?.[1];
  const [family, model, stepping] = [field('cpu family'), field('model'), field('stepping')];
  return family && model ? `${name} (family ${family} model ${model}${stepping ? ` stepping ${stepping}` : ''})` : name;
}

function isEntry(v: unknown): v is WisdomEntry {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  return typeof e.variant === 'string' && typeof e.gflops === 'number' && typeof e.isa === 'string' && typeof e.threads === 'number';
}

/** Reads the wisdom entries; a missing file is empty, an unreadable or corrupt one is ignored with a warning. */
export function readWisdom(path: string, warn: (line: string) => void = (l) => console.warn(l)): Record<string, WisdomEntry> {
  if (!existsSync(path)) return {};
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null) throw new Error('not a JSON object');
    const root = parsed as { version?: unknown; entries?: unknown };
    if (root.version !== WISDOM_VERSION) throw new Error(`version ${String(root.version)}, expected ${WISDOM_VERSION}`);
    if (typeof root.entries !== 'object' || root.entries === null) throw new Error('no entries object');
    const out: Record<string, WisdomEntry> = {};
    for (const [k, v] of Object.entries(root.entries)) {
      if (!isEntry(v)) throw new Error(`entry '${k}' is malformed`);
      out[k] = v;
    }
    return out;
  } catch (error) {
    warn(`fog8: WARNING: ignoring the GEMM wisdom file ${path} (${error instanceof Error ? error.message : String(error)}); it is rewritten by the next tune`);
    return {};
  }
}

/** Adds or replaces one entry (atomic rename, so a crash never leaves half a file). */
export function writeWisdomEntry(path: string, entry: WisdomEntry): void {
  const entries = readWisdom(path, () => {});
  entries[wisdomKey(entry.cpu, entry.isa, entry.threads)] = entry;
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ version: WISDOM_VERSION, entries }, null, 2)}\n`);
  renameSync(tmp, path);
}

function tileDims(tile: string): [number, number] {
  const m = /^(\d+)x(\d+)$/.exec(tile);
  if (!m) throw new TypeError(`GEMM tile '${tile}' is not of the form MRxNR`);
  return [Number(m[1]), Number(m[2])];
}

/** A blocking of a tile as a variant name (MC rounded to a multiple of MR, NC of NR). */
export function variantName(tile: string, kc: number, mc: number, nc: number): string {
  const [mr, nr] = tileDims(tile);
  const MC = Math.max(mr, Math.round(mc / mr) * mr);
  const NC = Math.max(nr, Math.round(nc / nr) * nr);
  return `${tile}-kc${kc}-mc${MC}-nc${NC}`;
}

/** Stage 1: every tile at a middle blocking (k 384, ≈ 96 rows × 1024 columns per unit). */
export function tileCandidates(tiles: string[]): string[] {
  return tiles.map((t) => variantName(t, 384, 96, 1024));
}

/** Stage 2: blockings of one tile (quick: k block only; full: k block × rows × columns). */
export function blockingCandidates(tile: string, mode: TuneMode): string[] {
  const out = new Set<string>();
  const kcs = [256, 384, 512];
  const mcs = mode === 'quick' ? [96] : [48, 96, 192];
  // Columns per unit set how often a deep-K GEMM re-packs A (a wgrad's dyᵀ: once per column
  // block) against the accumulator's share of L2: wide wgrads gained 5–10 % from 512 to 1024–1536
  // on the Zen 4 (1 MiB L2), the narrow ones were unchanged.
  const ncs = mode === 'quick' ? [1024] : [256, 512, 1024, 1536];
  for (const kc of kcs) for (const mc of mcs) for (const nc of ncs) out.add(variantName(tile, kc, mc, nc));
  return [...out];
}

/** Every variant a tune may pick on an addon with these tiles (what `npm test` checks). */
export function allCandidates(tiles: string[]): string[] {
  return [...new Set([...tileCandidates(tiles), ...tiles.flatMap((t) => blockingCandidates(t, 'full'))])];
}

interface Problem {
  M: number;
  N: number;
  K: number;
  a: GemmOperand;
  b: GemmOperand;
  c: Float32Array;
}

/** A linear's three GEMM layouts on FP8 operands (fprop x·Wᵀ, dgrad dy·W, wgrad dyᵀ·x), a wide
 *  wgrad (N = 1024 columns: how many column blocks re-pack dyᵀ matters there, and a narrow
 *  problem set once picked a blocking that packs it four times), a BF16 square one, and a small
 *  model's pair — an fprop with K = 256 and a wgrad with M = 256, both with N = 1152 (not a
 *  multiple of the units), shapes of the `s` step: on the Zen 4 the 512-column units the tune had
 *  picked without them ran those 2–6 % slower (wall time, 2 threads) than 1024 columns. */
function problems(addon: NativeCoreAddon, mode: TuneMode): Problem[] {
  const s = mode === 'quick' ? 1 : 2;
  const make = (dtype: 'e4m3' | 'e5m2' | 'bf16', n: number, trans: boolean): GemmOperand => {
    const v = new Float32Array(n);
    let x = 0x9e3779b9;
    for (let i = 0; i < n; i++) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      v[i] = (x / 2 ** 32 - 0.5) * 4;
    }
    if (dtype === 'bf16') {
      const bits = new Uint16Array(n);
      addon.packBf16(v, bits);
      return { dtype, data: bits, trans };
    }
    const codes = new Uint8Array(n);
    addon.quantize(v, dtype, 1, codes);
    return { dtype, data: codes, trans };
  };
  const T = 512 * s, d = 384 * s, f = 1024 * s;
  const shapes: [number, number, number, 'e4m3' | 'e5m2' | 'bf16', 'e4m3' | 'bf16', boolean, boolean][] = [
    [T, f, d, 'e4m3', 'e4m3', false, true],
    [T, d, f, 'e5m2', 'e4m3', false, false],
    [f, d, T, 'e5m2', 'e4m3', true, false],
    [768 * s, 1024, 1024 * s, 'e5m2', 'e4m3', true, false],
    [512 * s, 512 * s, 512 * s, 'bf16', 'bf16', false, false],
    [2048 * s, 1152, 256, 'e4m3', 'e4m3', false, true],
    [256, 1152, 2048 * s, 'e5m2', 'e4m3', true, false],
  ];
  return shapes.map(([M, N, K, da, db, ta, tb]) => ({ M, N, K, a: make(da, M * K, ta), b: make(db, K * N, tb), c: new Float32Array(M * N) }));
}

/** Geometric-mean GFLOP/s of each candidate over the problems: interleaved rounds (candidate order
 *  rotated each round), best time per (candidate, problem). */
function timeCandidates(addon: NativeCoreAddon, candidates: string[], probs: Problem[], rounds: number): { variant: string; gflops: number }[] {
  const best = candidates.map(() => probs.map(() => Infinity));
  for (let r = 0; r < rounds; r++) {
    for (let q = 0; q < candidates.length; q++) {
      const ci = (q + r) % candidates.length;
      addon.setGemmVariant(candidates[ci]);
      probs.forEach((p, pi) => {
        if (r === 0) addon.gemm(p.M, p.N, p.K, p.a, p.b, p.c); // warm-up (buffers, caches)
        const t0 = performance.now();
        addon.gemm(p.M, p.N, p.K, p.a, p.b, p.c);
        best[ci][pi] = Math.min(best[ci][pi], performance.now() - t0);
      });
    }
  }
  return candidates
    .map((variant, ci) => {
      const logMean = probs.reduce((acc, p, pi) => acc + Math.log((2 * p.M * p.N * p.K) / (best[ci][pi] * 1e6)), 0) / probs.length;
      return { variant, gflops: Math.exp(logMean) };
    })
    .sort((x, y) => y.gflops - x.gflops);
}

/** Scores this close to the best are a tie: the tune's repeated timings of one candidate spread about this much. */
export const TUNE_TIE = 0.01;

/** Columns per unit that a tie is broken toward: 1024 columns of 96–192 rows of float32 accumulator
 *  (384–768 KiB) still fit a 1 MiB L2; wider only when it scores best outright. */
const TIE_COLUMNS = 1024;

/**
 * The blocking to keep from stage 2's scores (best first): among those within TUNE_TIE of the best,
 * the one with the most columns per unit up to TIE_COLUMNS (then the best score). Wider units
 * re-pack a deep-K GEMM's A (a wgrad's dyᵀ) fewer times, which costs more on GEMMs larger than the
 * tuning problems than on them: on the Zen 4 a tie broken toward 256 columns made the
 * 8192×1024×4096 wgrad 5–10 % slower than 1024 columns.
 */
export function pickBlocking(scored: readonly { variant: string; gflops: number }[]): { variant: string; gflops: number } {
  const best = scored[0].gflops;
  const width = (v: string) => Math.min(TIE_COLUMNS, Number(/-nc(\d+)$/.exec(v)?.[1] ?? 0));
  // scored is best first, so the first of the widest is the best-scoring one
  return scored.filter((t) => t.gflops >= best * (1 - TUNE_TIE)).reduce((a, b) => (width(b.variant) > width(a.variant) ? b : a));
}

export interface TuneResult {
  entry: WisdomEntry;
  seconds: number;
}

/**
 * Tunes the BF16/FP8 GEMM on this CPU at the addon's current thread count, leaves the winner
 * selected and returns its wisdom entry (not written). On a path with a single kernel the result
 * is that kernel, untimed.
 */
export function tuneGemm(addon: NativeCoreAddon, mode: TuneMode, log: (line: string) => void = () => {}): TuneResult {
  const started = performance.now();
  const tiles = addon.gemmTiles();
  const base = { cpu: cpuModel(), isa: addon.isa(), threads: addon.threads(), mode, date: new Date().toISOString() };
  if (tiles.length === 1 && addon.gemmVariant() === tiles[0]) {
    return { entry: { ...base, variant: tiles[0], gflops: NaN, timings: [] }, seconds: 0 };
  }
  const probs = problems(addon, mode);
  const rounds = mode === 'quick' ? 3 : 5;
  const stage1 = timeCandidates(addon, tileCandidates(tiles), probs, rounds);
  const winnerTile = stage1[0].variant.split('-')[0];
  log(`tiles: ${stage1.map((t) => `${t.variant.split('-')[0]} ${t.gflops.toFixed(0)}`).join(', ')} GFLOP/s → ${winnerTile}`);
  const stage2 = timeCandidates(addon, blockingCandidates(winnerTile, mode), probs, rounds);
  log(`blockings of ${winnerTile}: ${stage2.slice(0, 5).map((t) => `${t.variant} ${t.gflops.toFixed(0)}`).join(', ')}${stage2.length > 5 ? ', …' : ''}`);
  const timings = [...stage1.map((t) => ({ ...t, stage: 1 as const })), ...stage2.map((t) => ({ ...t, stage: 2 as const }))];
  const winner = pickBlocking(stage2);
  addon.setGemmVariant(winner.variant);
  return { entry: { ...base, variant: winner.variant, gflops: winner.gflops, timings }, seconds: (performance.now() - started) / 1000 };
}

export interface AppliedVariant {
  variant: string;
  source: 'wisdom' | 'tuned' | 'default';
}

/**
 * Selects the GEMM variant for a run: the wisdom entry of this CPU, ISA and thread count when
 * present; with policy 'auto' and no entry, a quick tune (saying so on `log`) whose winner is
 * saved; else the built-in default. A wisdom variant the addon rejects is ignored with a warning.
 */
export function applyWisdom(addon: NativeCoreAddon, policy: TunePolicy, path: string = wisdomPath(), log: (line: string) => void = (l) => console.log(l)): AppliedVariant {
  if (policy === 'off' || addon.gemmTiles().length <= 1) return { variant: addon.gemmVariant(), source: 'default' };
  const key = wisdomKey(cpuModel(), addon.isa(), addon.threads());
  const entry = readWisdom(path, log)[key];
  if (entry !== undefined) {
    try {
      addon.setGemmVariant(entry.variant);
      return { variant: entry.variant, source: 'wisdom' };
    } catch (error) {
      log(`fog8: WARNING: ignoring wisdom variant '${entry.variant}' (${error instanceof Error ? error.message : String(error)})`);
    }
  }
  if (policy === 'cache') {
    addon.setGemmVariant('default');
    return { variant: addon.gemmVariant(), source: 'default' };
  }
  log(`fog8: no tuned GEMM for ${key} in ${path}; running a quick tune (a few seconds; \`fog8 tune\` does a full one)`);
  const { entry: tuned, seconds } = tuneGemm(addon, 'quick');
  try {
    writeWisdomEntry(path, tuned);
  } catch (error) {
    log(`fog8: WARNING: could not save the GEMM wisdom to ${path} (${error instanceof Error ? error.message : String(error)})`);
  }
  log(`fog8: GEMM variant ${tuned.variant} (${tuned.gflops.toFixed(0)} GFLOP/s in the tune, ${seconds.toFixed(1)} s)`);
  return { variant: tuned.variant, source: 'tuned' };
}
