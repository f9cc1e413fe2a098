#!/usr/bin/env bash
# Generates the secrets of a scaled-out sealcast (deploy/compose.yaml and
# deploy/k8s/) with openssl alone, so nothing has to be built first:
#   secrets/url-signing.key    URL-signing secret, base64 of 32 random bytes   (edges, key server)
#   secrets/signing.pem        token signing key, Ed25519 PKCS#8 PEM           (edges, key server)
#   secrets/master.key         custody master key, base64 X25519 secret        (key server ONLY)
#   secrets/master.pub         its public half, base64; not secret             (edges, workers)
#   secrets/s3-credentials     sealcast's S3 key as an AWS shared-credentials file (every node)
#   secrets/garage-rpc.secret  Garage's RPC secret, 32 random bytes as hex     (Garage)
#   .env                       POSTGRES_PASSWORD, read by `docker compose` for ${…}
#
# Usage: deploy/make-secrets.sh [OUT_DIR]    (default: the folder of this script)
#
# An existing file is kept, so a second run only fills in what is missing: a
# new master key would orphan every stored content key (rotate it with
# `sealcast admin rotate-master-key`). master.pub is derived from master.key
# the way the key server derives it (X25519), so edges and workers can be
# given it before any key server has started; a key server started on the
# same master.key writes the same text to <data dir>/secrets/master.pub.
#
# Secret files are mode 0600 (sealcast and Garage refuse a secret file that
# group or others can read). Compose mounts secret files with their host
# owner, and the sealcast containers run as uid 10001, so when this script
# runs as root it hands the files sealcast reads to SECRETS_OWNER (default
# 10001:10001); otherwise it says what to chown.
set -euo pipefail

out_dir="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
owner="${SECRETS_OWNER:-10001:10001}"
secrets="$out_dir/secrets"
umask 077
mkdir -p "$secrets"
chmod 0700 "$secrets"

command -v openssl >/dev/null || { echo "make-secrets: openssl is needed (apt-get install openssl)" >&2; exit 1; }

# Writes stdin to $1 with mode $2, atomically (never a half-written secret).
write_file() {
  local tmp
  tmp="$(mktemp "$1.XXXXXX")"
  cat >"$tmp"
  chmod "$2" "$tmp"
  mv -f "$tmp" "$1"
}

# Runs the generator "$2…" into $1 (mode 0600) unless $1 already exists.
generate() {
  local path="$1"
  shift
  if [[ -e "$path" ]]; then
    echo "make-secrets: keeping $path"
  else
    "$@" | write_file "$path" 0600
    echo "make-secrets: wrote $path"
  fi
}

url_signing_secret() { openssl rand -base64 32; }
signing_key() { openssl genpkey -algorithm ed25519; }
master_key() { openssl rand 32 | base64; }
s3_credentials() {
  # Garage's key format: "GK" and 24 hex digits, a secret of 64 hex digits.
  printf '[default]\naws_access_key_id = GK%s\naws_secret_access_key = %s\n' \
    "$(openssl rand -hex 12)" "$(openssl rand -hex 32)"
}
garage_rpc_secret() { openssl rand -hex 32; }
compose_env() { printf 'POSTGRES_PASSWORD=%s\n' "$(openssl rand -hex 24)"; }

# The X25519 public key of the base64 secret in $1, base64: the 32 raw bytes
# are wrapped in the fixed PKCS#8 header of an X25519 key (RFC 8410) so
# openssl can derive the public half, the last 32 bytes of its SPKI.
master_public_of() {
  local raw_len
  raw_len="$(base64 -d "$1" | wc -c)"
  if [[ "$raw_len" -ne 32 ]]; then
    echo "make-secrets: $1 is not base64 of 32 bytes" >&2
    exit 1
  fi
  { printf '\060\056\002\001\000\060\005\006\003\053\145\156\004\042\004\040'; base64 -d "$1"; } |
    openssl pkey -inform DER -pubout -outform DER | tail -c 32 | base64
}

generate "$secrets/url-signing.key" url_signing_secret
generate "$secrets/signing.pem" signing_key
generate "$secrets/master.key" master_key
generate "$secrets/s3-credentials" s3_credentials
generate "$secrets/garage-rpc.secret" garage_rpc_secret
generate "$out_dir/.env" compose_env

public="$(master_public_of "$secrets/master.key")"
if [[ "$(cat "$secrets/master.pub" 2>/dev/null)" != "$public" ]]; then
  printf '%s\n' "$public" | write_file "$secrets/master.pub" 0644
  echo "make-secrets: wrote $secrets/master.pub"
fi

# What the sealcast containers (uid 10001) read; Garage and PostgreSQL run as
# root in their images and read theirs whoever owns them.
sealcast_reads=(url-signing.key signing.pem master.key master.pub s3-credentials)
if [[ "$(id -u)" -eq 0 ]]; then
  for name in "${sealcast_reads[@]}"; do chown "$owner" "$secrets/$name"; done
  echo "make-secrets: handed ${sealcast_reads[*]} to $owner"
  # Under sudo, the folder and .env go back to the caller, whose
  # `docker compose` reads .env and finds the secret files by their path.
  if [[ -n "${SUDO_UID:-}" ]]; then
    chown "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "$secrets" "$out_dir/.env"
  fi
else
  echo "make-secrets: not root, so the files are yours; for compose, whose sealcast containers run as" >&2
  echo "  uid 10001, run: sudo chown $owner ${sealcast_reads[*]/#/$secrets/}" >&2
fi
