/**
 * Data parallelism over MPI (issue 13). A `Communicator` is what the trainer needs of the other
 * ranks: a fixed-order float32 sum of the gradient arena and an all-gather of small byte strings
 * (losses, FP8 amaxes, the stop flag, the start fingerprint). `soloCommunicator` is the one-process
 * case; `mpiCommunicator()` reaches MPI through the native addon `build/Release/fog8_mpi.node`
 * (native/src/mpi/), which links libmpi when the build found Open MPI.
 *
 * The contract that makes N ranks bit-identical to one process: rank r computes global
 * micro-batch r·L … r·L+L−1 of every step (L = M/N), and the gradient sum is the left-to-right
 * float32 sum 0 + g₀ + g₁ + … in micro-batch order — what one process accumulating its M
 * micro-batches forms (exactly so for L = 1; with L > 1 each rank first sums its own L).
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../util/package-root.js';

export interface Communicator {
  readonly rank: number;
  readonly size: number;
  /** Host name of this rank (messages). */
  readonly host: string;
  /** In place: buf ← 0 + buf(rank 0) + buf(rank 1) + … in float32, in rank order, on every rank. */
  sumOrdered(buf: Float32Array): void;
  /** Every rank's bytes, in rank order. */
  allgather(bytes: Uint8Array): Uint8Array[];
  /** The step in progress (named in the message a rank prints when the job is ended under it). */
  setStep(step: number): void;
  /** Ends every rank of the job now (MPI_Abort); used after an error on one rank. */
  abort(code: number): void;
  /** Clean end of the job (MPI_Finalize); call once, after the last collective. */
  finalize(): void;
}

/** The single-process communicator: sums and gathers over one rank. */
export const soloCommunicator: Communicator = Object.freeze({
  rank: 0,
  size: 1,
  host: 'localhost',
  sumOrdered(): void {},
  setStep(): void {},
  allgather(bytes: Uint8Array): Uint8Array[] {
    return [bytes.slice()];
  },
  abort(code: number): void {
    process.exit(code);
  },
  finalize(): void {},
});

/** How this process was launched: rank and size from the MPI launcher's environment. */
export interface LaunchInfo {
  rank: number;
  size: number;
  /** Ranks on this machine (to share its cores), when the launcher says. */
  localSize: number | null;
  /** The environment variable the size came from. */
  source: string;
}

/** Rank/size from Open MPI's OMPI_COMM_WORLD_* (or PMI_* of MPICH/Slurm); null when not launched by MPI. */
export function detectLaunch(env: NodeJS.ProcessEnv = process.env): LaunchInfo | null {
  const read = (name: string): number | null => {
    const v = env[name];
    if (v === undefined || v === '') return null;
    const n = Number(v);
    return Number.isInteger(n) && n >= 0 ? n : null;
  };
  for (const [sizeVar, rankVar, localVar] of [
    ['OMPI_COMM_WORLD_SIZE', 'OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_LOCAL_SIZE'],
    ['PMI_SIZE', 'PMI_RANK', 'MPI_LOCALNRANKS'],
  ] as const) {
    const size = read(sizeVar);
    const rank = read(rankVar);
    if (size !== null && rank !== null && size >= 1) return { rank, size, localSize: read(localVar), source: sizeVar };
  }
  return null;
}

interface MpiAddon {
  available(): boolean;
  init(): { rank: number; size: number; host: string };
  allgatherv(bytes: Uint8Array): Uint8Array[];
  sumOrdered(buf: Float32Array): void;
  setStep(step: number): void;
  abort(code: number): void;
  finalize(): void;
  version(): string;
}

/** The Debian packages that provide Open MPI (named in every "no MPI" error). */
export const MPI_PACKAGES = 'openmpi-bin libopenmpi-dev';

/** Path of the MPI addon: FOG8_MPI_ADDON, else build/Release/fog8_mpi.node. */
export function mpiAddonPath(): string {
  return process.env.FOG8_MPI_ADDON || join(packageRoot(), 'build', 'Release', 'fog8_mpi.node');
}

let addon: MpiAddon | null = null;
let world: Communicator | null = null;

