// Runs the kernel tests a second time on the AVX-512 path emulated by SIMDe (docs/kernels.md,
// "AVX-512 path verified by emulation"), so that the avx512bf16 GEMM micro-kernels, peak loops and
// width-16 fused kernels execute and are checked on a CPU without AVX-512.
//
//   1. builds the addon with fog8_avx512_emulated=1 in build/avx512-emulated/ (a copy of
//      binding.gyp, native/ and bench/microbench/), unless the sources are unchanged since the
//      last build (hash in build/avx512-emulated/sources.sha256);
//   2. runs `node scripts/run-tests.mjs test/kernels test/model/backends` with
//      FOG8_NATIVE_ADDON pointing at it, so every per-ISA test also runs at avx512bf16, and
//      FOG8_EXPECT_AVX512_EMULATED=1, which makes test/kernels/avx512-emulated.test.ts assert
//      that the emulated path is the one that ran.
//
// Exits 0 without testing (saying why) when the CPU has AVX-512 BF16 (the main suite covers the
// real path), lacks AVX2+FMA+F16C, the main addon is not built (native tests are skipped anyway),
// or the SIMDe headers are missing — the last is an error (exit 1) when CI=true.
// SIMDE_INCLUDE=<dir> names the directory holding simde/ (default: /usr/include, /usr/local/include).
// FOG8_FORCE_AVX512_EMULATED=1 runs it on an AVX-512 BF16 CPU too (to check the emulated build
// and SIMDe's coverage of the intrinsics there, e.g. before CI runs it on an AVX2 machine).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { nodeGypRebuildCommand, repoRoot } from './native-build-tools.mjs';

const buildDir = join(repoRoot, 'build', 'avx512-emulated');
const addonPath = join(buildDir, 'build', 'Release', 'fog8_native.node');
const hashFile = join(buildDir, 'sources.sha256');
/** What the emulated addon is built from, relative to the repository root. */
const SOURCES = ['binding.gyp', 'native', join('bench', 'microbench'), join('scripts', 'find-mpi.mjs')];
const TEST_PATHS = ['test/kernels', 'test/model/backends'];
const started = Date.now();

function log(message) {
  console.log(`avx512-emulated: ${message}`);
}

function skip(reason) {
  log(`SKIPPED: ${reason}`);
  process.exit(0);
}

/** CPU feature flags from /proc/cpuinfo (empty set where there is none). */
function cpuFlags() {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    return new Set((line ?? '').split(':')[1]?.trim().split(/\s+/) ?? []);
  } catch {
    return new Set();
  }
}

function findSimde() {
  const candidates = [process.env.SIMDE_INCLUDE, '/usr/include', '/usr/local/include'];
  return candidates.find((dir) => dir && existsSync(join(dir, 'simde', 'x86', 'avx512', 'dpbf16.h'))) ?? null;
}

function filesUnder(path) {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).sort().flatMap((name) => filesUnder(join(path, name)));
}

/** Hash of every source file (path and bytes), the SIMDe directory, Node's version and the gyp defines. */
function sourcesHash(gypDefines) {
  const hash = createHash('sha256');
  hash.update(`${process.version}\n${gypDefines.join(' ')}\n`);
  for (const file of SOURCES.flatMap((s) => filesUnder(join(repoRoot, s)))) {
    hash.update(`${relative(repoRoot, file)}\n`);
    hash.update(readFileSync(file));
  }
  return hash.digest('hex');
}

const flags = cpuFlags();
if (flags.has('avx512f') && flags.has('avx512bw') && flags.has('avx512_bf16') && process.env.FOG8_FORCE_AVX512_EMULATED !== '1') {
  skip('this CPU has AVX-512 BF16: the main test suite already runs the real avx512bf16 path');
}
if (process.arch !== 'x64' || !['avx2', 'fma', 'f16c'].every((f) => flags.has(f))) {
  skip('the emulated AVX-512 build needs an x86-64 CPU with AVX2, FMA and F16C');
}
if (!existsSync(join(repoRoot, 'build', 'Release', 'fog8_native.node'))) {
  skip('the native addon is not built (build/Release/fog8_native.node), so native tests are skipped anyway');
}
const simde = findSimde();
if (simde === null) {
  const reason = 'SIMDe headers not found (simde/x86/avx512/dpbf16.h under $SIMDE_INCLUDE, /usr/include or /usr/local/include); install them with `apt-get install libsimde-dev` (or .ci/install-simde.sh)';
  if (process.env.CI === 'true') {
    console.error(`avx512-emulated: FAILED: ${reason}; CI=true requires the emulated AVX-512 tests`);
    process.exit(1);
  }
  skip(reason);
}

const gypDefines = ['-Dfog8_avx512_emulated=1', `-Dfog8_simde_include=${simde}`];
const hash = sourcesHash(gypDefines);
if (existsSync(addonPath) && existsSync(hashFile) && readFileSync(hashFile, 'utf8').trim() === hash) {
  log(`sources unchanged, reusing ${relative(repoRoot, addonPath)}`);
} else {
  rmSync(buildDir, { recursive: true, force: true });
  mkdirSync(buildDir, { recursive: true });
  for (const s of SOURCES) cpSync(join(repoRoot, s), join(buildDir, s), { recursive: true });
  const [cmd, args] = nodeGypRebuildCommand(gypDefines);
  log(`building in ${relative(repoRoot, buildDir)}: ${[cmd, ...args].join(' ')}`);
  // node-gyp's output is shown only when the build fails.
  const r = spawnSync(cmd, args, { cwd: buildDir, stdio: ['ignore', 'pipe', 'pipe'], env: process.env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error || r.status !== 0 || !existsSync(addonPath)) {
    process.stderr.write(`${r.stdout ?? ''}${r.stderr ?? ''}`);
    console.error(`avx512-emulated: FAILED: the emulated addon did not build (${r.error?.message ?? `node-gyp status ${r.status}`}); see the compiler output above`);
    process.exit(1);
  }
  writeFileSync(hashFile, `${hash}\n`);
  log(`built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

log(`running ${TEST_PATHS.join(', ')} with FOG8_NATIVE_ADDON=${relative(repoRoot, addonPath)} (avx512bf16 emulated by SIMDe)`);
const tests = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'run-tests.mjs'), ...TEST_PATHS], {
  cwd: repoRoot,
  stdio: 'inherit',
  env: { ...process.env, FOG8_NATIVE_ADDON: addonPath, FOG8_EXPECT_AVX512_EMULATED: '1' },
});
log(`${tests.status === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
process.exit(tests.status ?? 1);
