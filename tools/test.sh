#!/usr/bin/env bash
# The README's test command: set up, build once in debug, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh
swift build --build-tests
swift test --skip-build
