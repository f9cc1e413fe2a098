#!/usr/bin/env bash
# AES-128-CBC segment encryption throughput of the transcoder (its own
# encrypt_segment on 1 MB segments) vs `openssl speed -evp aes-128-cbc`
# (16384-byte column), ROUNDS rounds alternating which goes first; medians.
source "$(dirname "$0")/common.sh"
need openssl
ROUNDS=${ROUNDS:-3}
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target} cargo build --release -q -p sealcast-transcoder --example encrypt_throughput
run_ours() { "${CARGO_TARGET_DIR:-target}/release/examples/encrypt_throughput" | awk '/MB\/s/ {print $1}'; }
# openssl prints k-bytes/s (1000 bytes); last column is 16384-byte blocks.
run_openssl() {
    local k
    k=$(openssl speed -evp aes-128-cbc -seconds 3 2>/dev/null | awk '/^AES-128-CBC|^aes-128-cbc/ {print $NF}' | tr -d k)
    awk -v k="$k" 'BEGIN { printf "%.1f", k * 1000 / 1e6 }'
}
o=(); s=()
for i in $(seq "$ROUNDS"); do
    if [ $(( i % 2 )) = 1 ]; then o+=("$(run_ours)"); s+=("$(run_openssl)")
    else s+=("$(run_openssl)"); o+=("$(run_ours)"); fi
done
ours=$(median "${o[@]}"); ossl=$(median "${s[@]}")
echo "sealcast encrypt_segment: ${ours} MB/s (rounds: ${o[*]})"
echo "openssl aes-128-cbc 16k:  ${ossl} MB/s (rounds: ${s[*]})"
echo "ratio sealcast/openssl: $(ratio "$ours" "$ossl") (target >= 0.9)"
record crypto "encrypt_segment, AES-128-CBC" "MB/s" "$ours" "openssl speed -evp aes-128-cbc" "$ossl" higher 0.9
