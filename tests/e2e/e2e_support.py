"""Support code for the end-to-end tests: the server process, clients bound to it
(boto3, the AWS CLI, raw HTTP), an independent SigV4 signer for hand-made requests,
and AWS error-document parsing.

Nothing here talks to anything but the loopback server the tests start.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import botocore.config
from botocore.exceptions import ClientError

_SESSION = None


def _boto_session():
    """One botocore session for the whole run: it caches the service models."""
    global _SESSION
    if _SESSION is None:
        _SESSION = boto3.session.Session()
    return _SESSION


REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
ROOT_ACCESS_KEY_ID = "AKIAE2EROOTKEY000001"
ROOT_SECRET = "e2e-root-secret/0123456789abcdefghijABCDEFGHIJ"

IAM_VERSION = "2010-05-08"
STS_VERSION = "2011-06-15"
JSON_CT = "application/x-amz-json-1.1"
FORM_CT = "application/x-www-form-urlencoded; charset=utf-8"

# AWS's fixed texts, as AWS words them.
MSG_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
MSG_INVALID_TOKEN = "The security token included in the request is invalid."
MSG_EXPIRED_TOKEN = "The security token included in the request is expired"
MSG_MISSING_AUTH = "Request is missing Authentication Token"

# Timeouts: generous for a loaded 2-core machine, small enough to fail fast.
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Creds:
    access_key_id: str
    secret: str
    token: str | None = None

    @staticmethod
    def from_sts(c: dict) -> "Creds":
        return Creds(c["AccessKeyId"], c["SecretAccessKey"], c.get("SessionToken"))

    @staticmethod
    def from_access_key(k: dict) -> "Creds":
        return Creds(k["AccessKeyId"], k["SecretAccessKey"])


ROOT = Creds(ROOT_ACCESS_KEY_ID, ROOT_SECRET)


# ---------------------------------------------------------------------------
# The server process
# ---------------------------------------------------------------------------


class ServerProcess:
    """One `sesame serve` process on a port the OS picks, with its own data dir."""

    def __init__(self, binary: Path, data_dir: Path, log_path: Path, extra_env=None):
        self.binary = binary
        self.data_dir = data_dir
        self.log_path = log_path
        self.extra_env = dict(extra_env or {})
        # More `serve` flags (e.g. outbound delivery).
        self.extra_args: list[str] = []
        self.proc: subprocess.Popen | None = None
        self.host = "127.0.0.1"
        self.port = 0
        self._log = None
        self._clients: dict = {}

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "ServerProcess":
        env = dict(os.environ)
        env.update(
            SESAME_ROOT_ACCESS_KEY_ID=ROOT.access_key_id,
            SESAME_ROOT_SECRET_ACCESS_KEY=ROOT.secret,
            SESAME_ACCOUNT_ID=ACCOUNT_ID,
            SESAME_LOG=env.get("SESAME_LOG", "info"),
        )
        env.update(self.extra_env)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(self.binary), "serve", "--data-dir", str(self.data_dir), "--http", "127.0.0.1:0", *self.extra_args],
            stdout=subprocess.PIPE,
            stderr=self._log,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        lines: queue.Queue = queue.Queue()

        def pump(stream):
            # Keeps draining stdout for the life of the process so it never blocks.
            for raw in iter(stream.readline, b""):
                lines.put(raw.decode("utf-8", "replace").rstrip("\n"))
            lines.put(None)

        threading.Thread(target=pump, args=(self.proc.stdout,), daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.proc.kill()
                raise AssertionError(f"server did not announce its address in {START_TIMEOUT_S}s\n{self.log_tail()}")
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                code = self.proc.wait()
                raise AssertionError(f"server exited ({code}) before listening\n{self.log_tail()}")
            m = re.fullmatch(r"http listening on (\S+):(\d+)", line.strip())
            if m:
                self.host, self.port = m.group(1).strip("[]"), int(m.group(2))
                assert self.port != 0, line
                return self

    def log_tail(self, n: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "--- server log (tail) ---\n" + "\n".join(text.splitlines()[-n:])

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int:
        """SIGTERM, wait, and return the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"server did not stop within {STOP_TIMEOUT_S}s of SIGTERM\n{self.log_tail()}")
        finally:
            if self._log:
                self._log.close()
        return code

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=STOP_TIMEOUT_S)
        if self._log:
            self._log.close()

    # -- clients ----------------------------------------------------------------

    def client(self, service: str, creds: Creds = ROOT, region: str = REGION):
        """A boto3 client for this server (cached: building one costs ~0.2 s)."""
        key = (service, creds, region)
        if key not in self._clients:
            self._clients[key] = _boto_session().client(
                service,
                endpoint_url=self.endpoint,
                region_name=region,
                aws_access_key_id=creds.access_key_id,
                aws_secret_access_key=creds.secret,
                aws_session_token=creds.token,
                config=botocore.config.Config(
                    retries={"total_max_attempts": 1},
                    connect_timeout=10,
                    read_timeout=60,
                ),
            )
        return self._clients[key]

    def aws(self, *args: str, creds: Creds = ROOT, check: bool = True, region: str = REGION):
        """Runs the real AWS CLI against this server; JSON output parsed when it succeeds."""
        return run_cli(self.endpoint, list(args), creds, check=check, region=region)

    def raw(self, method: str, path: str = "/", body: bytes = b"", headers: dict | None = None, timeout: float = 30.0):
        """One plain HTTP request; returns (status, headers, body bytes)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def signed(
        self,
        params: dict | None = None,
        *,
        creds: Creds = ROOT,
        service: str = "iam",
        region: str = REGION,
        when: dt.datetime | None = None,
        body: bytes | None = None,
        target: str | None = None,
        content_type: str | None = None,
        mutate=None,
    ):
        """A POST signed by our own SigV4 signer. `params` are form-encoded (Query
        protocol) unless `body` is given. `mutate(headers, body) -> (headers, body)`
        tampers with the request after signing."""
        if body is None:
            body = urllib.parse.urlencode(params or {}).encode()
            content_type = content_type or FORM_CT
        headers = {"Content-Type": content_type or JSON_CT}
        if target:
            headers["X-Amz-Target"] = target
        headers = sign_v4(
            "POST", f"{self.host}:{self.port}", "/", "", headers, body, creds, service, region, when
        )
        if mutate:
            headers, body = mutate(headers, body)
        return self.raw("POST", "/", body, headers)

    def alive(self) -> None:
        """Asserts the process runs and still answers a signed call correctly."""
        assert self.running(), f"server process died\n{self.log_tail()}"
        ident = self.client("sts").get_caller_identity()
        assert ident["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:root"


# ---------------------------------------------------------------------------
# The AWS CLI
# ---------------------------------------------------------------------------


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str
    json: object = field(default=None)


def cli_env(creds: Creds, region: str) -> dict:
    # Only these credentials: no profile, config file or instance metadata may leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=creds.access_key_id,
        AWS_SECRET_ACCESS_KEY=creds.secret,
        AWS_DEFAULT_REGION=region,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_MAX_ATTEMPTS="1",
        AWS_PAGER="",
    )
    if creds.token:
        env["AWS_SESSION_TOKEN"] = creds.token
    return env


def run_cli(endpoint: str, args: list[str], creds: Creds, *, check: bool = True, region: str = REGION) -> CliResult:
    cmd = [sys.executable, "-m", "awscli", "--endpoint-url", endpoint, "--output", "json", *args]
    p = subprocess.run(cmd, capture_output=True, text=True, env=cli_env(creds, region), timeout=120)
    result = CliResult(p.returncode, p.stdout, p.stderr)
    if p.returncode == 0 and p.stdout.strip():
        result.json = json.loads(p.stdout)
    if check and p.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)} failed ({p.returncode}):\n{p.stderr}")
    return result


def cli_error(result: CliResult, operation: str) -> tuple[str, str]:
    """(code, message) from the CLI's "An error occurred (Code) when calling the Op
    operation: Message" line."""
    assert result.returncode != 0, f"expected the CLI to fail, got: {result.stdout}"
    m = re.search(
        r"An error occurred \((\w+)\) when calling the (\w+) operation: (.*)", result.stderr
    )
    assert m, f"no AWS error in CLI stderr: {result.stderr!r}"
    assert m.group(2) == operation, result.stderr
    return m.group(1), m.group(3).strip()


