#!/usr/bin/env bash
# Installs Debian's Open MPI (openmpi-bin: mpirun; libopenmpi-dev: headers and mpicxx) for the
# data-parallel tests (test/train/distributed.test.ts), only when missing. Must run before
# `npm ci`: the addon build links libmpi only when it finds it (scripts/find-mpi.mjs). Apt archive only.
set -euo pipefail
if command -v mpirun >/dev/null && command -v mpicxx >/dev/null; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq openmpi-bin libopenmpi-dev >/dev/null
mpirun --version | head -1
