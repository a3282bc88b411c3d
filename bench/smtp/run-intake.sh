#!/usr/bin/env bash
# Durable SMTP intake, sesame vs a local queue-only Postfix in one run (see intake.py).
# Needs root and Debian's postfix package (smtp-source, smtp-sink).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
command -v smtp-source >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix; } >&2
cargo build --release --locked -p sesame --manifest-path "$ROOT/Cargo.toml" >&2
CARGO_TARGET_DIR="$TARGET/smtp-loadgen" cargo build --release --manifest-path "$HERE/loadgen/Cargo.toml" >&2
python3 -m pip install --quiet --disable-pip-version-check -r "$ROOT/bench/iam-throughput/requirements.txt" >&2
exec python3 "$HERE/intake.py" --sesame "$TARGET/release/sesame" --loadgen "$TARGET/smtp-loadgen/release/smtp-loadgen" "$@"
