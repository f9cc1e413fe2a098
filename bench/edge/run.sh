#!/usr/bin/env bash
# All edge benchmarks, one after the other (release build first:
# cargo build --release --bin sealcast).
set -euo pipefail
cd "$(dirname "$0")"
./uploads.sh
./segments.sh
./segments_front.sh
./playlist.sh
