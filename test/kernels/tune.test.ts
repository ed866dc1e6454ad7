// GEMM tuning (src/kernels/tune.ts): wisdom file location and robustness, the policy from
// FOG8_TUNE, and a real quick tune on the native addon whose winner is saved and then reused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, homedir } from 'node:os';
import { join } from 'node:path';
import { loadNativeAddon, type NativeCoreAddon } from '../../src/kernels/native.js';
import {
  allCandidates, applyWisdom, blockingCandidates, cpuModel, pickBlocking, readWisdom, tileCandidates, tunePolicyFromEnv, wisdomKey, wisdomPath,
  writeWisdomEntry, type WisdomEntry,
} from '../../src/kernels/tune.js';

let addon: NativeCoreAddon | null = null;
let skipNative: string | false = false;
try {
  addon = loadNativeAddon();
  if (addon.avx512Emulated()) skipNative = 'emulated AVX-512 addon: timings mean nothing';
} catch (error) {
  skipNative = `native addon unavailable: ${error instanceof Error ? error.message : String(error)}`;
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'fog8-tune-'));
}

test('wisdomPath: FOG8_WISDOM, else $XDG_CACHE_HOME/fog8, else ~/.cache/fog8', () => {
  assert.equal(wisdomPath({ FOG8_WISDOM: '/x/w.json', XDG_CACHE_HOME: '/c' }), '/x/w.json');
  assert.equal(wisdomPath({ XDG_CACHE_HOME: '/c' }), '/c/fog8/wisdom.json');
  assert.equal(wisdomPath({ XDG_CACHE_HOME: 'relative' }), join(homedir(), '.cache', 'fog8', 'wisdom.json'));
  assert.equal(wisdomPath({}), join(homedir(), '.cache', 'fog8', 'wisdom.json'));
});

test('tunePolicyFromEnv: auto by default, an unknown value names the allowed ones', () => {
  assert.equal(tunePolicyFromEnv({}), 'auto');
  assert.equal(tunePolicyFromEnv({ FOG8_TUNE: 'off' }), 'off');
  assert.equal(tunePolicyFromEnv({ FOG8_TUNE: 'cache' }), 'cache');
  assert.throws(() => tunePolicyFromEnv({ FOG8_TUNE: 'fast' }), /FOG8_TUNE must be one of auto, cache, off, got 'fast'/);
});

test('candidates: tiles at a middle blocking, then blockings; names are MRxNR-kcKC-mcMC-ncNC with MC, NC multiples of the tile', () => {
  assert.deepEqual(tileCandidates(['12x32', '6x64']), ['12x32-kc384-mc96-nc1024', '6x64-kc384-mc96-nc1024']);
  assert.deepEqual(blockingCandidates('14x32', 'quick'), ['14x32-kc256-mc98-nc1024', '14x32-kc384-mc98-nc1024', '14x32-kc512-mc98-nc1024']);
  assert.equal(blockingCandidates('8x48', 'full').length, 36);
  for (const v of allCandidates(['14x32', '8x48'])) {
    const m = /^(\d+)x(\d+)-kc(\d+)-mc(\d+)-nc(\d+)$/.exec(v);
    assert.ok(m, v);
    assert.equal(Number(m[4]) % Number(m[1]), 0, v);
    assert.equal(Number(m[5]) % Number(m[2]), 0, v);
  }
});

