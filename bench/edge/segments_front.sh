#!/usr/bin/env bash
# Signed 1 MiB segments through the shipped nginx front
# (deploy/nginx/sealcast.conf, its three CHANGE lines filled in): sealcast
# checks the path token and the live session on every request and answers
# with X-Accel-Redirect, nginx sends the file. Against nginx serving the same
# file statically: wrk, 64 connections, alternating rounds.
#   DURATION=10 bench/edge/segments_front.sh
source "$(dirname "$0")/common.sh"
DURATION=${DURATION:-10}
need wrk "apt-get install wrk"
start_sealcast "$WORK/front" --segment-redirect-prefix /_sealcast_objects/
eval "$(python3 "$HERE/edge_bench.py" playback "$WORK/front" 1800)"
start_nginx "$WORK/front/objects/objects"

# The front: nginx with the shipped site config, proxying to sealcast.
front_port=$(free_port)
mkdir -p "$WORK/front-nginx"
sed -e "s|server 127.0.0.1:8080;|server ${SEALCAST_URL#http://};|" \
    -e "s|listen 80;|listen 127.0.0.1:$front_port;|" \
    -e "s|alias /var/lib/sealcast/objects/objects/;|alias $WORK/front/objects/objects/;|" \
    "$ROOT/deploy/nginx/sealcast.conf" > "$WORK/front-nginx/sealcast.conf"
[ "$(grep -c "$WORK/front/objects/objects/\|127.0.0.1:$front_port\|${SEALCAST_URL#http://}" "$WORK/front-nginx/sealcast.conf")" = 3 ] \
    || { echo "deploy/nginx/sealcast.conf no longer has its three CHANGE lines" >&2; exit 1; }
d="$WORK/front-nginx"
cat > "$d/nginx.conf" <<CONF
user $(id -un);
worker_processes auto;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 100000;
    client_body_temp_path $d/body;
    proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fastcgi;
    uwsgi_temp_path $d/uwsgi;
    scgi_temp_path $d/scgi;
    include $d/sealcast.conf;
}
CONF
"$(command -v nginx || echo /usr/sbin/nginx)" -p "$d" -c "$d/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
FRONT_URL="http://127.0.0.1:$front_port"
for _ in $(seq 100); do curl -s -o /dev/null "$FRONT_URL/healthz" 2>/dev/null && break; sleep 0.1; done

cmp -s <(curl -sf "$FRONT_URL$SEGMENT_URL") <(curl -sf "$NGINX_URL$SEGMENT_STATIC") \
    || { echo "the front does not send the stored segment" >&2; exit 1; }
token=$(cut -d/ -f4 <<<"$SEGMENT_URL")
forged=${SEGMENT_URL/$token/${token%?}$([ "${token: -1}" = A ] && echo B || echo A)}
[ "$(curl -s -o /dev/null -w '%{http_code}' "$FRONT_URL$forged")" = 403 ] \
    || { echo "the front sends a segment without a valid signature" >&2; exit 1; }

wrk_rounds "$FRONT_URL$SEGMENT_URL" "$NGINX_URL$SEGMENT_STATIC"
f_med=$(median "${S_RPS[@]}"); n_med=$(median "${N_RPS[@]}")
echo "segments behind the nginx front: 1 MiB, wrk -t2 -c64 -d${DURATION}s, $ROUNDS alternating rounds (median req/s; p99 of each round)"
printf '  %-30s %10s req/s  p99 %s\n' "nginx front + sealcast check" "$f_med" "${S_P99[*]}"
printf '  %-30s %10s req/s  p99 %s\n' "nginx (static)" "$n_med" "${N_P99[*]}"
echo "  ratio front/nginx: $(ratio "$f_med" "$n_med")x  (target >= 0.8)"
echo "  sealcast peak RSS: $(peak_rss_mb "$SEALCAST_PID") MB"
record segments_front "signed 1 MiB segment via the nginx front (X-Accel-Redirect), 64 connections" "req/s" "$f_med" "nginx sendfile" "$n_med" higher 0.8
