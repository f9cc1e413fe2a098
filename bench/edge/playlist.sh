#!/usr/bin/env bash
# The playlist of a 3-hour video (1,800 segments, a key every 10) as a
# playback session gets it (the stored bytes with the session's key URIs
# spliced in, after the path token and live-session checks), against nginx
# serving those very bytes as a static file.
#   DURATION=10 bench/edge/playlist.sh
source "$(dirname "$0")/common.sh"
DURATION=${DURATION:-10}
need wrk "apt-get install wrk"

start_sealcast "$WORK/pl"
eval "$(python3 "$HERE/edge_bench.py" playback "$WORK/pl" 1800)"
mkdir -p "$WORK/pl-static"
curl -sf -o "$WORK/pl-static/index.m3u8" "$SEALCAST_URL$PLAYLIST_URL"
served=$(cat "$WORK/pl-static/index.m3u8")
[ "$(grep -c '^seg_' <<<"$served")" = 1800 ] || { echo "the playlist lacks 1800 segments" >&2; exit 1; }
[ "$(grep -c 'URI="/keys/' <<<"$served")" = 1800 ] || { echo "the playlist lacks signed keys" >&2; exit 1; }
start_nginx "$WORK/pl-static"
cmp -s <(curl -sf "$NGINX_URL/index.m3u8") "$WORK/pl-static/index.m3u8" || { echo "nginx does not serve the same bytes" >&2; exit 1; }

run_wrk() { wrk -t2 -c64 -d"${DURATION}s" --latency "$1" 2>&1; }
rps() { awk '/Requests\/sec/ { print $2 }' <<<"$1"; }
p99() { awk '$1 == "99%" { print $2 }' <<<"$1"; }
s_rps=(); n_rps=(); s_p99=(); n_p99=()
for round in $(seq "$ROUNDS"); do
    for side in s n; do
        if [ $(( round % 2 )) = 0 ]; then side=$([ "$side" = s ] && echo n || echo s); fi
        if [ "$side" = s ]; then out=$(run_wrk "$SEALCAST_URL$PLAYLIST_URL"); s_rps+=("$(rps "$out")"); s_p99+=("$(p99 "$out")")
        else out=$(run_wrk "$NGINX_URL/index.m3u8"); n_rps+=("$(rps "$out")"); n_p99+=("$(p99 "$out")"); fi
    done
done
s_med=$(median "${s_rps[@]}"); n_med=$(median "${n_rps[@]}")
echo "playlist: 1800 segments ($PLAYLIST_BYTES bytes stored, $(wc -c <"$WORK/pl-static/index.m3u8") bytes served), wrk -t2 -c64 -d${DURATION}s, $ROUNDS alternating rounds"
printf '  %-28s %10s req/s  p99 %s\n' "sealcast (session's copy)" "$s_med" "${s_p99[*]}"
printf '  %-28s %10s req/s  p99 %s\n' "nginx (same bytes, static)" "$n_med" "${n_p99[*]}"
echo "  ratio sealcast/nginx: $(ratio "$s_med" "$n_med")x  (target >= 0.8)"
record playlist "1,800-segment playlist, per session" "req/s" "$s_med" "nginx, same bytes static" "$n_med" higher 0.8
