/** Test helper: an injected disk full that works on any machine. */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

/** Makes every fs.writeSync fail with ENOSPC while `full()` is true; returns the undo. */
export function injectDiskFull(full: () => boolean): () => void {
  const original = fs.writeSync;
  fs.writeSync = ((...args: Parameters<typeof fs.writeSync>) => {
    if (full()) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
    return (original as (...a: unknown[]) => number)(...args);
  }) as typeof fs.writeSync;
  syncBuiltinESMExports();
  return () => {
    fs.writeSync = original;
    syncBuiltinESMExports();
  };
}
