#!/usr/bin/env bash
# Regenerates Sources/GospyOutput/Pprof/profile.pb.swift from profile.proto beside it.
# The generated file is committed: the build never needs protoc, and gospy does not use
# swift-protobuf's build plugin (it makes a clean build several minutes longer).
#
# Steps (what this script does):
#   1. protoc from Debian's protobuf-compiler (installed with apt-get if missing);
#   2. protoc-gen-swift built from swift-protobuf at the version Package.swift depends on
#      (SWIFT_PROTOBUF_VERSION, default 1.39.0), cloned from github.com/apple/swift-protobuf
#      into $GOSPY_CACHE/swift-protobuf-VERSION and built once in release mode (~2 minutes);
#   3. protoc --swift_out with the default options (internal types, one file per proto).
# The generator version must match the runtime library's: SwiftProtobuf checks it at compile time.
#
# Usage: scripts/gen-pprof-proto.sh
# Environment:
#   SWIFT_PROTOBUF_VERSION  swift-protobuf tag (default 1.39.0)
#   GOSPY_CACHE             where the generator is built (default ~/.cache/gospy)
#   PROTOC_GEN_SWIFT        use this protoc-gen-swift instead of building one
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

version="${SWIFT_PROTOBUF_VERSION:-1.39.0}"
cache="${GOSPY_CACHE:-$HOME/.cache/gospy}"
dir="Sources/GospyOutput/Pprof"

if ! command -v protoc >/dev/null; then
  echo "gen-pprof-proto: apt-get install protobuf-compiler" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq protobuf-compiler >/dev/null
fi

plugin="${PROTOC_GEN_SWIFT:-}"
if [ -z "$plugin" ]; then
  src="$cache/swift-protobuf-$version"
  plugin="$src/.build/release/protoc-gen-swift"
  if [ ! -x "$plugin" ]; then
    rm -rf "$src"
    git -c advice.detachedHead=false clone -q --branch "$version" https://github.com/apple/swift-protobuf "$src"
    echo "gen-pprof-proto: building protoc-gen-swift $version" >&2
    swift build --package-path "$src" -c release --product protoc-gen-swift >&2
  fi
fi
got="$("$plugin" --version)"
[ "$got" = "protoc-gen-swift $version" ] || { echo "gen-pprof-proto: $plugin is $got, want $version" >&2; exit 1; }

echo "gen-pprof-proto: $(protoc --version), $got" >&2
protoc --plugin=protoc-gen-swift="$plugin" --proto_path="$dir" --swift_out="$dir" "$dir/profile.proto"
echo "gen-pprof-proto: wrote $dir/profile.pb.swift" >&2