# ---------------------------------------------------------------------------
# SigV4, written from the specification (independent of the server's signer and
# of botocore's, so a shared mistake cannot hide)
# ---------------------------------------------------------------------------


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _uri_encode(s: str, safe: str = "-_.~") -> str:
    return urllib.parse.quote(s, safe=safe)


def sign_v4(
    method: str,
    host: str,
    path: str,
    query: str,
    headers: dict,
    body: bytes,
    creds: Creds,
    service: str,
    region: str,
    when: dt.datetime | None = None,
) -> dict:
    """Returns `headers` plus Host, X-Amz-Date, [X-Amz-Security-Token] and Authorization."""
    when = when or dt.datetime.now(dt.timezone.utc)
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    date = when.strftime("%Y%m%d")
    out = dict(headers)
    out["Host"] = host
    out["X-Amz-Date"] = amz_date
    if creds.token:
        out["X-Amz-Security-Token"] = creds.token
    canon_headers = sorted((k.lower(), " ".join(str(v).split())) for k, v in out.items())
    signed_headers = ";".join(k for k, _ in canon_headers)
    pairs = sorted(
        (_uri_encode(k), _uri_encode(v)) for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True)
    )
    canonical = "\n".join(
        [
            method,
            _uri_encode(path, safe="/-_.~"),
            "&".join(f"{k}={v}" for k, v in pairs),
            "".join(f"{k}:{v}\n" for k, v in canon_headers),
            signed_headers,
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _hmac(("AWS4" + creds.secret).encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    out["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={creds.access_key_id}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )
    return out


# ---------------------------------------------------------------------------
# AWS error documents
# ---------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def query_error(body: bytes) -> dict:
    """Parses a Query-protocol error document:
    <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>."""
    root = ET.fromstring(body)
    assert _local(root.tag) == "ErrorResponse", body[:300]
    out = {}
    for child in root:
        if _local(child.tag) == "Error":
            for e in child:
                out[_local(e.tag)] = e.text or ""
        elif _local(child.tag) == "RequestId":
            out["RequestId"] = child.text or ""
    for k in ("Type", "Code", "Message", "RequestId"):
        assert k in out, f"error document lacks {k}: {body[:300]!r}"
    return out


def query_result(body: bytes, action: str) -> ET.Element:
    root = ET.fromstring(body)
    assert _local(root.tag) == f"{action}Response", body[:300]
    for child in root:
        if _local(child.tag) == f"{action}Result":
            return child
    raise AssertionError(f"no {action}Result in {body[:300]!r}")


def find_text(elem: ET.Element, name: str) -> str | None:
    for e in elem.iter():
        if _local(e.tag) == name:
            return e.text
    return None


def client_error(exc: ClientError) -> tuple[str, str, int]:
    err = exc.response["Error"]
    return err.get("Code"), err.get("Message"), exc.response["ResponseMetadata"]["HTTPStatusCode"]


def expect_error(call, *args, **kwargs) -> tuple[str, str, int]:
    """Calls a boto3 operation that must fail; returns (code, message, status)."""
    try:
        result = call(*args, **kwargs)
    except ClientError as e:
        return client_error(e)
    raise AssertionError(f"expected an error, the call succeeded: {result}")


def denial(principal_arn: str, action: str, resource: str, reason: str) -> str:
    """IAM's AccessDenied wording."""
    return f"User: {principal_arn} is not authorized to perform: {action} on resource: {resource} {reason}"


def no_policy_allows(kind: str, action: str) -> str:
    return f"because no {kind} allows the {action} action"


def policy_doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions, resource="*") -> dict:
    return {"Effect": "Allow", "Action": actions, "Resource": resource}


def deny(actions, resource="*") -> dict:
    return {"Effect": "Deny", "Action": actions, "Resource": resource}


def unique(prefix: str) -> str:
    """A name no other test uses on a shared server."""
    unique.counter += 1
    return f"{prefix}{os.getpid() % 1000}x{unique.counter}"


unique.counter = 0


def user_arn(name: str, account: str = ACCOUNT_ID) -> str:
    return f"arn:aws:iam::{account}:user/{name}"


def wait_until(predicate, timeout: float, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def is_unknown_operation(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("UnknownOperationException",)


def libfaketime() -> str | None:
    for p in (
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/faketime/libfaketime.so.1",
        "/usr/local/lib/faketime/libfaketime.so.1",
    ):
        if Path(p).exists():
            return p
    return None

