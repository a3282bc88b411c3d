"""Durable SMTP intake, Sesame vs Postfix in one run: 32 sessions of 10 KB messages,
each server acknowledging a message only once it is on disk (Sesame: group-committed
SQLite transaction; Postfix: cleanup's fsynced queue file, messages put on hold).

Postfix is driven by its own `smtp-source -d` (one message after another on each
connection, no pipelining) and, as a cross-check, by the same Rust load generator as
Sesame. Sesame needs AUTH (smtp-source cannot authenticate), so it is driven by the
load generator with AUTH PLAIN as an IAM user allowed ses:SendRawEmail — the same
command sequence as smtp-source -d."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from common import (RECIPIENT, SENDER, held_messages, loadgen, rss_kib, set_up_sender, start_postfix,
                    start_sesame, stop_postfix)

TARGET_RATIO = 2.0


def smtp_source(port: int, sessions: int, size: int, messages: int) -> dict:
    cmd = ["smtp-source", "-d", "-s", str(sessions), "-m", str(messages), "-l", str(size),
           "-f", SENDER, "-t", RECIPIENT, f"127.0.0.1:{port}"]
    start = time.monotonic()
    subprocess.run(cmd, check=True, capture_output=True)
    seconds = time.monotonic() - start
    return {"accepted": messages, "seconds": seconds, "per_second": messages / seconds}


class RssPeak:
    """Samples a process's resident memory every 100 ms."""

    def __init__(self, pid: int):
        self.pid, self.peak, self.running = pid, 0, True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.1)

    def stop(self) -> int:
        self.running = False
        self.thread.join()
        return self.peak


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sesame", required=True)
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--sessions", type=int, default=32)
    ap.add_argument("--size", type=int, default=10 * 1024)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--postfix-messages", type=int, default=4000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="smtp-intake-"))
    postfix, pf_port = start_postfix(work)
    sesame = None
    try:
        source = smtp_source(pf_port, args.sessions, args.size, args.postfix_messages)
        held = held_messages(work)
        assert held >= args.postfix_messages, f"Postfix holds {held} messages, expected {args.postfix_messages}"
        pf_gen = loadgen(args.loadgen, pf_port, args.sessions, args.size, duration=args.duration, warmup=args.warmup)

        data_dir = work / "sesame-data"
        sesame, endpoint, port = start_sesame(args.sesame, data_dir, work / "sesame.log", [])
        auth = set_up_sender(args.sesame, data_dir, endpoint)
        rss = RssPeak(sesame.pid)
        ses_gen = loadgen(args.loadgen, port, args.sessions, args.size, duration=args.duration,
                          warmup=args.warmup, auth=auth)
        peak = rss.stop()
    finally:
        if sesame:
            sesame.terminate()
            sesame.wait(timeout=30)
        stop_postfix(postfix, work)

    rows = [
        ("postfix 3 (hold queue)", "smtp-source -d", source),
        ("postfix 3 (hold queue)", "smtp-loadgen", pf_gen),
        ("sesame (spool, group commit)", "smtp-loadgen AUTH PLAIN", ses_gen),
    ]
    print(f"durable SMTP intake: {args.sessions} sessions, {args.size}-byte messages, loopback")
    print(f"{'server':<30} {'client':<24} {'accepted':>9} {'seconds':>8} {'msg/s':>9}")
    for server, client, r in rows:
        print(f"{server:<30} {client:<24} {r['accepted']:>9} {r['seconds']:>8.2f} {r['per_second']:>9.1f}")
    ratio = ses_gen["per_second"] / source["per_second"]
    same_client = ses_gen["per_second"] / pf_gen["per_second"]
    print(f"sesame / postfix (smtp-source): {ratio:.2f}x   same client: {same_client:.2f}x   "
          f"target >= {TARGET_RATIO}x: {'met' if ratio >= TARGET_RATIO else 'NOT met'}")
    print(f"sesame peak RSS under load: {peak / 1024:.1f} MiB; refused by sesame: {ses_gen['refused']}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
