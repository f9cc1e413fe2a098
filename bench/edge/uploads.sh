#!/usr/bin/env bash
# 50 concurrent 100 MB tus uploads (POST + one streamed PATCH each, by curl)
# into sealcast (local disk) and into the @tus/server reference (FileStore,
# same disk). Prints total throughput of both, the ratio, and peak RSS.
#   COUNT=50 SIZE_MB=100 bench/edge/uploads.sh
source "$(dirname "$0")/common.sh"
COUNT=${COUNT:-50}
SIZE_MB=${SIZE_MB:-100}
need node "Node.js 20"
[ -d "$HERE/node_modules/@tus/server" ] || (cd "$HERE" && npm ci --no-audit --no-fund --silent)

# A real video (sealcast probes every upload at its last byte).
FILE="$WORK/upload-${SIZE_MB}mb.mp4"
if [ ! -s "$FILE" ]; then
    secs=10
    rate=$(( SIZE_MB * 1000000 * 8 / secs ))
    ffmpeg -v error -y -f lavfi -i testsrc2=size=640x360:rate=25 -t "$secs" \
        -c:v libx264 -preset ultrafast -b:v "$rate" -minrate "$rate" -maxrate "$rate" \
        -bufsize "$((rate / 2))" -x264-params nal-hrd=cbr:filler=1 "$FILE"
fi
SIZE=$(stat -c %s "$FILE")

# upload_all BASE CREATE_PATH AUTH_HEADER METADATA: COUNT uploads at once; prints seconds.
upload_all() {
    local base=$1 create=$2 auth=$3 meta=$4
    local start end failed=0 uploads=()
    start=$(date +%s.%N)
    for i in $(seq "$COUNT"); do
        (
            loc=$(curl -sS -o /dev/null -D - -X POST "$base$create" -H "$auth" \
                -H "Tus-Resumable: 1.0.0" -H "Upload-Length: $SIZE" -H "Upload-Metadata: $meta" \
                | awk 'tolower($1) == "location:" { print $2 }' | tr -d '\r')
            [[ "$loc" == http* ]] || loc="$base$loc"
            code=$(curl -sS -o /dev/null -w '%{http_code}' -X PATCH "$loc" -H "$auth" -H "Expect:" \
                -H "Tus-Resumable: 1.0.0" -H "Upload-Offset: 0" \
                -H "Content-Type: application/offset+octet-stream" -T "$FILE")
            [ "$code" = 204 ] || { echo "upload $i: PATCH answered $code" >&2; exit 1; }
        ) &
        uploads+=($!)
    done
    for job in "${uploads[@]}"; do wait "$job" || failed=$((failed + 1)); done
    end=$(date +%s.%N)
    [ "$failed" = 0 ] || { echo "$failed uploads failed" >&2; exit 1; }
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }'
}

# sealcast
start_sealcast "$WORK/sealcast"
read -r user course < <(python3 "$HERE/edge_bench.py" creator "$WORK/sealcast")
token=$(python3 "$HERE/edge_bench.py" token "$WORK/sealcast" "$user" creator)
meta="course_id $(printf %s "$course" | base64 -w0),filename $(printf bench.mp4 | base64 -w0)"
s_secs=$(upload_all "$SEALCAST_URL" /api/v1/uploads "Authorization: Bearer $token" "$meta")
s_rss=$(peak_rss_mb "$SEALCAST_PID")
stored=$(find "$WORK/sealcast/objects/objects/uploads" -name source | wc -l)
[ "$stored" = "$COUNT" ] || { echo "sealcast stored $stored of $COUNT uploads" >&2; exit 1; }
kill "$SEALCAST_PID"; wait "$SEALCAST_PID" 2>/dev/null || true
rm -rf "$WORK/sealcast"

# @tus/server reference
port=$(free_port)
rm -rf "$WORK/tus-ref"; mkdir -p "$WORK/tus-ref"
node "$HERE/tus-reference.mjs" "$port" "$WORK/tus-ref" > "$WORK/tus-ref.log" 2>&1 &
TUS_PID=$!; PIDS+=("$TUS_PID")
for _ in $(seq 100); do grep -q listening "$WORK/tus-ref.log" && break; sleep 0.1; done
t_secs=$(upload_all "http://127.0.0.1:$port" /files "X-Bench: 1" "filename $(printf bench.mp4 | base64 -w0)")
t_rss=$(peak_rss_mb "$TUS_PID")
kill "$TUS_PID"; wait "$TUS_PID" 2>/dev/null || true
rm -rf "$WORK/tus-ref"

total_mb=$(awk -v n="$COUNT" -v s="$SIZE" 'BEGIN { printf "%.0f", n * s / 1e6 }')
s_tp=$(awk -v m="$total_mb" -v t="$s_secs" 'BEGIN { printf "%.0f", m / t }')
t_tp=$(awk -v m="$total_mb" -v t="$t_secs" 'BEGIN { printf "%.0f", m / t }')
echo "uploads: $COUNT x $((SIZE / 1000000)) MB concurrent, one PATCH each"
printf '  %-22s %8s s %8s MB/s  peak RSS %5s MB\n' sealcast "$s_secs" "$s_tp" "$s_rss"
printf '  %-22s %8s s %8s MB/s  peak RSS %5s MB\n' "@tus/server (node)" "$t_secs" "$t_tp" "$t_rss"
echo "  throughput ratio sealcast/@tus/server: $(ratio "$s_tp" "$t_tp")x  (target >= 1.1; sealcast RSS target <= 128 MB)"
record uploads "$COUNT x $((SIZE / 1000000)) MB tus uploads, one PATCH each" "MB/s" "$s_tp" "@tus/server" "$t_tp" higher 1.1
