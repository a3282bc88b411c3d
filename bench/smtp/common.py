"""Shared pieces of the SMTP benchmarks: a private Postfix instance (queue-only, in a
temporary directory), a Sesame server with its SMTP listener and a sending user, and
process helpers."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "iam-throughput"))
from compare import ACCOUNT, ROOT_KEY, ROOT_SECRET, client, cpu_seconds, rss_kib  # noqa: E402,F401

REGION = "us-east-1"
DOMAIN = "bench.example"
SENDER = f"bench@{DOMAIN}"
RECIPIENT = f"sink@{DOMAIN}"
USER = "bench-smtp-sender"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode} (see its log)")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"{what} is not listening on {port}")


def start_postfix(work: Path) -> tuple[subprocess.Popen, int]:
    """A Postfix instance of its own (config, queue and data under `work`) whose smtpd
    on a loopback port accepts mail for DOMAIN and puts it on hold: every message is
    written to the queue and fsynced by cleanup before the 250, and nothing is
    delivered. Needs root and the `postfix` package."""
    if os.geteuid() != 0 or not shutil.which("postfix"):
        raise SystemExit("the Postfix side needs root and the postfix package (apt-get install postfix)")
    port = free_port()
    conf, q, data = work / "postfix-conf", work / "postfix-queue", work / "postfix-data"
    for d in (conf, q, data):
        d.mkdir(parents=True)
    os.chmod(work, 0o755)
    shutil.chown(data, "postfix")
    master = Path("/etc/postfix/master.cf").read_text()
    master = re.sub(r"(?m)^smtp\s+inet\s.*$", f"127.0.0.1:{port} inet n - n - - smtpd", master)
    (conf / "master.cf").write_text(master)
    (conf / "main.cf").write_text(f"""compatibility_level = 3.6
queue_directory = {q}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = postfix-bench.localdomain
mydestination =
mynetworks = 127.0.0.0/8
relay_domains = {DOMAIN}
smtpd_recipient_restrictions = check_recipient_access inline:{{ {DOMAIN}=HOLD }}, permit_mynetworks, reject
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
default_process_limit = 200
maillog_file = /dev/stdout
""")
    subprocess.run(["postfix", "-c", str(conf), "set-permissions", "create-missing"], check=True,
                   capture_output=True)
    log = open(work / "postfix.log", "wb")
    proc = subprocess.Popen(["postfix", "-c", str(conf), "start-fg"], stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    wait_port(port, proc, "postfix")
    return proc, port


def held_messages(work: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(work / "postfix-queue" / "hold"))


def stop_postfix(proc: subprocess.Popen, work: Path) -> None:
    subprocess.run(["postfix", "-c", str(work / "postfix-conf"), "stop"], capture_output=True)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)


def start_sesame(binary: str, data_dir: Path, log_path: Path, extra: list[str]) -> tuple[subprocess.Popen, str, int]:
    """`sesame serve` with an SMTP listener (AUTH allowed without TLS on loopback);
    returns the process, its HTTP endpoint and the SMTP port."""
    env = dict(os.environ, SESAME_ROOT_ACCESS_KEY_ID=ROOT_KEY, SESAME_ROOT_SECRET_ACCESS_KEY=ROOT_SECRET,
               SESAME_ACCOUNT_ID=ACCOUNT, RUST_LOG="warn")
    smtp_port = free_port()
    cmd = [binary, "serve", "--data-dir", str(data_dir), "--http", "127.0.0.1:0",
           "--smtp", f"127.0.0.1:{smtp_port}", "--smtp-insecure-auth", "--smtp-region", REGION, *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(log_path, "ab"), stdin=subprocess.DEVNULL, env=env)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l) for l in iter(proc.stdout.readline, b"")], daemon=True).start()
    deadline = time.monotonic() + 30
    endpoint = None
    while endpoint is None and time.monotonic() < deadline:
        try:
            m = re.match(r"http listening on (\S+)", lines.get(timeout=0.5).decode())
        except queue.Empty:
            if proc.poll() is not None:
                break
            continue
        if m:
            endpoint = f"http://{m.group(1)}"
    if endpoint is None:
        proc.kill()
        raise SystemExit("sesame did not start (see its log)")
    wait_port(smtp_port, proc, "sesame smtp")
    return proc, endpoint, smtp_port


def admin(binary: str, data_dir: Path, *args: str) -> None:
    subprocess.run([binary, "admin", *args, "--data-dir", str(data_dir)], check=True, capture_output=True)


def set_up_sender(binary: str, data_dir: Path, endpoint: str) -> tuple[str, str]:
    """A verified DOMAIN, production access and a quota above the load, and an IAM user
    allowed ses:SendRawEmail on it; returns the user's SMTP user name and password."""
    admin(binary, data_dir, "verify-identity", DOMAIN, "--account", ACCOUNT, "--region", REGION)
    admin(binary, data_dir, "production-access", "--account", ACCOUNT, "--region", REGION)
    admin(binary, data_dir, "set-quota", "--account", ACCOUNT, "--region", REGION,
          "--max-24-hour-send", "100000000", "--max-send-rate", "1000000")
    iam = client(endpoint, "iam")
    iam.create_user(UserName=USER)
    iam.put_user_policy(UserName=USER, PolicyName="send", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ses:SendRawEmail",
                       "Resource": f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/{DOMAIN}"}],
    }))
    key = iam.create_access_key(UserName=USER)["AccessKey"]
    password = subprocess.run([binary, "smtp-password", "--region", REGION, "--secret-stdin"],
                              input=key["SecretAccessKey"], capture_output=True, text=True, check=True).stdout.strip()
    return key["AccessKeyId"], password


def loadgen(binary: str, port: int, sessions: int, size: int, *, duration: float = 10, warmup: float = 2,
            messages: int = 0, auth: tuple[str, str] | None = None) -> dict:
    cmd = [binary, "--addr", f"127.0.0.1:{port}", "--sessions", str(sessions), "--size", str(size),
           "--from", SENDER, "--to", RECIPIENT, "--duration", str(duration), "--warmup", str(warmup),
           "--messages", str(messages)]
    if auth:
        cmd += ["--user", auth[0], "--password", auth[1]]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0 or not p.stdout.strip():
        raise SystemExit(f"smtp-loadgen failed: {p.stderr.strip()[:500]}")
    if p.stderr.strip():
        print(p.stderr.strip()[:500], file=sys.stderr)
    return json.loads(p.stdout)
