#!/usr/bin/env bash
# SES v1 SendEmail throughput, sesame vs moto_server in one run (see compare.py).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
cargo build --release --locked -p sesame --manifest-path "$ROOT/Cargo.toml" >&2
CARGO_TARGET_DIR="$TARGET/iam-loadgen" cargo build --release --locked --manifest-path "$ROOT/bench/iam-throughput/loadgen/Cargo.toml" >&2
python3 -m pip install --quiet --disable-pip-version-check -r "$ROOT/bench/iam-throughput/requirements.txt" >&2
exec python3 "$HERE/compare.py" --sesame "$TARGET/release/sesame" --loadgen "$TARGET/iam-loadgen/release/iam-loadgen" \
    --duration "${DURATION:-10}" --warmup "${WARMUP:-2}" --concurrency "${CONCURRENCY:-64}"
