import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

// DESIGN §1: data flows config → model → trainer → logs → report; the CLI may import everything, nothing imports the CLI.
test('layering: src/train, src/optim and src/monitor import nothing from src/cli', () => {
  const offenders: string[] = [];
  for (const dir of ['src/train', 'src/optim', 'src/monitor']) {
    for (const file of sources(dir)) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:import|export)[^'"]*from\s+['"]([^'"]+)['"]/g)) {
        if (/(^|\/)cli\//.test(m[1])) offenders.push(`${file} → ${m[1]}`);
      }
    }
  }
  assert.deepEqual(offenders, []);
});
