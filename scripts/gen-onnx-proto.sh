#!/usr/bin/env bash
# Regenerates Sources/ONNXProto/onnx-subset.pb.swift from Protos/onnx-subset.proto (docs/onnx.md).
# The generated file is committed, so a normal build needs neither protoc nor the plugin.
#   scripts/gen-onnx-proto.sh                      # builds protoc-gen-swift in a scratch dir first
#   PROTOC_GEN_SWIFT=/path/to/protoc-gen-swift scripts/gen-onnx-proto.sh
# Needs protoc (Debian: protobuf-compiler). The plugin is built from swift-protobuf at the version
# Package.swift names (SWIFT_PROTOBUF_GIT overrides where it is cloned from); the build takes minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
version=1.39.0
command -v protoc >/dev/null || { echo "protoc not found (apt-get install protobuf-compiler)" >&2; exit 2; }
plugin=${PROTOC_GEN_SWIFT:-}
if [ -z "$plugin" ]; then
    scratch=${TMPDIR:-/tmp}/modelsmith-swift-protobuf-$version
    if [ ! -x "$scratch/.build/release/protoc-gen-swift" ]; then
        rm -rf "$scratch"
        git clone -q "${SWIFT_PROTOBUF_GIT:-https://github.com/apple/swift-protobuf.git}" "$scratch"
        git -C "$scratch" checkout -q "$version"
        swift build -c release --package-path "$scratch" --product protoc-gen-swift >&2
    fi
    plugin=$scratch/.build/release/protoc-gen-swift
fi
protoc --plugin=protoc-gen-swift="$plugin" --proto_path=Protos \
    --swift_opt=Visibility=Public --swift_out=Sources/ONNXProto onnx-subset.proto
echo "wrote Sources/ONNXProto/onnx-subset.pb.swift"
