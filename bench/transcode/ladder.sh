#!/usr/bin/env bash
# Wall time of `sealcast transcode` vs one ffmpeg process doing the same
# 3-rung encrypted HLS ladder (1080/720/360, x264 veryfast, AAC, 6 s
# segments, aligned forced keyframes, AES-128). Target: ratio <= 0.85.
#   SEALCAST_BIN=... WORK=/tmp/x RUNS=1 bench/transcode/ladder.sh
source "$(dirname "$0")/common.sh"
check_bin
RUNS=${RUNS:-3}
SRC=$(source_1080p)

run_sealcast() {
    rm -rf "$WORK/sealcast"
    "$BIN" transcode "$SRC" "$WORK/sealcast" --rungs 1080,720,360 \
        --preset veryfast --segment-seconds 6 >/dev/null 2>"$WORK/sealcast.log"
}

run_ffmpeg() {
    local out="$WORK/ffmpeg"
    rm -rf "$out"; mkdir -p "$out"
    head -c 16 /dev/urandom > "$out/enc.key"
    printf 'enc.key\n%s\n' "$out/enc.key" > "$out/keyinfo"
    # Same work as sealcast: decode once, split, bilinear scale, x264
    # veryfast at the same bitrates / VBV, keyframes forced every 6 s with no
    # scene-cut keyframes, AAC 128k stereo per variant, AES-128 HLS.
    ffmpeg -y -v error -i "$SRC" \
        -filter_complex "[0:v]split=3[a][b][c];[a]scale=1920:1080:flags=bilinear[v0];[b]scale=1280:720:flags=bilinear[v1];[c]scale=640:360:flags=bilinear[v2]" \
        -map "[v0]" -map "[v1]" -map "[v2]" -map 0:a -map 0:a -map 0:a \
        -c:v libx264 -preset veryfast -x264-params scenecut=0:open-gop=0 \
        -force_key_frames "expr:gte(t,n_forced*6)" \
        -b:v:0 5000k -maxrate:v:0 7500k -bufsize:v:0 10000k \
        -b:v:1 2800k -maxrate:v:1 4200k -bufsize:v:1 5600k \
        -b:v:2 800k -maxrate:v:2 1200k -bufsize:v:2 1600k \
        -c:a aac -b:a 128k -ac 2 -ar 48000 \
        -f hls -hls_time 6 -hls_playlist_type vod -hls_key_info_file "$out/keyinfo" \
        -hls_segment_filename "$out/%v/seg_%05d.ts" -master_pl_name master.m3u8 \
        -var_stream_map "v:0,a:0 v:1,a:1 v:2,a:2" "$out/%v/index.m3u8"
}

# The two sides alternate which goes first, and the medians are compared,
# so load elsewhere on the machine hits both alike.
s_wall=(); f_wall=(); s_cpu=(); f_cpu=()
for i in $(seq "$RUNS"); do
    if [ $(( i % 2 )) = 1 ]; then timed S run_sealcast; timed F run_ffmpeg
    else timed F run_ffmpeg; timed S run_sealcast; fi
    echo "run $i: sealcast ${S_wall}s (cpu ${S_cpu}s)  ffmpeg ${F_wall}s (cpu ${F_cpu}s)  load $(cut -d' ' -f1 /proc/loadavg)"
    s_wall+=("$S_wall"); f_wall+=("$F_wall"); s_cpu+=("$S_cpu"); f_cpu+=("$F_cpu")
done
best_s=$(median "${s_wall[@]}"); best_f=$(median "${f_wall[@]}")
cpu_s=$(median "${s_cpu[@]}"); cpu_f=$(median "${f_cpu[@]}")
# Sanity: both outputs play.
ffmpeg -v error -allowed_extensions ALL -i "$WORK/sealcast/master.m3u8" -map 0:p:0 -t 2 -f null - \
    || echo "WARNING: sealcast output did not play" >&2
echo "sealcast wall time: ${best_s}s (cpu ${cpu_s}s), median of $RUNS"
echo "ffmpeg   wall time: ${best_f}s (cpu ${cpu_f}s), median of $RUNS"
echo "ratio sealcast/ffmpeg wall: $(ratio "$best_s" "$best_f") (target <= 0.85)"
echo "ratio sealcast/ffmpeg cpu:  $(ratio "$cpu_s" "$cpu_f") (less sensitive to other load on the machine)"
record ladder "3-rung encrypted ladder, wall time" "s" "$best_s" "ffmpeg CLI, one process" "$best_f" lower 0.85
