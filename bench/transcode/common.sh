# Shared helpers for the transcode benchmarks (sourced, not run).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
BIN=${SEALCAST_BIN:-target/release/sealcast}
WORK=${WORK:-/tmp/sealcast-bench}
mkdir -p "$WORK"
source "$ROOT/bench/results.sh"

need() { command -v "$1" >/dev/null || { echo "bench needs $1 on PATH" >&2; exit 1; }; }
need ffmpeg

# now: seconds since epoch with nanoseconds.
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

# 60 s 1080p30 H.264 (yuv420p, High) + AAC stereo source, generated once.
source_1080p() {
    local src="$WORK/src_1080p30_60s.mp4"
    if [ ! -s "$src" ]; then
        echo "generating $src ..." >&2
        ffmpeg -y -v error -f lavfi -i testsrc2=size=1920x1080:rate=30 \
            -f lavfi -i sine=frequency=440:sample_rate=48000 -t 60 \
            -c:v libx264 -preset veryfast -b:v 8M -g 60 -pix_fmt yuv420p \
            -c:a aac -b:a 128k -ac 2 -movflags +faststart "$src"
    fi
    echo "$src"
}

check_bin() {
    if [ ! -x "$BIN" ]; then
        echo "sealcast binary not found at $BIN (build it with cargo build --release," >&2
        echo "or set SEALCAST_BIN, e.g. to the transcoder's transcode_cli example)" >&2
        exit 1
    fi
}

# timed NAME CMD...: run CMD (a command or shell function; its own output
# is discarded unless it redirects it), set NAME_wall and NAME_cpu
# (user+sys seconds, children included) with bash's `time`.
timed() {
    local name=$1; shift
    local TIMEFORMAT='%R %U %S' t w u s
    t=$( { time "$@" >/dev/null 2>&1; } 2>&1 ) || { echo "$* failed" >&2; exit 1; }
    read -r w u s <<< "$t"
    printf -v "${name}_wall" '%s' "$w"
    printf -v "${name}_cpu" '%s' "$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')"
}

# median N...: the middle value (the mean of the two middle ones).
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
