#!/usr/bin/env bash
# Installs Debian's chromium for the report's browser tests and `fog8 report --png`, only when
# /usr/bin/chromium is missing. Never downloads a browser from anywhere but the apt archive.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium >/dev/null
test -x /usr/bin/chromium
