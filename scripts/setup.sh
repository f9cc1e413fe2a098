#!/usr/bin/env bash
# Installs what sealcast needs on Debian 12, skipping what is already there.
#   scripts/setup.sh          build and run: FFmpeg libraries, clang, pkg-config
#   scripts/setup.sh --test   also what the tests use: the ffmpeg CLI, Garage (S3),
#                             Debian's chromium for the browser tests
# Both also install the web app's npm packages (player-demo/) with `npm ci`.
set -euo pipefail

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

packages=(libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev
          libavfilter-dev libavdevice-dev clang libclang-dev pkg-config)
if (( want_test )); then
  packages+=(ffmpeg postgresql chromium)
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
# The web app is built with the machine's Node.js (Vite 8 needs 20.19 or newer).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "setup: installing nodejs and npm"
  sudo_cmd=""
  [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  echo "setup: Node.js $(node --version) is too old for the web app (needs 20.19 or newer)" >&2
  exit 1
fi
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ ! "$repo_root/player-demo/node_modules/.package-lock.json" -nt "$repo_root/player-demo/package-lock.json" ]]; then
  echo "setup: installing the web app's npm packages"
  (cd "$repo_root/player-demo" && npm ci --no-audit --no-fund --loglevel=error)
fi
if (( want_test )); then
  # The real tus client (tus-js-client) the upload tests drive, pinned by the lock file.
  (cd "$(dirname "$0")/../tests/node" && npm ci --no-audit --no-fund --silent)
fi
echo "setup: ready"
