#!/usr/bin/env bash
# Installs what sealcast needs on Debian 12, skipping what is already there.
#   scripts/setup.sh          build and run: FFmpeg libraries, clang, pkg-config
#   scripts/setup.sh --test   also what the tests use: the ffmpeg CLI, Garage (S3)
set -euo pipefail

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

packages=(libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev
          libavfilter-dev libavdevice-dev clang libclang-dev pkg-config)
if (( want_test )); then
  packages+=(ffmpeg postgresql)
  # Node runs the real tus client in the upload tests; Debian's is enough.
  command -v npm >/dev/null || packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} )); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if (( want_test )); then
  garage_bin="$(command -v garage || true)"
  [[ -z "$garage_bin" && -x "$HOME/.cargo/bin/garage" ]] && garage_bin="$HOME/.cargo/bin/garage"
  if [[ -z "$garage_bin" ]] || ! "$garage_bin" --version 2>/dev/null | grep -q "2.5.0"; then
    echo "setup: installing Garage 2.5.0 for the S3 tests (about 12 minutes, once)"
    cargo install garage --locked --version 2.5.0 --quiet
  fi
fi
if (( want_test )); then
  # The real tus client (tus-js-client) the upload tests drive, pinned by the lock file.
  (cd "$(dirname "$0")/../tests/node" && npm ci --no-audit --no-fund --silent)
fi
echo "setup: ready"
