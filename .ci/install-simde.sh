#!/usr/bin/env bash
# Installs Debian's SIMDe headers (libsimde-dev) for the emulated AVX-512 tests
# (scripts/test-avx512-emulated.mjs), only when they are missing. Apt archive only.
set -euo pipefail
if [ -f /usr/include/simde/x86/avx512/dpbf16.h ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq libsimde-dev >/dev/null
test -f /usr/include/simde/x86/avx512/dpbf16.h
