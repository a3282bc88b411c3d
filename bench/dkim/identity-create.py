#!/usr/bin/env python3
"""Time v2 CreateEmailIdentity for domains (each makes its Easy DKIM RSA-2048 key
pair) against a `sesame serve` binary: `bench/dkim/identity-create.py BINARY [N]`.
Prints min / median / max over N domains (default 20)."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "e2e"))
from e2e_support import ServerProcess  # noqa: E402


def main() -> None:
    binary = Path(sys.argv[1]).resolve()
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(binary, Path(tmp) / "data", Path(tmp) / "server.log").start()
        try:
            client = server.client("sesv2")
            client.create_email_identity(EmailIdentity="warm-up.example")
            times = []
            for i in range(count):
                started = time.perf_counter()
                client.create_email_identity(EmailIdentity=f"bench-{i}.example")
                times.append(time.perf_counter() - started)
        finally:
            server.stop()
    print(f"{binary.parent.name}: CreateEmailIdentity (domain, with its RSA-2048 key) over {count}: "
          f"min {min(times) * 1000:.0f} ms, median {statistics.median(times) * 1000:.0f} ms, "
          f"max {max(times) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
