#!/usr/bin/env bash
# Rewriting and signing the playlist of a 3-hour video (1,800 segments, a key
# every 10) per request, against the same server serving the same playlist
# bytes unchanged (through its poster route: signature check + storage read).
#   DURATION=10 bench/edge/playlist.sh
source "$(dirname "$0")/common.sh"
DURATION=${DURATION:-10}
need wrk "apt-get install wrk"

start_sealcast "$WORK/pl"
eval "$(python3 "$HERE/edge_bench.py" playback "$WORK/pl" 1800)"
signed=$(curl -sf "$SEALCAST_URL$PLAYLIST_URL")
[ "$(grep -c '^/hls/' <<<"$signed")" = 1800 ] || { echo "rewritten playlist lacks 1800 signed segments" >&2; exit 1; }
[ "$(grep -c 'URI="/keys/' <<<"$signed")" = 1800 ] || { echo "rewritten playlist lacks signed keys" >&2; exit 1; }

run_wrk() { wrk -t2 -c64 -d"${DURATION}s" --latency "$1" 2>&1; }
rps() { awk '/Requests\/sec/ { print $2 }' <<<"$1"; }
p99() { awk '$1 == "99%" { print $2 }' <<<"$1"; }
s_rps=(); u_rps=(); s_p99=(); u_p99=()
for round in $(seq "$ROUNDS"); do
    for side in s u; do
        if [ $(( round % 2 )) = 0 ]; then side=$([ "$side" = s ] && echo u || echo s); fi
        if [ "$side" = s ]; then out=$(run_wrk "$SEALCAST_URL$PLAYLIST_URL"); s_rps+=("$(rps "$out")"); s_p99+=("$(p99 "$out")")
        else out=$(run_wrk "$SEALCAST_URL$PLAIN_URL"); u_rps+=("$(rps "$out")"); u_p99+=("$(p99 "$out")"); fi
    done
done
s_med=$(median "${s_rps[@]}"); u_med=$(median "${u_rps[@]}")
echo "playlist: 1800 segments ($PLAYLIST_BYTES bytes stored, $(wc -c <<<"$signed") bytes signed), wrk -t2 -c64 -d${DURATION}s, $ROUNDS alternating rounds"
printf '  %-28s %10s req/s  p99 %s\n' "rewritten + signed" "$s_med" "${s_p99[*]}"
printf '  %-28s %10s req/s  p99 %s\n' "same bytes, unchanged" "$u_med" "${u_p99[*]}"
echo "  ratio signed/unchanged: $(ratio "$s_med" "$u_med")x  (target >= 0.8)"
record playlist "1,800-segment playlist, signed per session" "req/s" "$s_med" "same bytes unsigned" "$u_med" higher 0.8