test('readWisdom: missing file is empty; corrupt, wrong-version or malformed files are ignored with a warning', () => {
  const dir = tempDir();
  try {
    const path = join(dir, 'w.json');
    const warnings: string[] = [];
    assert.deepEqual(readWisdom(path, (l) => warnings.push(l)), {});
    assert.equal(warnings.length, 0);
    for (const text of ['{not json', JSON.stringify({ version: 99, entries: {} }), JSON.stringify({ version: 1, entries: { k: { variant: 3 } } })]) {
      writeFileSync(path, text);
      assert.deepEqual(readWisdom(path, (l) => warnings.push(l)), {});
    }
    assert.equal(warnings.length, 3);
    assert.ok(warnings.every((w) => w.includes('ignoring the GEMM wisdom file') && w.includes(path)), warnings.join('\n'));
    // A corrupt file is replaced by the next write.
    const entry: WisdomEntry = { variant: '12x32-kc384-mc96-nc512', gflops: 500, cpu: 'cpu A', isa: 'avx512bf16', threads: 2, mode: 'full', date: 'd', timings: [] };
    writeWisdomEntry(path, entry);
    writeWisdomEntry(path, { ...entry, threads: 1, variant: '8x32-kc256-mc96-nc512' });
    const back = readWisdom(path);
    assert.deepEqual(back[wisdomKey('cpu A', 'avx512bf16', 2)], entry);
    assert.equal(back[wisdomKey('cpu A', 'avx512bf16', 1)].variant, '8x32-kc256-mc96-nc512');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('applyWisdom: auto tunes once (saying so) and saves; the next run reuses it; cache and off never tune', { skip: skipNative }, () => {
  const a = addon!;
  const dir = tempDir();
  const saved = a.gemmVariant();
  try {
    const path = join(dir, 'sub', 'wisdom.json');
    const lines: string[] = [];
    const off = applyWisdom(a, 'off', path, (l) => lines.push(l));
    assert.equal(off.source, 'default');
    const cached = applyWisdom(a, 'cache', path, (l) => lines.push(l));
    assert.equal(cached.source, 'default');
    assert.equal(lines.length, 0);
    const first = applyWisdom(a, 'auto', path, (l) => lines.push(l));
    if (a.gemmTiles().length <= 1) {
      assert.equal(first.source, 'default'); // one kernel on this path: nothing to tune
      return;
    }
    assert.equal(first.source, 'tuned');
    assert.ok(lines.some((l) => l.includes('running a quick tune')), lines.join('\n'));
    assert.ok(allCandidates(a.gemmTiles()).includes(first.variant), first.variant);
    assert.equal(a.gemmVariant(), first.variant);
    const stored = JSON.parse(readFileSync(path, 'utf8')) as { entries: Record<string, WisdomEntry> };
    const entry = stored.entries[wisdomKey(cpuModel(), a.isa(), a.threads())];
    assert.equal(entry.variant, first.variant);
    assert.ok(entry.timings.length >= a.gemmTiles().length && entry.gflops > 0);
    a.setGemmVariant('default');
    lines.length = 0;
    const second = applyWisdom(a, 'auto', path, (l) => lines.push(l));
    assert.deepEqual(second, { variant: first.variant, source: 'wisdom' });
    assert.equal(lines.length, 0);
    // A corrupt file: warning, then a fresh quick tune replaces it.
    writeFileSync(path, '{');
    lines.length = 0;
    const third = applyWisdom(a, 'auto', path, (l) => lines.push(l));
    assert.equal(third.source, 'tuned');
    assert.ok(lines[0].includes('WARNING: ignoring the GEMM wisdom file'), lines.join('\n'));
    assert.equal(readWisdom(path)[wisdomKey(cpuModel(), a.isa(), a.threads())].variant, third.variant);
  } finally {
    a.setGemmVariant(saved);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pickBlocking: within 1 % of the best the widest units (up to 1024 columns) win; outside it the best score does', () => {
  const scored = [
    { variant: '8x32-kc256-mc96-nc256', gflops: 390 },
    { variant: '8x32-kc512-mc96-nc512', gflops: 387 },
    { variant: '8x32-kc512-mc96-nc1024', gflops: 386.5 },
    { variant: '8x32-kc512-mc192-nc1536', gflops: 386.4 },
    { variant: '8x32-kc384-mc96-nc1536', gflops: 380 },
  ];
  assert.equal(pickBlocking(scored).variant, '8x32-kc512-mc96-nc1024');
  assert.equal(pickBlocking([{ variant: '8x32-kc256-mc96-nc1536', gflops: 400 }, { variant: '8x32-kc256-mc96-nc1024', gflops: 399 }]).variant, '8x32-kc256-mc96-nc1536');
  assert.equal(pickBlocking([{ variant: '8x32-kc256-mc96-nc256', gflops: 400 }, { variant: '8x32-kc256-mc96-nc1024', gflops: 390 }]).variant, '8x32-kc256-mc96-nc256');
  assert.equal(pickBlocking([scored[0]]).variant, scored[0].variant);
});
