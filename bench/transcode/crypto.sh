#!/usr/bin/env bash
# AES-128-CBC segment encryption throughput of the transcoder (its own
# encrypt_segment on 1 MB segments) vs `openssl speed -evp aes-128-cbc`
# (16384-byte column).
source "$(dirname "$0")/common.sh"
need openssl
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target} cargo build --release -q -p sealcast-transcoder --example encrypt_throughput
ours=$("${CARGO_TARGET_DIR:-target}/release/examples/encrypt_throughput" | awk '/MB\/s/ {print $1}')
# openssl prints k-bytes/s (1000 bytes); last column is 16384-byte blocks.
ossl_k=$(openssl speed -evp aes-128-cbc -seconds 3 2>/dev/null | awk '/^AES-128-CBC|^aes-128-cbc/ {print $NF}' | tr -d k)
ossl=$(awk -v k="$ossl_k" 'BEGIN { printf "%.1f", k * 1000 / 1e6 }')
echo "sealcast encrypt_segment: ${ours} MB/s"
echo "openssl aes-128-cbc 16k:  ${ossl} MB/s"
echo "ratio sealcast/openssl: $(ratio "$ours" "$ossl")"
