#!/usr/bin/env bash
# The playlist of a 3-hour video (1,800 segments, a key every 10) as a
# playback session gets it (the same bytes for every session, keys named
# `../{key}.key` under the session's path token, after the token and
# live-session checks), against nginx serving those very bytes as a static file.
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
[ "$(grep -c 'URI="\.\./[0-9a-f]*\.key"' <<<"$served")" = 1800 ] || { echo "the playlist lacks its key URIs" >&2; exit 1; }
start_nginx "$WORK/pl-static"
cmp -s <(curl -sf "$NGINX_URL/index.m3u8") "$WORK/pl-static/index.m3u8" || { echo "nginx does not serve the same bytes" >&2; exit 1; }

wrk_rounds "$SEALCAST_URL$PLAYLIST_URL" "$NGINX_URL/index.m3u8"
s_med=$(median "${S_RPS[@]}"); n_med=$(median "${N_RPS[@]}")
echo "playlist: 1800 segments ($PLAYLIST_BYTES bytes stored, $(wc -c <"$WORK/pl-static/index.m3u8") bytes served), wrk -t2 -c64 -d${DURATION}s, $ROUNDS alternating rounds"
printf '  %-28s %10s req/s  p99 %s\n' "sealcast (session's copy)" "$s_med" "${S_P99[*]}"
printf '  %-28s %10s req/s  p99 %s\n' "nginx (same bytes, static)" "$n_med" "${N_P99[*]}"
echo "  ratio sealcast/nginx: $(ratio "$s_med" "$n_med")x  (target >= 0.8)"
record playlist "1,800-segment playlist, per session" "req/s" "$s_med" "nginx, same bytes static" "$n_med" higher 0.8