function loadMpiAddon(): MpiAddon {
  if (addon) return addon;
  const path = mpiAddonPath();
  if (!existsSync(path)) {
    throw new Error(`data-parallel training needs the MPI addon ${path}, which is not built: install Open MPI (Debian: apt-get install ${MPI_PACKAGES}) and run node scripts/build-native.mjs`);
  }
  const loaded = createRequire(import.meta.url)(path) as MpiAddon;
  if (!loaded.available()) {
    throw new Error(`the MPI addon was built without MPI: install Open MPI (Debian: apt-get install ${MPI_PACKAGES}) and run node scripts/build-native.mjs`);
  }
  return (addon = loaded);
}

/** True when the MPI addon is built and linked to an MPI library. */
export function mpiAvailable(): boolean {
  try {
    loadMpiAddon();
    return true;
  } catch {
    return false;
  }
}

/**
 * MPI_COMM_WORLD (initialising MPI on first call). Checks the launcher's size/rank against MPI's:
 * a mismatch means the addon's libmpi is not the launcher's MPI.
 */
export function mpiCommunicator(launch: LaunchInfo | null = detectLaunch()): Communicator {
  if (world) return world;
  const mpi = loadMpiAddon();
  const { rank, size, host } = mpi.init();
  if (launch && (launch.size !== size || launch.rank !== rank)) {
    throw new Error(
      `${launch.source} says rank ${launch.rank} of ${launch.size}, but MPI_Init gave rank ${rank} of ${size}: ` +
        `the fog8 MPI addon (${mpi.version().split('\n')[0]}) is not the MPI of the launcher; launch with that library's mpirun`,
    );
  }
  world = Object.freeze({
    rank,
    size,
    host,
    sumOrdered: (buf: Float32Array) => mpi.sumOrdered(buf),
    setStep: (step: number) => mpi.setStep(step),
    allgather: (bytes: Uint8Array) => mpi.allgatherv(bytes),
    abort: (code: number) => mpi.abort(code),
    finalize: () => mpi.finalize(),
  });
  return world;
}

/**
 * The communicator of this process: MPI_COMM_WORLD when launched by mpirun with more than one
 * rank, else the solo one. A multi-rank launch without MPI in the addon is an error naming the
 * package (never a silent single-process run N times over).
 */
export function worldCommunicator(env: NodeJS.ProcessEnv = process.env): Communicator {
  const launch = detectLaunch(env);
  if (launch === null || launch.size === 1) return soloCommunicator;
  try {
    return mpiCommunicator(launch);
  } catch (e) {
    throw new Error(`launched as rank ${launch.rank} of ${launch.size} (${launch.source}), but ${(e as Error).message}`);
  }
}

/** Float64 values of every rank, in rank order (each rank sends the same count). */
export function allgatherFloat64(comm: Communicator, values: Float64Array): Float64Array[] {
  const pieces = comm.allgather(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  return pieces.map((p, r) => {
    if (p.byteLength !== values.byteLength) throw new Error(`rank ${r} sent ${p.byteLength / 8} values where rank ${comm.rank} sent ${values.length}: the ranks run different models or recipes`);
    const copy = new Uint8Array(p); // aligned copy
    return new Float64Array(copy.buffer, 0, values.length);
  });
}

/** A start-up mismatch between ranks, found identically on every rank (rank 0 reports it). */
export class RankMismatchError extends Error {}

/**
 * Refuses ranks that would not compute the same run: every rank sends its fingerprint (flat
 * JSON-able fields: the resolved config, data, kernels, resume step) and every rank compares all
 * of them with rank 0's, naming the first field that differs.
 */
export function assertSameFingerprint(comm: Communicator, fingerprint: Record<string, unknown>): void {
  if (comm.size === 1) return;
  const mine = new TextEncoder().encode(JSON.stringify(fingerprint));
  const all = comm.allgather(mine).map((b) => JSON.parse(new TextDecoder().decode(b)) as Record<string, unknown>);
  const base = all[0];
  for (let r = 1; r < all.length; r++) {
    const keys = new Set([...Object.keys(base), ...Object.keys(all[r])]);
    for (const k of keys) {
      const a = JSON.stringify(base[k]);
      const b = JSON.stringify(all[r][k]);
      if (a !== b) {
        throw new RankMismatchError(`ranks differ: ${k} is ${a ?? 'absent'} on rank 0 but ${b ?? 'absent'} on rank ${r}; every rank must run the same config on the same data`);
      }
    }
  }
}
