#!/bin/sh
# Creates the farm's bucket in MinIO, retrying while the server starts (docker-compose.yml, service "buckets").
# Runs in the MinIO image, whose mc client it uses. Idempotent: an existing bucket is kept.
set -eu

: "${S3_URL:=http://minio:9000}"
: "${S3_BUCKET:=renderfarm}"
: "${S3_ACCESS_KEY:?S3_ACCESS_KEY is required}"
: "${S3_SECRET_KEY:?S3_SECRET_KEY is required}"
: "${ATTEMPTS:=60}"
MC="${MC:-mc}"

attempt=1
until $MC alias set farm "$S3_URL" "$S3_ACCESS_KEY" "$S3_SECRET_KEY" >/dev/null 2>&1 \
  && $MC mb --ignore-existing "farm/$S3_BUCKET" >/dev/null 2>&1; do
  if [ "$attempt" -ge "$ATTEMPTS" ]; then
    echo "create-bucket: $S3_URL did not accept bucket $S3_BUCKET after $ATTEMPTS attempts" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep 2
done
echo "create-bucket: bucket $S3_BUCKET is ready at $S3_URL"
