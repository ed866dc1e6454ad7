// Finds an MPI installation for the fog8_mpi addon target of binding.gyp (run by gyp):
//   node scripts/find-mpi.mjs found|cflags|libs
// prints 1/0, the include flags, or the link flags. It asks `mpicxx --showme:*` (Open MPI's
// wrapper), then `pkg-config ompi` / `pkg-config mpi`; nothing found → 0 and empty flags, and the
// addon is built without MPI (it then says which Debian packages to install).
// FOG8_NO_MPI=1 forces the build without MPI (to test that path).
import { spawnSync } from 'node:child_process';

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 && typeof r.stdout === 'string' ? r.stdout.trim() : null;
}

function find() {
  if (process.env.FOG8_NO_MPI === '1') return null;
  const compile = run('mpicxx', ['--showme:compile']);
  const link = run('mpicxx', ['--showme:link']);
  if (compile !== null && link !== null) return { cflags: compile, libs: link.split(/\s+/).filter((f) => f !== '-lmpi_cxx').join(' ') };
  for (const pkg of ['ompi', 'mpi']) {
    const cflags = run('pkg-config', ['--cflags', pkg]);
    const libs = run('pkg-config', ['--libs', pkg]);
    if (cflags !== null && libs !== null) return { cflags, libs };
  }
  return null;
}

const what = process.argv[2];
const mpi = find();
if (what === 'found') console.log(mpi ? '1' : '0');
else if (what === 'cflags') console.log(mpi ? mpi.cflags : '');
else if (what === 'libs') console.log(mpi ? mpi.libs : '');
else {
  console.error('usage: node scripts/find-mpi.mjs found|cflags|libs');
  process.exit(2);
}
