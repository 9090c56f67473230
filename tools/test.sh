#!/usr/bin/env bash
# The README's test command: set up, lint, build once in debug, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh libsqlite3-dev
swift format lint --strict --recursive Sources Tests Package.swift
log=$(mktemp)
swift build --build-tests 2>&1 | tee "$log"
# Warnings in our own code fail the run (dependencies' warnings are theirs).
if grep -E "^$PWD/(Sources|Tests)/.*: warning:" "$log"; then
  echo "error: the build has warnings in project code (above)" >&2
  exit 1
fi
swift test --skip-build
