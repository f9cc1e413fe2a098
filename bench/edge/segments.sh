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

run_wrk() { wrk -t2 -c64 -d"${DURATION}s" --latency "$1" 2>&1; }
rps() { awk '/Requests\/sec/ { print $2 }' <<<"$1"; }
p99() { awk '$1 == "99%" { print $2 }' <<<"$1"; }
s_rps=(); n_rps=(); s_p99=(); n_p99=()
for round in $(seq "$ROUNDS"); do
    for side in s n; do
        if [ $(( round % 2 )) = 0 ]; then side=$([ "$side" = s ] && echo n || echo s); fi
        if [ "$side" = s ]; then out=$(run_wrk "$SEALCAST_URL$SEGMENT_URL"); s_rps+=("$(rps "$out")"); s_p99+=("$(p99 "$out")")
        else out=$(run_wrk "$NGINX_URL$SEGMENT_STATIC"); n_rps+=("$(rps "$out")"); n_p99+=("$(p99 "$out")"); fi
    done
done
s_med=$(median "${s_rps[@]}"); n_med=$(median "${n_rps[@]}")
echo "segments: 1 MiB, wrk -t2 -c64 -d${DURATION}s, $ROUNDS alternating rounds (median req/s; p99 of each round)"
printf '  %-22s %10s req/s  p99 %s\n' "sealcast (signed)" "$s_med" "${s_p99[*]}"
printf '  %-22s %10s req/s  p99 %s\n' "nginx (static)" "$n_med" "${n_p99[*]}"
echo "  ratio sealcast/nginx: $(ratio "$s_med" "$n_med")x  (target >= 0.8)"
echo "  sealcast peak RSS: $(peak_rss_mb "$SEALCAST_PID") MB"
record segments "signed 1 MiB segment, 64 connections" "req/s" "$s_med" "nginx sendfile" "$n_med" higher 0.8
