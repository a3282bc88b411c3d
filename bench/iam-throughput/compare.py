"""Side-by-side IAM/STS throughput of `sesame serve` and moto's server (run by run.sh).

Starts both servers on loopback ports, sets up the same principal on each, runs the
same signed load (iam-loadgen) against each in turn, prints a table with the ratio,
and reads sesame's idle resident memory from /proc/PID/status.

    python3 compare.py --sesame PATH --loadgen PATH [--duration S] [--warmup S] [--concurrency N]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import boto3
import botocore.config
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"
ROOT_KEY = "AKIABENCHROOT0000001"
ROOT_SECRET = "bench-root-secret-0123456789abcdefghijk"
REGION = "us-east-1"
SIM_USER = "bench-user"
SIM_ACTIONS = ["iam:ListUsers", "iam:CreateUser", "iam:DeleteUser"]
TARGET_RATIO = 20.0
TARGET_IDLE_MB = 50.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def client(endpoint: str, service: str):
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ROOT_KEY,
        aws_secret_access_key=ROOT_SECRET,
        config=botocore.config.Config(retries={"total_max_attempts": 1}),
    )


def start_sesame(binary: str, data_dir: str, log) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ)
    env.update(
        SESAME_ROOT_ACCESS_KEY_ID=ROOT_KEY,
        SESAME_ROOT_SECRET_ACCESS_KEY=ROOT_SECRET,
        SESAME_ACCOUNT_ID=ACCOUNT,
    )
    proc = subprocess.Popen(
        [binary, "serve", "--data-dir", data_dir, "--http", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, env=env,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l) for l in iter(proc.stdout.readline, b"")], daemon=True).start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5).decode()
        except queue.Empty:
            if proc.poll() is not None:
                break
            continue
        m = re.match(r"http listening on (\S+)", line)
        if m:
            return proc, f"http://{m.group(1)}"
    proc.kill()
    raise SystemExit("sesame did not start (see its log)")


def start_moto(log) -> tuple[subprocess.Popen, str]:
    port = free_port()
    exe = shutil.which("moto_server")
    cmd = [exe] if exe else [sys.executable, "-m", "moto.server"]
    proc = subprocess.Popen(cmd + ["-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("moto_server exited (see its log)")
        try:
            client(endpoint, "sts").get_caller_identity()
            return proc, endpoint
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("moto_server did not answer within 60 s")


def set_up_principal(endpoint: str) -> str | None:
    """Creates the simulated user; returns why SimulatePrincipalPolicy cannot be measured, or None."""
    iam = client(endpoint, "iam")
    arn = iam.create_user(UserName=SIM_USER)["User"]["Arn"]
    doc = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:List*", "iam:Get*"], "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:DeleteUser", "Resource": "*"},
    ]}
    iam.put_user_policy(UserName=SIM_USER, PolicyName="bench", PolicyDocument=json.dumps(doc))
    try:
        out = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=SIM_ACTIONS)
    except ClientError as e:
        err = e.response.get("Error", {})
        return f"{err.get('Code') or e.response['ResponseMetadata']['HTTPStatusCode']}: {(err.get('Message') or '')[:80]}"
    except Exception as e:  # noqa: BLE001 - e.g. an HTML error page instead of XML
        return f"not implemented: the reply is not IAM XML ({type(e).__name__})"
    decisions = {r["EvalActionName"]: r["EvalDecision"] for r in out["EvaluationResults"]}
    expected = {"iam:ListUsers": "allowed", "iam:CreateUser": "implicitDeny", "iam:DeleteUser": "explicitDeny"}
    if decisions != expected:
        return f"wrong decisions {decisions}"
    return None


def load(loadgen: str, endpoint: str, action: str, args, policy_source_arn: str | None = None) -> dict:
    cmd = [
        loadgen, "--endpoint", endpoint, "--action", action,
        "--concurrency", str(args.concurrency), "--duration", str(args.duration),
        "--warmup", str(args.warmup), "--threads", str(args.client_threads), "--json",
        "--access-key-id", ROOT_KEY, "--secret-access-key", ROOT_SECRET,
    ]
    if policy_source_arn:
        cmd += ["--policy-source-arn", policy_source_arn]
        for a in SIM_ACTIONS:
            cmd += ["--simulate-action", a]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.stderr.strip():
        print(f"    ({endpoint} {action}) {p.stderr.strip()[:300]}", file=sys.stderr)
    if p.returncode != 0 or not p.stdout.strip():
        return {"error": p.stderr.strip()[:200] or f"exit {p.returncode}"}
    return json.loads(p.stdout)


def fmt_row(cols, widths):
    return "  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cols, widths)))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sesame", required=True)
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--client-threads", type=int, default=1)
    ap.add_argument("--idle-seconds", type=float, default=3)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="iam-bench-"))
    sesame_log = open(work / "sesame.log", "wb")
    moto_log = open(work / "moto.log", "wb")
    procs = []
    try:
        sesame, sesame_ep = start_sesame(args.sesame, str(work / "data"), sesame_log)
        procs.append(sesame)
        time.sleep(args.idle_seconds)
        idle_kib = rss_kib(sesame.pid)

        moto, moto_ep = start_moto(moto_log)
        procs.append(moto)
        moto_idle_kib = rss_kib(moto.pid)

        sim_arn = f"arn:aws:iam::{ACCOUNT}:user/{SIM_USER}"
        unsupported = {"sesame": set_up_principal(sesame_ep), "moto": set_up_principal(moto_ep)}
        servers = {"sesame": sesame_ep, "moto": moto_ep}

        results: dict[tuple[str, str], dict] = {}
        for action, arn in (("GetCallerIdentity", None), ("SimulatePrincipalPolicy", sim_arn)):
            for name, ep in servers.items():
                if arn and unsupported[name]:
                    results[(action, name)] = {"na": unsupported[name]}
                    continue
                print(f"  running {action} against {name} ({args.warmup:g}s warm-up + {args.duration:g}s) ...", file=sys.stderr)
                results[(action, name)] = load(args.loadgen, ep, action, args, arn)
        loaded_kib = rss_kib(sesame.pid)

        sesame.send_signal(signal.SIGTERM)
        sesame_exit = sesame.wait(timeout=30)

        load_avg = os.getloadavg()
        print()
        print(f"IAM/STS throughput, {args.concurrency} concurrent signed clients on loopback, "
              f"{args.duration:g} s measured after {args.warmup:g} s warm-up "
              f"({os.cpu_count()} CPUs; load average at end {load_avg[0]:.2f})")
        widths = (24, 7, 12, 9, 9, 8)
        print(fmt_row(("action", "server", "requests/s", "p50 ms", "p99 ms", "errors"), widths))
        print(fmt_row(("-" * 24, "-" * 7, "-" * 12, "-" * 9, "-" * 9, "-" * 8), widths))
        ratios = {}
        for action in ("GetCallerIdentity", "SimulatePrincipalPolicy"):
            for name in servers:
                r = results[(action, name)]
                if "na" in r:
                    print(fmt_row((action, name, "n/a", "", "", ""), widths) + f"   not supported: {r['na']}")
                elif "error" in r:
                    print(fmt_row((action, name, "failed", "", "", ""), widths) + f"   {r['error']}")
                else:
                    errors = r["http_errors"] + r["transport_errors"]
                    print(fmt_row((action, name, f"{r['rps']:.1f}", f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}", errors), widths))
            s, m = results[(action, "sesame")], results[(action, "moto")]
            if "rps" in s and "rps" in m and m["rps"] > 0:
                ratios[action] = s["rps"] / m["rps"]
        print()
        for action in ("GetCallerIdentity", "SimulatePrincipalPolicy"):
            if action in ratios:
                verdict = "meets" if ratios[action] >= TARGET_RATIO else "MISSES"
                print(f"{action}: sesame/moto throughput = {ratios[action]:.1f}x ({verdict} the {TARGET_RATIO:g}x target)")
            else:
                print(f"{action}: no ratio (not measured on both servers)")
        idle_mb = idle_kib / 1024
        verdict = "meets" if idle_mb < TARGET_IDLE_MB else "MISSES"
        print(f"sesame idle RSS (VmRSS, {args.idle_seconds:g} s after start): {idle_mb:.1f} MiB "
              f"({verdict} the < {TARGET_IDLE_MB:g} MB target); after the load: {loaded_kib / 1024:.1f} MiB; "
              f"moto_server idle: {moto_idle_kib / 1024:.1f} MiB")
        print(f"sesame exit status after SIGTERM: {sesame_exit}")
        return 0 if sesame_exit == 0 else 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
        sesame_log.close()
        moto_log.close()
        if os.environ.get("KEEP_BENCH_DIR"):
            print(f"logs and data kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
