#!/usr/bin/env bash
# Installs what sealcast needs on Debian 12, skipping what is already there.
#   scripts/setup.sh          build and run: FFmpeg libraries, clang, pkg-config,
#                             Node.js and npm for the web app
#   scripts/setup.sh --test   also every tool the tests call: the ffmpeg and ffprobe
#                             CLIs, PostgreSQL's server binaries, kill/pgrep/ps
#                             (procps), runuser (util-linux), Debian's chromium for
#                             the browser tests, nginx-light (the nginx front's test),
#                             rustfmt and clippy, Garage (S3)
#   scripts/setup.sh --bench  also what `make bench` runs its peers with: wrk, curl, sqlite3, python3's
#                             cryptography, and @tus/server (bench/edge, `npm ci`)
# Both also install the web app's npm packages (player-demo/) with `npm ci`.
set -euo pipefail

want_test=0 want_bench=0
[[ "${1:-}" == "--test" ]] && want_test=1
[[ "${1:-}" == "--bench" ]] && want_test=1 want_bench=1
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sudo_cmd=""
[[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"

packages=(libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev
          libavfilter-dev libavdevice-dev clang libclang-dev pkg-config)
if (( want_test )); then
  # ffmpeg: the ffmpeg/ffprobe CLIs (test media, checks of the output);
  # postgresql: initdb and pg_ctl for the PostgreSQL tests; procps: kill, pgrep, ps;
  # util-linux: runuser (PostgreSQL refuses to run as root); chromium: browser tests;
  # openssl: the certificate of the TLS tests; python3-venv: a venv for the PyPI
  # `standardwebhooks` package that verifies webhook signatures independently;
  # nginx-light: deploy/nginx/'s front runs in tests/nginx_front.rs (and is
  # bench/edge's static peer).
  packages+=(ffmpeg postgresql procps util-linux chromium openssl python3-venv nginx-light)
fi
(( want_bench )) && packages+=(wrk curl sqlite3 python3-cryptography)
# The web app is built with the machine's Node.js: Debian 12's own (18.20) is enough.
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} )); then
  echo "setup: installing ${missing[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>18||(a===18&&b>=20)?0:1)'; then
  echo "setup: Node.js $(node --version) is too old for the web app (needs 18.20 or newer)" >&2
  exit 1
fi

if (( want_test )); then
  # `make test` runs cargo fmt and cargo clippy; a minimal rustup profile has neither.
  components=()
  cargo fmt --version >/dev/null 2>&1 || components+=(rustfmt)
  cargo clippy --version >/dev/null 2>&1 || components+=(clippy)
  if (( ${#components[@]} )); then
    if ! command -v rustup >/dev/null; then
      echo "setup: the Rust components ${components[*]} are missing and there is no rustup to add them" >&2
      exit 1
    fi
    echo "setup: adding the Rust components ${components[*]}"
    rustup component add "${components[@]}"
  fi
  garage_bin="$(command -v garage || true)"
  [[ -z "$garage_bin" && -x "$HOME/.cargo/bin/garage" ]] && garage_bin="$HOME/.cargo/bin/garage"
  if [[ -z "$garage_bin" ]] || ! "$garage_bin" --version 2>/dev/null | grep -q "2.5.0"; then
    echo "setup: installing Garage 2.5.0 for the S3 tests (about 12 minutes, once)"
    cargo install garage --locked --version 2.5.0 --quiet
  fi
fi

if [[ ! "$repo_root/player-demo/node_modules/.package-lock.json" -nt "$repo_root/player-demo/package-lock.json" ]]; then
  echo "setup: installing the web app's npm packages"
  (cd "$repo_root/player-demo" && npm ci --no-audit --no-fund --loglevel=error)
fi
if (( want_test )); then
  # The real tus client (tus-js-client) the upload tests drive, pinned by the lock file.
  (cd "$repo_root/tests/node" && npm ci --no-audit --no-fund --silent)
fi
if (( want_bench )); then
  # The Node tus reference (@tus/server) bench/edge/uploads.sh compares against.
  (cd "$repo_root/bench/edge" && npm ci --no-audit --no-fund --silent)
fi
echo "setup: ready"
