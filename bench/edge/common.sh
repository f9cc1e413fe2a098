# Shared helpers for the edge benchmarks (sourced, not run).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=${SEALCAST_BIN:-$ROOT/target/release/sealcast}
WORK=${WORK:-/tmp/sealcast-bench-edge}
mkdir -p "$WORK"
source "$HERE/../results.sh"

need() { command -v "$1" >/dev/null || { echo "bench needs $1 on PATH ($2)" >&2; exit 1; }; }
need curl "apt-get install curl"
need python3 "with the cryptography module"
need sqlite3 "apt-get install sqlite3"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }'; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

[ -x "$BIN" ] || { echo "no sealcast binary at $BIN: cargo build --release --bin sealcast" >&2; exit 1; }

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# start_sealcast DATA_DIR [flags...]: starts the server, sets SEALCAST_URL and SEALCAST_PID.
start_sealcast() {
    local data=$1; shift
    rm -rf "$data"; mkdir -p "$data"
    local port; port=$(free_port)
    "$BIN" serve --listen "127.0.0.1:$port" --data-dir "$data" --workers 0 "$@" \
        >"$data.out" 2>"$data.log" &
    SEALCAST_PID=$!
    PIDS+=("$SEALCAST_PID")
    SEALCAST_URL="http://127.0.0.1:$port"
    for _ in $(seq 100); do
        curl -sf "$SEALCAST_URL/healthz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "sealcast did not start; see $data.log" >&2; exit 1
}

# peak_rss_mb PID: the process's peak resident set (VmHWM), in MB.
peak_rss_mb() { awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

# median N...: the middle value (the mean of the two middle ones).
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# The machine is shared; each script alternates its two sides ROUNDS times
# and compares medians, so a burst of load elsewhere hits both sides.
ROUNDS=${ROUNDS:-3}

run_wrk() { wrk -t2 -c64 -d"${DURATION}s" --latency "$1" 2>&1; }
rps() { awk '/Requests\/sec/ { print $2 }' <<<"$1"; }
p99() { awk '$1 == "99%" { print $2 }' <<<"$1"; }

# wrk_rounds URL_S URL_N: ROUNDS rounds of wrk (64 connections, DURATION s)
# against each URL, the order swapped every other round; sets S_RPS, N_RPS
# (req/s) and S_P99, N_P99 (each round's p99).
wrk_rounds() {
    S_RPS=(); N_RPS=(); S_P99=(); N_P99=()
    local round side out
    for round in $(seq "$ROUNDS"); do
        for side in s n; do
            if [ $(( round % 2 )) = 0 ]; then side=$([ "$side" = s ] && echo n || echo s); fi
            if [ "$side" = s ]; then out=$(run_wrk "$1"); S_RPS+=("$(rps "$out")"); S_P99+=("$(p99 "$out")")
            else out=$(run_wrk "$2"); N_RPS+=("$(rps "$out")"); N_P99+=("$(p99 "$out")"); fi
        done
    done
}

# start_nginx ROOT: nginx serving ROOT statically (sendfile), as a CDN edge
# or any static server would; sets NGINX_URL.
start_nginx() {
    local root=$1 nginx port
    nginx=$(command -v nginx || echo /usr/sbin/nginx)
    [ -x "$nginx" ] || { echo "bench needs nginx (apt-get install nginx-light)" >&2; exit 1; }
    port=$(free_port)
    mkdir -p "$WORK/nginx"
    # sealcast keeps its data dir private (0700), so nginx's workers run as
    # the user who owns it, not as nginx's default unprivileged user.
    cat > "$WORK/nginx/nginx.conf" <<CONF
user $(id -un);
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 1024; }
http {
    access_log '$WORK/nginx/access.log';
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    types { video/mp2t ts; application/vnd.apple.mpegurl m3u8; }
    server {
        listen 127.0.0.1:$port;
        root $root;
    }
}
CONF
    "$nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
    PIDS+=($!)
    NGINX_URL="http://127.0.0.1:$port"
    for _ in $(seq 100); do
        curl -s -o /dev/null "$NGINX_URL/" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nginx did not start; see $WORK/nginx/error.log" >&2; exit 1
}
