#!/usr/bin/env bash
# Signed 1 MiB segment serving (signature + live-session check + storage
# read) against nginx serving the same file statically: wrk, 64 connections.
#   DURATION=10 bench/edge/segments.sh
source "$(dirname "$0")/common.sh"
DURATION=${DURATION:-10}
need wrk "apt-get install wrk"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "bench needs nginx (apt-get install nginx-light)" >&2; exit 1; }

start_sealcast "$WORK/seg"
eval "$(python3 "$HERE/edge_bench.py" playback "$WORK/seg" 1800)"

port=$(free_port)
mkdir -p "$WORK/nginx"
cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 1024; }
http {
    access_log '$WORK/nginx/access.log';
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    types { video/mp2t ts; }
    server {
        listen 127.0.0.1:$port;
        root $WORK/seg/objects/objects;
    }
}
CONF
"$NGINX" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
sleep 0.5
curl -sf -o /dev/null "http://127.0.0.1:$port$SEGMENT_STATIC" || { echo "nginx does not serve the segment" >&2; exit 1; }
curl -sf -o /dev/null "$SEALCAST_URL$SEGMENT_URL" || { echo "sealcast does not serve the segment" >&2; exit 1; }

run_wrk() { wrk -t2 -c64 -d"${DURATION}s" --latency "$1" 2>&1; }
rps() { awk '/Requests\/sec/ { print $2 }' <<<"$1"; }
p99() { awk '$1 == "99%" { print $2 }' <<<"$1"; }
s_out=$(run_wrk "$SEALCAST_URL$SEGMENT_URL")
n_out=$(run_wrk "http://127.0.0.1:$port$SEGMENT_STATIC")
echo "segments: 1 MiB, wrk -t2 -c64 -d${DURATION}s"
printf '  %-22s %10s req/s  p99 %8s\n' "sealcast (signed)" "$(rps "$s_out")" "$(p99 "$s_out")"
printf '  %-22s %10s req/s  p99 %8s\n' "nginx (static)" "$(rps "$n_out")" "$(p99 "$n_out")"
echo "  ratio sealcast/nginx: $(ratio "$(rps "$s_out")" "$(rps "$n_out")")x  (target >= 0.8)"
echo "  sealcast peak RSS: $(peak_rss_mb "$SEALCAST_PID") MB"
