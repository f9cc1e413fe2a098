#!/usr/bin/env bash
# Signed 1 MiB segment serving (signature + live-session check + storage
# read) against nginx serving the same file statically: wrk, 64 connections.
#   DURATION=10 bench/edge/segments.sh
source "$(dirname "$0")/common.sh"
DURATION=${DURATION:-10}
need wrk "apt-get install wrk"
start_sealcast "$WORK/seg"
eval "$(python3 "$HERE/edge_bench.py" playback "$WORK/seg" 1800)"

start_nginx "$WORK/seg/objects/objects"
curl -sf -o /dev/null "$NGINX_URL$SEGMENT_STATIC" || { echo "nginx does not serve the segment" >&2; exit 1; }
curl -sf -o /dev/null "$SEALCAST_URL$SEGMENT_URL" || { echo "sealcast does not serve the segment" >&2; exit 1; }

wrk_rounds "$SEALCAST_URL$SEGMENT_URL" "$NGINX_URL$SEGMENT_STATIC"
s_med=$(median "${S_RPS[@]}"); n_med=$(median "${N_RPS[@]}")
echo "segments: 1 MiB, wrk -t2 -c64 -d${DURATION}s, $ROUNDS alternating rounds (median req/s; p99 of each round)"
printf '  %-22s %10s req/s  p99 %s\n' "sealcast (signed)" "$s_med" "${S_P99[*]}"
printf '  %-22s %10s req/s  p99 %s\n' "nginx (static)" "$n_med" "${N_P99[*]}"
echo "  ratio sealcast/nginx: $(ratio "$s_med" "$n_med")x  (target >= 0.8)"
echo "  sealcast peak RSS: $(peak_rss_mb "$SEALCAST_PID") MB"
record segments "signed 1 MiB segment, 64 connections" "req/s" "$s_med" "nginx sendfile" "$n_med" higher 0.8
