"""Outbound delivery (`sesame serve --delivery relay`) against a real receiving SMTP
server (aiosmtpd) on loopback: exactly-once arrival with a DKIM signature that an
independent verifier (dkimpy) accepts, 4xx retries, 5xx bounces with SES Bounce
events, `kill -9` with messages queued, STARTTLS + AUTH to the smarthost, MX mode
through a stub DNS server, and the signed events webhook. Needs `pip install aiosmtpd
dkimpy dnspython` (tests/requirements.txt) and the `openssl` command (TLS test only)."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from e2e_support import ACCOUNT_ID, REGION, ServerProcess, wait_until

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")
dkim = pytest.importorskip("dkim")

DOMAIN = "dkim-sender.example"
SENDER = f"news@{DOMAIN}"


class Receiver:
    """An aiosmtpd receiver that records messages; `script` maps a recipient to the
    replies it gets, in order (then 250)."""

    def __init__(self, port: int = 0):
        self.messages: list[dict] = []
        self.script: dict[str, list[str]] = {}
        self.data_script: list[str] = []
        self.lock = threading.Lock()
        self.port = port or free_port()
        self.controller = aiosmtpd_controller.Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            replies = self.script.get(address.lower())
            if replies:
                reply = replies.pop(0)
                if not reply.startswith("250"):
                    return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.data_script:
                return self.data_script.pop(0)
            self.messages.append(
                {"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "data": envelope.content}
            )
        return "250 2.0.0 Ok: queued as 1234"

    def start(self) -> "Receiver":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def received(self, marker: str) -> list[dict]:
        with self.lock:
            return [m for m in self.messages if marker.encode() in m["data"]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def admin(server: ServerProcess, *args: str) -> str:
    cmd = [str(server.binary), "admin", *args, "--data-dir", str(server.data_dir)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return p.stdout


def start_relaying(start_server, relay_port: int, events: Path, data_dir: Path | None = None, max_age: int = 60):
    """A server relaying to 127.0.0.1:relay_port with short retry delays."""
    args = [
        "--delivery", "relay",
        "--relay", f"smtp://127.0.0.1:{relay_port}",
        "--events-file", str(events),
        "--delivery-retry-delay", "1",
        "--delivery-max-retry-delay", "2",
        "--delivery-max-age", str(max_age),
    ]
    return start_server(data_dir or events.parent / "data", extra_args=args)


def prepare_sender(server: ServerProcess) -> str:
    """Verifies the sending domain, lifts the sandbox; returns the DKIM TXT record."""
    admin(server, "verify-identity", DOMAIN, "--account", ACCOUNT_ID, "--region", REGION)
    admin(server, "production-access", "--account", ACCOUNT_ID, "--region", REGION)
    line = admin(server, "dkim-record", DOMAIN, "--account", ACCOUNT_ID, "--region", REGION).strip()
    name, _, rest = line.partition(" TXT ")
    assert name.endswith(f"._domainkey.{DOMAIN}"), line
    return rest.strip('"')


def send(server: ServerProcess, to: str, marker: str) -> str:
    ses = server.client("ses")
    out = ses.send_email(
        Source=SENDER,
        Destination={"ToAddresses": [to]},
        Message={"Subject": {"Data": f"hello {marker}"}, "Body": {"Text": {"Data": f"body {marker}\n.dot line"}}},
    )
    return out["MessageId"]


def read_events(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def events_of(path: Path, message_id: str, kind: str) -> list[dict]:
    return [e for e in read_events(path) if e["eventType"] == kind and e["mail"]["messageId"] == message_id]


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


def test_relay_delivers_once_with_valid_dkim(start_server, receiver, tmp_path):
    events = tmp_path / "events.jsonl"
    server = start_relaying(start_server, receiver.port, events)
    txt = prepare_sender(server)
    message_id = send(server, "alice@dest.example", "m-once")
    wait_until(lambda: receiver.received("m-once"), 30, what="the message arrives")
    time.sleep(2.5)
    got = receiver.received("m-once")
    assert len(got) == 1, got
    assert got[0]["to"] == ["alice@dest.example"]
    assert got[0]["from"] == SENDER
    data = got[0]["data"]
    assert data.startswith(b"DKIM-Signature:"), data[:200]
    assert f"d={DOMAIN}".encode() in data

    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        assert name.rstrip(".").endswith(f"._domainkey.{DOMAIN}"), name
        return txt.encode()

    assert dkim.verify(data, dnsfunc=dnsfunc), "dkimpy rejects the signature"
    # Any change to the signed body breaks it.
    assert not dkim.verify(data.replace(b"m-once", b"m-twice"), dnsfunc=dnsfunc)

    wait_until(lambda: events_of(events, message_id, "Delivery"), 10, what="Delivery event")
    [delivery] = events_of(events, message_id, "Delivery")
    assert delivery["delivery"]["recipients"] == ["alice@dest.example"]
    assert delivery["delivery"]["smtpResponse"].startswith("250")
    assert delivery["delivery"]["remoteMtaIp"] == "127.0.0.1"
    mail = delivery["mail"]
    assert mail["source"] == SENDER
    assert mail["sendingAccountId"] == ACCOUNT_ID
    assert mail["sourceArn"] == f"arn:aws:ses:{REGION}:{ACCOUNT_ID}:identity/{DOMAIN}"
    assert mail["destination"] == ["alice@dest.example"]
    assert mail["commonHeaders"]["subject"] == "hello m-once"
    assert len(events_of(events, message_id, "Send")) == 1
    assert server.stop() == 0, server.log_tail()


def test_transient_failure_is_retried(start_server, receiver, tmp_path):
    events = tmp_path / "events.jsonl"
    server = start_relaying(start_server, receiver.port, events)
    prepare_sender(server)
    receiver.data_script = ["451 4.3.0 Try again later"]
    message_id = send(server, "bob@dest.example", "m-retry")
    wait_until(lambda: receiver.received("m-retry"), 30, what="the retried message arrives")
    time.sleep(2.5)
    assert len(receiver.received("m-retry")) == 1
    wait_until(lambda: events_of(events, message_id, "Delivery"), 10, what="Delivery event")
    [delay] = events_of(events, message_id, "DeliveryDelay")
    assert delay["deliveryDelay"]["delayedRecipients"][0]["emailAddress"] == "bob@dest.example"
    assert "451" in delay["deliveryDelay"]["delayedRecipients"][0]["diagnosticCode"]
    assert server.stop() == 0, server.log_tail()


def test_permanent_failure_bounces(start_server, receiver, tmp_path):
    events = tmp_path / "events.jsonl"
    server = start_relaying(start_server, receiver.port, events)
    prepare_sender(server)
    receiver.script["nobody@dest.example"] = ["550 5.1.1 No such user"] * 10
    message_id = send(server, "nobody@dest.example", "m-bounce")
    wait_until(lambda: events_of(events, message_id, "Bounce"), 30, what="Bounce event")
    [bounce] = events_of(events, message_id, "Bounce")
    b = bounce["bounce"]
    assert (b["bounceType"], b["bounceSubType"]) == ("Permanent", "NoEmail")
    [r] = b["bouncedRecipients"]
    assert r["emailAddress"] == "nobody@dest.example"
    assert r["status"] == "5.1.1"
    assert r["action"] == "failed"
    assert "550 5.1.1 No such user" in r["diagnosticCode"]
    assert b["feedbackId"] and b["reportingMTA"]
    time.sleep(2.5)
    assert [m for m in receiver.received("m-bounce") if "nobody@dest.example" in m["to"]] == []
    # The bounce is forwarded by email (no notification topic): a DSN to the sender.
    assert [m["to"] for m in receiver.received("m-bounce")] == [[SENDER]]
    assert len(events_of(events, message_id, "Bounce")) == 1
    assert server.stop() == 0, server.log_tail()


def test_undeliverable_until_max_age_bounces(start_server, tmp_path):
    events = tmp_path / "events.jsonl"
    server = start_relaying(start_server, free_port(), events, max_age=3)
    prepare_sender(server)
    message_id = send(server, "carol@dest.example", "m-expire")
    wait_until(lambda: events_of(events, message_id, "Bounce"), 30, what="Bounce after the maximum age")
    [bounce] = events_of(events, message_id, "Bounce")
    assert bounce["bounce"]["bounceType"] == "Transient"
    assert len(events_of(events, message_id, "DeliveryDelay")) == 1
    assert server.stop() == 0, server.log_tail()


def test_kill_9_with_queued_messages_delivers_each_once(start_server, tmp_path):
    events = tmp_path / "events.jsonl"
    port = free_port()
    data = tmp_path / "data"
    first = start_relaying(start_server, port, events, data_dir=data)
    prepare_sender(first)
    markers = [f"m-crash-{i}" for i in range(5)]
    for i, marker in enumerate(markers):
        send(first, f"user{i}@dest{i % 2}.example", marker)
    time.sleep(1.5)  # at least one failed attempt each: the receiver is down
    first.kill9()

    receiver = Receiver(port).start()
    try:
        second = start_relaying(start_server, port, events, data_dir=data)
        for marker in markers:
            wait_until(lambda m=marker: receiver.received(m), 30, what=f"{marker} arrives after the restart")
        time.sleep(3)
        for marker in markers:
            assert len(receiver.received(marker)) == 1, marker
        # A clean restart later delivers nothing again.
        assert second.stop() == 0, second.log_tail()
        third = start_relaying(start_server, port, events, data_dir=data)
        time.sleep(3)
        assert len(receiver.messages) == len(markers)
        assert third.stop() == 0, third.log_tail()
    finally:
        receiver.stop()


class StubDns:
    """A tiny authoritative DNS server on loopback UDP (dnspython): `records` maps
    (name, type) to rdata texts."""

    def __init__(self, records: dict[tuple[str, str], list[str]]):
        import dns.message
        import dns.rrset

        self._message = dns.message
        self._rrset = dns.rrset
        self.records = records
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.queries: list[tuple[str, str]] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        import dns.exception
        import dns.rcode
        import dns.rdatatype

        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            try:
                query = self._message.from_wire(data)
            except dns.exception.DNSException:
                # A stray datagram on this loopback port (e.g. a late one meant for an
                # earlier test's server): ignored, as a DNS server drops what it cannot parse.
                continue
            response = self._message.make_response(query)
            q = query.question[0]
            name = q.name.to_text().rstrip(".").lower()
            rtype = dns.rdatatype.to_text(q.rdtype)
            self.queries.append((name, rtype))
            answers = self.records.get((name, rtype), [])
            if answers:
                response.answer.append(self._rrset.from_text(q.name, 60, "IN", rtype, *answers))
            elif not any(n == name for n, _ in self.records):
                response.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(response.to_wire(), peer)

    def close(self):
        self.sock.close()


def test_mx_mode_delivers_through_mx_and_a_fallback(start_server, receiver, tmp_path):
    pytest.importorskip("dns.message")
    dns_server = StubDns(
        {
            ("mx-dest.example", "MX"): ["20 backup.mx-dest.example.", "10 primary.mx-dest.example."],
            ("primary.mx-dest.example", "A"): ["127.0.0.1"],
            ("backup.mx-dest.example", "A"): ["127.0.0.2"],
            ("a-only.example", "A"): ["127.0.0.1"],
        }
    )
    events = tmp_path / "events.jsonl"
    args = [
        "--delivery", "mx",
        "--dns", f"127.0.0.1:{dns_server.port}",
        "--smtp-port-for-mx", str(receiver.port),
        "--events-file", str(events),
        "--delivery-retry-delay", "1",
    ]
    server = start_server(tmp_path / "data", extra_args=args)
    try:
        prepare_sender(server)
        first = send(server, "dora@mx-dest.example", "m-mx")
        second = send(server, "erin@a-only.example", "m-a-fallback")
        wait_until(lambda: receiver.received("m-mx") and receiver.received("m-a-fallback"), 30, what="MX deliveries")
        time.sleep(2)
        assert len(receiver.received("m-mx")) == 1
        assert len(receiver.received("m-a-fallback")) == 1
        assert ("mx-dest.example", "MX") in dns_server.queries
        assert ("a-only.example", "MX") in dns_server.queries
        assert ("a-only.example", "A") in dns_server.queries
        for message_id in (first, second):
            wait_until(lambda m=message_id: events_of(events, m, "Delivery"), 10, what="Delivery event")
        assert server.stop() == 0, server.log_tail()
    finally:
        dns_server.close()


def test_events_webhook_is_signed(start_server, receiver, tmp_path):
    import hashlib
    import hmac
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    posted: list[tuple[bytes, str]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            posted.append((body, self.headers.get("X-Sesame-Signature", "")))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    secret = "webhook-s3cret"
    args = [
        "--delivery", "relay",
        "--relay", f"smtp://127.0.0.1:{receiver.port}",
        "--events-webhook", f"http://127.0.0.1:{hook.server_address[1]}/hook",
    ]
    server = start_server(tmp_path / "data", extra_env={"SESAME_WEBHOOK_SECRET": secret}, extra_args=args)
    try:
        prepare_sender(server)
        message_id = send(server, "frank@dest.example", "m-hook")

        def kinds():
            return {json.loads(b)["eventType"] for b, _ in posted if json.loads(b)["mail"]["messageId"] == message_id}

        wait_until(lambda: {"Send", "Delivery"} <= kinds(), 30, what="webhook events")
        for body, signature in posted:
            expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            assert signature == expected
        assert secret not in server.log_path.read_text(errors="replace")
        assert server.stop() == 0, server.log_tail()
    finally:
        hook.shutdown()


def _controller_receiver(**controller_kwargs) -> Receiver:
    """A Receiver whose aiosmtpd controller has more options (TLS, AUTH)."""
    r = Receiver()
    r.controller = aiosmtpd_controller.Controller(r, hostname="127.0.0.1", port=r.port, **controller_kwargs)
    return r.start()


def test_relay_uses_starttls_and_auth(start_server, tmp_path):
    import shutil
    import ssl

    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
         "-keyout", str(key), "-out", str(cert), "-days", "1"],
        check=True, capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    user, password = "relay@user", "p@ss:w0rd/%"
    logins: list[tuple[str, str, bool]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        ok = auth_data.login.decode() == user and auth_data.password.decode() == password
        logins.append((mechanism, auth_data.login.decode(), session.ssl is not None))
        return AuthResult(success=ok)

    receiver = _controller_receiver(
        tls_context=context, require_starttls=True, authenticator=authenticator, auth_required=True
    )
    try:
        from urllib.parse import quote

        events = tmp_path / "events.jsonl"
        args = [
            "--delivery", "relay",
            "--relay", f"smtp://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:{receiver.port}",
            "--events-file", str(events),
            "--delivery-retry-delay", "1",
        ]
        server = start_server(tmp_path / "data", extra_args=args)
        prepare_sender(server)
        send(server, "gina@dest.example", "m-tls-auth")
        wait_until(lambda: receiver.received("m-tls-auth"), 30, what="delivery over TLS with AUTH")
        assert logins and logins[0][1] == user and logins[0][2], logins
        assert password not in server.log_path.read_text(errors="replace")
        assert server.stop() == 0, server.log_tail()
    finally:
        receiver.stop()
