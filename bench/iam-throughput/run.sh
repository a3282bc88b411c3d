#!/usr/bin/env bash
# GetCallerIdentity and SimulatePrincipalPolicy with 64 concurrent signed clients on
# loopback: sesame serve (release build) side by side with moto's server, same load
# generator (loadgen/, Rust, SigV4 via the workspace's sigv4 crate), then sesame's
# idle resident memory.
#
#   bench/iam-throughput/run.sh            DURATION=10 WARMUP=2 CONCURRENCY=64 CLIENT_THREADS=1
#
# Honours CARGO_TARGET_DIR. Needs python3 with pip (installs moto[server] and boto3).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"

echo "building sesame (release) ..." >&2
cargo build --release --locked -p sesame --manifest-path "$ROOT/Cargo.toml" >&2
echo "building the load generator (release) ..." >&2
CARGO_TARGET_DIR="$TARGET/iam-loadgen" \
    cargo build --release --locked --manifest-path "$HERE/loadgen/Cargo.toml" >&2

python3 -m pip install --quiet --disable-pip-version-check -r "$HERE/requirements.txt" >&2

exec python3 "$HERE/compare.py" \
    --sesame "$TARGET/release/sesame" \
    --loadgen "$TARGET/iam-loadgen/release/iam-loadgen" \
    --duration "${DURATION:-10}" --warmup "${WARMUP:-2}" \
    --concurrency "${CONCURRENCY:-64}" --client-threads "${CLIENT_THREADS:-1}"
