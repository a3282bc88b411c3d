"""Delivery from the spool to Postfix's `smtp-sink` over loopback (relay mode).

Phase 1 fills the spool: Sesame runs in relay mode towards a port that accepts TCP
connections but never answers, so nothing is delivered (the few stalled attempts are
cut at shutdown and retried at once after the restart), and the load generator
submits N messages over SMTP. Phase 2 restarts Sesame on the same data directory
towards smtp-sink and times the queue draining (Delivery events in the events file):
messages/s from the restart, and from the first delivery on (start-up and the first
queue scan left out), sampling Sesame's resident memory. Every message is DKIM-signed
(RSA-2048): the sending domain has its Easy DKIM key, as in production."""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from common import cpu_seconds, free_port, loadgen, rss_kib, set_up_sender, start_sesame, wait_port

TARGET_RATE = 1000


def relay_args(port: int, events: Path, per_destination: int) -> list[str]:
    return ["--delivery", "relay", "--relay", f"smtp://127.0.0.1:{port}", "--events-file", str(events),
            "--delivery-per-destination", str(per_destination)]


class Deliveries:
    """Counts Delivery events as they are appended to the events file."""

    def __init__(self, path: Path):
        self.path, self.offset, self.count, self.pending = path, 0, 0, b""

    def poll(self) -> int:
        if self.path.exists():
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
            self.offset += len(chunk)
            lines = (self.pending + chunk).split(b"\n")
            self.pending = lines.pop()
            self.count += sum(1 for line in lines if b'"eventType":"Delivery"' in line)
        return self.count


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sesame", required=True)
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--size", type=int, default=10 * 1024)
    ap.add_argument("--per-destination", type=int, default=32)
    ap.add_argument("--timeout", type=float, default=300)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="smtp-delivery-"))
    data_dir, events = work / "data", work / "events.jsonl"
    stall = socket.socket()
    stall.bind(("127.0.0.1", 0))
    stall.listen(1024)
    sink_port = free_port()
    sesame = sink = None
    try:
        sesame, endpoint, smtp_port = start_sesame(
            args.sesame, data_dir, work / "sesame.log",
            relay_args(stall.getsockname()[1], work / "phase1-events.jsonl", args.per_destination))
        auth = set_up_sender(args.sesame, data_dir, endpoint)
        fill = loadgen(args.loadgen, smtp_port, 32, args.size, messages=args.messages, auth=auth)
        sesame.terminate()
        sesame.wait(timeout=60)
        stall.close()

        sink = subprocess.Popen(["smtp-sink", "-u", "nobody", f"127.0.0.1:{sink_port}", "1024"],
                                stdout=subprocess.DEVNULL, stderr=open(work / "sink.log", "wb"))
        wait_port(sink_port, sink, "smtp-sink")
        started = time.monotonic()
        sesame, _, _ = start_sesame(args.sesame, data_dir, work / "sesame.log",
                                    relay_args(sink_port, events, args.per_destination))
        cpu_before = (cpu_seconds(sesame.pid), cpu_seconds(sink.pid))
        counter, peak, samples = Deliveries(events), 0, []
        first = last = None
        while counter.poll() < fill["accepted"] and time.monotonic() - started < args.timeout:
            now = time.monotonic()
            if counter.count and first is None:
                first = (now, counter.count)
            rss = rss_kib(sesame.pid)
            peak = max(peak, rss)
            samples.append(rss)
            time.sleep(0.1)
        delivered, last = counter.poll(), (time.monotonic(), counter.count)
        cpu = (cpu_seconds(sesame.pid) - cpu_before[0], cpu_seconds(sink.pid) - cpu_before[1])
        seconds = last[0] - started
        steady = (last[1] - first[1]) / (last[0] - first[0]) if first and last[0] > first[0] else 0.0
    finally:
        for p in (sesame, sink):
            if p and p.poll() is None:
                p.terminate()
                p.wait(timeout=30)
    print(f"delivery to smtp-sink (relay mode, {args.per_destination} connections), "
          f"{args.size}-byte messages, loopback")
    print(f"spool filled over SMTP: {fill['accepted']} messages at {fill['per_second']:.0f} msg/s")
    rate = delivered / seconds if seconds > 0 else 0.0
    print(f"delivered {delivered}/{fill['accepted']} in {seconds:.2f} s after the restart: {rate:.0f} msg/s overall, "
          f"{steady:.0f} msg/s from the first delivery on "
          f"(target >= {TARGET_RATE}: {'met' if steady >= TARGET_RATE and delivered == fill['accepted'] else 'NOT met'})")
    per_message = 1000 / delivered if delivered else 0.0
    print(f"CPU per delivered message: sesame {cpu[0] * per_message:.3f} ms, "
          f"smtp-sink {cpu[1] * per_message:.3f} ms ({os.cpu_count()} cores)")
    mean = sum(samples) / len(samples) / 1024 if samples else 0
    print(f"sesame RSS while delivering: mean {mean:.1f} MiB, peak {peak / 1024:.1f} MiB")
    shutil.rmtree(work, ignore_errors=True)
    return 0 if delivered == fill["accepted"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
