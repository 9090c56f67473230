#!/usr/bin/env bash
# Regenerates Sources/TutorAPI/Generated from protos/ (the output is committed; CI never runs this).
# Needs protoc (Debian: protobuf-compiler) and builds the two plugins from this package's
# dependencies (swift-protobuf, grpc-swift-protobuf) in release.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh protobuf-compiler
swift build -c release --product protoc-gen-swift
swift build -c release --product protoc-gen-grpc-swift-2
bin=$(swift build -c release --show-bin-path)
out=Sources/TutorAPI/Generated
rm -rf "$out"
mkdir -p "$out"
protoc --proto_path=protos \
  --plugin=protoc-gen-swift="$bin/protoc-gen-swift" \
  --swift_opt=Visibility=Public --swift_opt=FileNaming=PathToUnderscores --swift_out="$out" \
  --plugin=protoc-gen-grpc-swift-2="$bin/protoc-gen-grpc-swift-2" \
  --grpc-swift-2_opt=Visibility=Public --grpc-swift-2_opt=FileNaming=PathToUnderscores --grpc-swift-2_out="$out" \
  protos/tutor/v1/*.proto protos/grpc/health/v1/health.proto
echo "generated: $(ls "$out" | wc -l) files in $out"
