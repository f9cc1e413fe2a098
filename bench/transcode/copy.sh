#!/usr/bin/env bash
# Realtime factor of the copy path: a 60 s 1080p H.264/AAC source whose top
# rung (1080p) is re-muxed, with 720p/360p encoded and aligned to it.
#   SEALCAST_BIN=... bench/transcode/copy.sh
source "$(dirname "$0")/common.sh"
check_bin
SRC=$(source_1080p)
run_copy() {
    rm -rf "$WORK/copy"
    "$BIN" transcode "$SRC" "$WORK/copy" --rungs "$1" --preset veryfast \
        --segment-seconds 6 --copy-top 2>"$WORK/copy.log"
    grep -q "copied=true\|(copied)" "$WORK/copy.log" || { echo "top rung was NOT copied" >&2; cat "$WORK/copy.log" >&2; exit 1; }
}
for rungs in 1080 1080,720,360; do
    timed C run_copy "$rungs"
    echo "rungs $rungs (1080p copied): wall ${C_wall}s cpu ${C_cpu}s for 60 s of video," \
        "realtime factor $(awk -v s="$C_wall" 'BEGIN { printf "%.2fx", 60 / s }')" \
        "(load $(cut -d' ' -f1 /proc/loadavg))"
done
