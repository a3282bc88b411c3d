"""Fixtures of the end-to-end suite: the `sesame` binary (built once per session),
servers started on port 0 with a temporary data dir and known root credentials,
and stopped with SIGTERM (which must exit 0)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from e2e_support import ROOT, ServerProcess

WORKSPACE = Path(__file__).resolve().parents[2]


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "organizations: Organizations scenarios (skipped while the server answers UnknownOperationException)",
    )
    config.addinivalue_line(
        "markers",
        "cloudtrail: CloudTrail scenarios (skipped while the server answers UnknownOperationException)",
    )
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


def _build() -> Path:
    """`cargo build -p sesame`, in the workspace's target dir unless CARGO_TARGET_DIR
    says otherwise; the binary's path comes from cargo's own artifact messages."""
    cmd = ["cargo", "build", "-p", "sesame", "--message-format=json-render-diagnostics"]
    p = subprocess.run(cmd, cwd=WORKSPACE, capture_output=True, text=True, timeout=1800)
    if p.returncode != 0:
        pytest.exit(f"cargo build -p sesame failed:\n{p.stderr[-4000:]}", returncode=1)
    for line in p.stdout.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        target = msg.get("target", {})
        if (
            msg.get("reason") == "compiler-artifact"
            and target.get("name") == "sesame"
            and "bin" in target.get("kind", [])
            and msg.get("executable")
        ):
            return Path(msg["executable"])
    pytest.exit("cargo build -p sesame reported no `sesame` executable", returncode=1)


@pytest.fixture(scope="session")
def sesame_binary() -> Path:
    """The server binary. SESAME_BIN names a prebuilt one (skips the build)."""
    given = os.environ.get("SESAME_BIN")
    binary = Path(given) if given else _build()
    assert binary.is_file(), f"no sesame binary at {binary}"
    return binary


@pytest.fixture(scope="session")
def start_server(sesame_binary, tmp_path_factory):
    """Factory: start_server(data_dir=None, extra_env=None, extra_args=None) -> a running
    ServerProcess (extra_args: more `serve` flags).
    Anything a test leaves running is stopped at the end of the session."""
    started: list[ServerProcess] = []

    def start(
        data_dir: Path | None = None, extra_env: dict | None = None, extra_args: list[str] | None = None
    ) -> ServerProcess:
        data_dir = data_dir or tmp_path_factory.mktemp("sesame-data")
        log = tmp_path_factory.mktemp("sesame-log") / "server.log"
        server = ServerProcess(sesame_binary, data_dir, log, extra_env)
        server.extra_args = list(extra_args or [])
        server.start()
        started.append(server)
        return server

    yield start
    for s in started:
        if s.running():
            s.stop()


def _stop_cleanly(server: ServerProcess) -> None:
    code = server.stop()
    assert code == 0, f"sesame serve exited {code} on SIGTERM\n{server.log_tail()}"


@pytest.fixture(scope="session")
def server(start_server):
    """The shared server most tests use (they pick unique entity names)."""
    s = start_server()
    yield s
    _stop_cleanly(s)


@pytest.fixture(scope="module")
def own_server(start_server):
    """A server for one test module alone (state that would disturb other modules)."""
    s = start_server()
    yield s
    _stop_cleanly(s)


@pytest.fixture
def root():
    return ROOT
