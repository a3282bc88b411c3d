#!/usr/bin/env bash
# Instructions per untraced policy decision, counted by valgrind's callgrind (the same
# on a busy or an idle machine): the difference between 20,000 and 10,000 decisions of
# a benchmark scenario (crates/policy/benches/scenario.rs), divided by 10,000.
# Usage: bench/policy-instructions.sh [delegate|hundred]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
SCENARIO="${1:-delegate}"
command -v valgrind >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind; } >&2
cargo build --release --locked -p policy --example decision_loop --manifest-path "$ROOT/Cargo.toml" >&2
count() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$TARGET/release/examples/decision_loop" "$SCENARIO" "$1" 2>&1 |
        awk '/Collected/ {print $4}' | tr -d ,
}
low=$(count 10000)
high=$(count 20000)
echo "$SCENARIO: $(( (high - low) / 10000 )) instructions per decision"
