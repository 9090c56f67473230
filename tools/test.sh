#!/usr/bin/env bash
# The README's test command: set up, lint, build once in debug, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
# SQLite and PostgreSQL for the store (every store test runs on both); nginx as the gRPC load
# balancer in front of two replicas; Python gRPC + protoc for the interop test against Python
# grpcio; an English word list (wamerican) for `tutor eval answers`.
tools/bootstrap.sh libsqlite3-dev postgresql nginx python3-grpcio python3-protobuf protobuf-compiler \
  protobuf-compiler-grpc wamerican
# Generated code (listed in .swiftformatignore) is left as protoc wrote it.
find Sources Tests -name '*.swift' -not -path 'Sources/TutorAPI/Generated/*' -print0 |
  xargs -0 swift format lint --strict Package.swift
# The Python under tools/ is linted with ruff (ruff.toml), pinned: its wheel carries a static
# binary, unpacked once under .build.
RUFF_VERSION=0.17.5
ruff=.build/ruff-$RUFF_VERSION/ruff
if [ ! -x "$ruff" ]; then
  wheels=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --only-binary=:all: --disable-pip-version-check \
    "ruff==$RUFF_VERSION" -d "$wheels"
  mkdir -p "$(dirname "$ruff")"
  python3 - "$wheels"/ruff-*.whl "$ruff" <<'PY'
import sys, zipfile
wheel = zipfile.ZipFile(sys.argv[1])
binary = next(name for name in wheel.namelist() if name.endswith("/scripts/ruff"))
open(sys.argv[2], "wb").write(wheel.read(binary))
PY
  chmod +x "$ruff" && rm -rf "$wheels"
fi
"$ruff" check --quiet tools && "$ruff" format --check --quiet tools
mkdir -p .build && log=.build/test-build.log
swift build --build-tests 2>&1 | tee "$log"
# Warnings in our own code fail the run (dependencies' warnings are theirs).
if grep -E "^($PWD/(Sources|Tests)/.*|macro expansion .*): warning:" "$log"; then
  echo "error: the build has warnings in project code (above)" >&2
  exit 1
fi
# Tests write scratch databases, models and curricula to the temporary directory; give them one
# that each run empties, so repeated runs do not pile up in /tmp.
export TMPDIR="$PWD/.build/test-tmp"
rm -rf "$TMPDIR" && mkdir -p "$TMPDIR"
# A throwaway PostgreSQL cluster on a free loopback port, stopped however the run ends; each test
# makes a database of its own in it.
tools/postgres.sh stop .build/pg-test 2>/dev/null || true
rm -rf .build/pg-test
TUTOR_TEST_POSTGRES_URL=$(tools/postgres.sh start .build/pg-test)
export TUTOR_TEST_POSTGRES_URL
trap 'tools/postgres.sh stop .build/pg-test' EXIT
# The suites that run whole servers as processes (two replicas behind nginx, kill -9 under load)
# run apart, after the rest: alongside them, the timing of the cancellation tests suffers.
swift test --skip-build --skip 'ReplicaTests|CrashSafetyTests|DatabaseCopyTests'
echo "the suites that run servers as processes:"
swift test --skip-build --filter 'ReplicaTests|CrashSafetyTests|DatabaseCopyTests'
# The server's end-to-end suites once more, each server on a PostgreSQL database of its own (the
# suites that reach into SQLite itself, like the full-disk fault test, stay SQLite-only).
echo "again with every test server on PostgreSQL:"
TUTOR_TEST_SERVER_ENGINE=postgres swift test --skip-build --filter \
  'TutorServerTests\.(ServerTests|ServiceTests|AskStreamingTests|ExportRPCTests|AccessTests|LimitsTests|ShutdownTests|MetricsTests|HybridSearchServerTests|FuzzTests|PersonalDataServerTests)'
# The AVX-512 and AVX2 kernels sum in the same order, so they must give the same bits: on a
# machine with AVX-512, the kernel and forward-pass tests run again on the AVX2 kernels.
if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
  echo "again with TUTOR_KERNELS=avx2:"
  TUTOR_KERNELS=avx2 swift test --skip-build \
    --filter 'PackedLinearTests|KVCacheTests|ForwardPassTests|WeightFormatTests|SentenceEncoderTests'
fi
