"""SES v1 SendEmail end to end (SigV4, authorization with a sending authorization policy,
durable group-commit accept), sesame vs moto_server side by side in one run: 64
concurrent signed clients on loopback, 2 KB messages. Prints requests/s, p50/p99,
sesame's memory and its CPU time per stored message (user + system, from /proc, over
warm-up and measured window: a figure that other load on the machine barely moves).
Reuses the IAM benchmark's server and measurement helpers."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "iam-throughput"))
from compare import ACCOUNT, ROOT_KEY, ROOT_SECRET, client, cpu_seconds, fmt_row, rss_kib, start_moto, start_sesame  # noqa: E402

REGION = "us-east-1"
DOMAIN = "bench.example.com"
SENDER = f"news@{DOMAIN}"
RECIPIENT = "customer@example.org"
TARGET_RPS = 3000
TARGET_RATIO = 50


def admin(binary: str, data_dir: str, *args: str) -> None:
    subprocess.run([binary, "admin", *args, "--data-dir", data_dir], check=True, capture_output=True)


def set_up_sesame(binary: str, data_dir: str, endpoint: str) -> tuple[str, str]:
    """A verified domain with a sending authorization policy naming a sender user whose
    identity policy allows the send; production access and a quota above the load."""
    admin(binary, data_dir, "verify-identity", DOMAIN, "--account", ACCOUNT, "--region", REGION)
    admin(binary, data_dir, "production-access", "--account", ACCOUNT, "--region", REGION)
    admin(binary, data_dir, "set-quota", "--account", ACCOUNT, "--region", REGION,
          "--max-24-hour-send", "100000000", "--max-send-rate", "1000000")
    identity_arn = f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/{DOMAIN}"
    iam = client(endpoint, "iam")
    user_arn = iam.create_user(UserName="bench-sender")["User"]["Arn"]
    iam.put_user_policy(UserName="bench-sender", PolicyName="send", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ses:SendEmail", "Resource": identity_arn}],
    }))
    key = iam.create_access_key(UserName="bench-sender")["AccessKey"]
    client(endpoint, "ses").put_identity_policy(Identity=DOMAIN, PolicyName="delegate", Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "ses:SendEmail", "Resource": identity_arn,
            "Condition": {"StringLike": {"ses:FromAddress": f"*@{DOMAIN}"}, "IpAddress": {"aws:SourceIp": "127.0.0.0/8"}},
        }],
    }))
    return key["AccessKeyId"], key["SecretAccessKey"]


def load(loadgen: str, endpoint: str, key: str, secret: str, args) -> dict:
    cmd = [loadgen, "--endpoint", endpoint, "--action", "send-email", "--from", SENDER, "--to", RECIPIENT,
           "--body-bytes", "2048", "--concurrency", str(args.concurrency), "--duration", str(args.duration),
           "--warmup", str(args.warmup), "--json", "--access-key-id", key, "--secret-access-key", secret]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0 or not p.stdout.strip():
        return {"error": p.stderr.strip()[:300] or f"exit {p.returncode}"}
    return json.loads(p.stdout)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sesame", required=True)
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--concurrency", type=int, default=64)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ses-bench-"))
    procs = []
    try:
        data_dir = str(work / "data")
        sesame, sesame_ep = start_sesame(args.sesame, data_dir, open(work / "sesame.log", "wb"))
        procs.append(sesame)
        key, secret = set_up_sesame(args.sesame, data_dir, sesame_ep)
        moto, moto_ep = start_moto(open(work / "moto.log", "wb"))
        procs.append(moto)
        client(moto_ep, "ses").verify_email_identity(EmailAddress=SENDER)
        print("  running SendEmail against sesame ...", file=sys.stderr)
        cpu_before = cpu_seconds(sesame.pid)
        results = {"sesame": load(args.loadgen, sesame_ep, key, secret, args)}
        cpu_used = cpu_seconds(sesame.pid) - cpu_before
        loaded_kib = rss_kib(sesame.pid)
        print("  running SendEmail against moto ...", file=sys.stderr)
        results["moto"] = load(args.loadgen, moto_ep, ROOT_KEY, ROOT_SECRET, args)
        captured = json.loads(subprocess.run(["curl", "-s", f"{sesame_ep}/_sesame/messages"], capture_output=True, text=True).stdout or "{}")
        sesame.send_signal(signal.SIGTERM)
        sesame_exit = sesame.wait(timeout=60)
        print()
        print(f"SES v1 SendEmail, 2 KB messages, {args.concurrency} concurrent signed clients on loopback, "
              f"{args.duration:g} s measured after {args.warmup:g} s warm-up ({os.cpu_count()} CPUs; "
              f"load average at end {os.getloadavg()[0]:.2f})")
        widths = (9, 7, 12, 9, 9, 8)
        print(fmt_row(("action", "server", "accepted/s", "p50 ms", "p99 ms", "errors"), widths))
        for name, r in results.items():
            if "error" in r:
                print(fmt_row(("SendEmail", name, "failed", "", "", ""), widths) + f"   {r['error']}")
            else:
                print(fmt_row(("SendEmail", name, f"{r['rps']:.1f}", f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}",
                               r["http_errors"] + r["transport_errors"]), widths))
        s, m = results["sesame"], results["moto"]
        if "rps" in s:
            print(f"sesame: {s['rps']:.0f} accepted messages/s ({'meets' if s['rps'] >= TARGET_RPS else 'MISSES'} the {TARGET_RPS}/s target); "
                  f"{len(captured.get('messages', []))} messages durably stored; RSS after the load {loaded_kib / 1024:.1f} MiB")
        stored = len(captured.get("messages", []))
        if stored:
            print(f"sesame CPU: {cpu_used:.2f} s for {stored} stored messages = {cpu_used / stored * 1e6:.0f} µs per message")
        if "rps" in s and "rps" in m and m["rps"] > 0:
            ratio = s["rps"] / m["rps"]
            print(f"sesame/moto throughput = {ratio:.1f}x ({'meets' if ratio >= TARGET_RATIO else 'MISSES'} the {TARGET_RATIO}x target)")
        print(f"sesame exit status after SIGTERM: {sesame_exit}")
        return 0 if sesame_exit == 0 else 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
