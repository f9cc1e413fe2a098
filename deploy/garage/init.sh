#!/bin/sh
# One-shot setup of the single Garage node of deploy/compose.yaml: gives the
# node its place in the cluster layout, imports sealcast's S3 key (from the
# same s3-credentials file sealcast reads) and creates the bucket with that
# key allowed to read and write it. Every step is skipped when already done,
# so the service can run on every `docker compose up`.
#
# Environment: GARAGE_CONFIG_FILE and GARAGE_RPC_SECRET_FILE (read by the
# garage CLI itself), S3_CREDENTIALS_FILE, S3_BUCKET, GARAGE_CAPACITY.
set -eu

creds="${S3_CREDENTIALS_FILE:-/run/secrets/s3-credentials}"
bucket="${S3_BUCKET:-sealcast}"
capacity="${GARAGE_CAPACITY:-100G}"

key_id="$(sed -n 's/^aws_access_key_id *= *//p' "$creds")"
secret="$(sed -n 's/^aws_secret_access_key *= *//p' "$creds")"
if [ -z "$key_id" ] || [ -z "$secret" ]; then
  echo "garage-init: $creds holds no aws_access_key_id / aws_secret_access_key" >&2
  exit 1
fi

# The node answers `node id` once it has written its key, and RPC a little
# later: wait for `status` to succeed, for 60 s at most.
tries=0
until garage status >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -ge 60 ]; then
    garage status >&2 || true
    echo "garage-init: Garage did not answer within 60 s" >&2
    exit 1
  fi
  sleep 1
done
node="$(garage node id -q | cut -d@ -f1)"

# A node without a role is listed as such by `status`; assign and apply once.
if garage status | grep -q "NO ROLE ASSIGNED"; then
  garage layout assign -z dc1 -c "$capacity" "$node"
  version="$(garage layout show | sed -n 's/.*Current cluster layout version: *\([0-9][0-9]*\).*/\1/p')"
  garage layout apply --version "$((version + 1))"
  echo "garage-init: layout applied"
fi

if garage key info "$key_id" >/dev/null 2>&1; then
  echo "garage-init: key $key_id exists"
else
  garage key import --yes -n sealcast "$key_id" "$secret" >/dev/null
  echo "garage-init: key $key_id imported"
fi

if garage bucket info "$bucket" >/dev/null 2>&1; then
  echo "garage-init: bucket $bucket exists"
else
  garage bucket create "$bucket"
fi
garage bucket allow --read --write --owner "$bucket" --key "$key_id" >/dev/null
echo "garage-init: bucket $bucket ready for key $key_id"
