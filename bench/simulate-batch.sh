#!/usr/bin/env bash
# Batch speed of `sesame policy simulate`: generates N simulation documents (JSON
# Lines; varied principals, policy layers and conditions), builds the release
# binary and times the whole batch with and without the evaluation trace.
#
#   bench/simulate-batch.sh [N]        (default N=10000; RUNS=5 repetitions)
#
# Uses hyperfine when it is installed, otherwise plain wall-clock timing.
set -euo pipefail

N="${1:-10000}"
RUNS="${RUNS:-5}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
SESAME="$TARGET/release/sesame"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
DOCS="$WORK/docs.jsonl"

python3 - "$N" "$DOCS" <<'PY'
import json, random, sys

n, out = int(sys.argv[1]), sys.argv[2]
rng = random.Random(7)
OWNER, DELEGATE = "111122223333", "444455556666"
IDENTITY = f"arn:aws:ses:us-east-1:{OWNER}:identity/example.com"

def principal():
    acct = rng.choice([OWNER, OWNER, DELEGATE])
    kind = rng.randrange(6)
    if kind == 0:
        return f"arn:aws:iam::{acct}:user/user{rng.randrange(500)}"
    if kind == 1:
        return f"arn:aws:sts::{acct}:assumed-role/MailSender/app-{rng.randrange(500)}"
    if kind == 2:
        return f"arn:aws:sts::{acct}:federated-user/fed{rng.randrange(50)}"
    if kind == 3:
        return f"arn:aws:iam::{acct}:root"
    if kind == 4:
        return "cognito-idp.amazonaws.com"
    return f"arn:aws:iam::{acct}:user/division/user{rng.randrange(500)}"

def statement(effect, action="ses:Send*", resource="*", **extra):
    return dict({"Effect": effect, "Action": action, "Resource": resource}, **extra)

def conditions():
    pool = [
        {"StringLike": {"ses:FromAddress": "*@example.com"}},
        {"ForAllValues:StringLike": {"ses:Recipients": ["*@example.org", "*@example.net"]}},
        {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32"]}},
        {"DateLessThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}},
        {"Bool": {"aws:SecureTransport": "true"}},
        {"StringEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}},
        {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}},
    ]
    merged = {}
    for c in rng.sample(pool, rng.randrange(4)):
        merged.update(c)
    return merged

def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}

def document(i):
    p = principal()
    identity = [policy(statement("Allow", ["ses:SendEmail", "ses:SendRawEmail"], "*", Condition=conditions()))]
    if rng.random() < 0.3:
        identity.append(policy(statement("Deny", "ses:*", "*", Condition={"ForAnyValue:StringNotLike": {"ses:Recipients": "*@example.org"}})))
    grantee = rng.choice([{"AWS": DELEGATE}, {"AWS": f"arn:aws:iam::{DELEGATE}:role/MailSender"}, "*", {"Service": "cognito-idp.amazonaws.com"}])
    doc = {
        "name": f"doc-{i}",
        "request": {
            "principal": p,
            "action": rng.choice(["ses:SendEmail", "ses:SendRawEmail", "ses:SendTemplatedEmail"]),
            "resource": IDENTITY,
            "context": {
                "ses:FromAddress": rng.choice(["news@example.com", "ceo@example.com", "x@other.org"]),
                "ses:Recipients": [f"r{k}@" + rng.choice(["example.org", "example.net", "elsewhere.com"]) for k in range(rng.randrange(1, 5))],
                "aws:SourceIp": rng.choice(["203.0.113.7", "198.51.100.9", "2001:db8::1"]),
                "aws:SecureTransport": rng.choice(["true", "false"]),
                "aws:CurrentTime": "2025-03-01T10:00:00Z",
                "aws:RequestedRegion": rng.choice(["us-east-1", "eu-west-1", "ap-south-1"]),
                "aws:MultiFactorAuthAge": str(rng.randrange(7200)),
            },
        },
        "identityPolicies": identity,
        "permissionsBoundary": policy(statement("Allow", "ses:*")) if rng.random() < 0.3 else None,
        "sessionPolicy": policy(statement("Allow", "ses:Send*")) if "assumed-role" in p or "federated" in p else None,
        "resourcePolicy": policy(statement("Allow", ["ses:SendEmail", "ses:SendRawEmail"], IDENTITY, Principal=grantee, Condition=conditions())) if rng.random() < 0.7 else None,
        "serviceControlPolicies": [[policy(statement("Allow", "*"))], [policy(statement("Allow", "*")), policy(statement("Deny", "ses:*", "*", Condition={"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}}))]] if rng.random() < 0.5 else None,
        "resourceControlPolicies": [[policy(statement("Allow", "*", "*", Principal="*"))]] if rng.random() < 0.3 else None,
    }
    return doc

with open(out, "w") as f:
    for i in range(n):
        f.write(json.dumps(document(i), separators=(",", ":")) + "\n")
PY

echo "generated $N documents ($(du -h "$DOCS" | cut -f1)) in $DOCS"
(cd "$ROOT" && cargo build --release --quiet -p sesame)

lines=$("$SESAME" policy simulate --no-trace "$DOCS" | wc -l)
if [ "$lines" -ne "$N" ]; then
    echo "expected $N output lines, got $lines" >&2
    exit 1
fi

if command -v hyperfine >/dev/null; then
    hyperfine --warmup 1 --runs "$RUNS" \
        -n trace "$SESAME policy simulate $DOCS" \
        -n no-trace "$SESAME policy simulate --no-trace $DOCS" \
        --export-json "$WORK/hyperfine.json" --output=null
    python3 - "$N" "$WORK/hyperfine.json" <<'PY'
import json, sys
n = int(sys.argv[1])
for r in json.load(open(sys.argv[2]))["results"]:
    print(f"{r['command']:>8}: {r['mean']*1000:8.1f} ms mean, {n / r['mean']:10.0f} documents/s")
PY
else
    for mode in trace no-trace; do
        flag=""
        [ "$mode" = no-trace ] && flag="--no-trace"
        best=""
        for _ in $(seq "$RUNS"); do
            start=$(date +%s%N)
            "$SESAME" policy simulate $flag "$DOCS" >/dev/null
            end=$(date +%s%N)
            ns=$((end - start))
            if [ -z "$best" ] || [ "$ns" -lt "$best" ]; then best=$ns; fi
        done
        awk -v n="$N" -v ns="$best" -v m="$mode" \
            'BEGIN { printf "%8s: %8.1f ms (best of runs), %10.0f documents/s\n", m, ns / 1e6, n / (ns / 1e9) }'
    done
fi
