"""Event posts survive a restart: with the HTTP receiver of an SNS event destination
and of `--events-webhook` down, a send's events wait in the store; `sesame serve` is
killed (`kill -9`) and started again, the receiver comes up, and each event arrives exactly
once at each endpoint."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from e2e_support import ACCOUNT_ID, REGION, unique, wait_until
from ses_fixtures import unique_domain
from test_delivery import Receiver, admin
from test_event_destinations import sns_destination, topic_arn

TOPIC = "outbox-events"


class PostReceiver:
    """An HTTP server on a fixed port recording the bodies POSTed to each path."""

    def __init__(self, port: int):
        self.posts: list[tuple[str, dict]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.posts.append((self.path.strip("/"), json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def events(self, path: str, message_id: str) -> list[dict]:
        with self.lock:
            bodies = [b for p, b in self.posts if p == path]
        events = [json.loads(b["Message"]) if "Message" in b else b for b in bodies]
        return [e for e in events if e["mail"]["messageId"] == message_id]


@pytest.fixture
def relay():
    r = Receiver().start()
    yield r
    r.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_events_pending_at_a_restart_arrive_once(start_server, relay, tmp_path):
    port = free_port()  # nothing listens here until after the restart
    args = [
        "--delivery", "relay",
        "--relay", f"smtp://127.0.0.1:{relay.port}",
        "--events-webhook", f"http://127.0.0.1:{port}/webhook",
        "--sns-endpoint", f"{topic_arn(TOPIC)}=http://127.0.0.1:{port}/sns",
    ]
    data = tmp_path / "data"
    server = start_server(data, extra_args=args)
    admin(server, "production-access", "--account", ACCOUNT_ID, "--region", REGION)
    domain = unique_domain("outbox")
    admin(server, "verify-identity", domain, "--account", ACCOUNT_ID, "--region", REGION)
    sesv2 = server.client("sesv2")
    config_set = unique("set")
    sesv2.create_configuration_set(ConfigurationSetName=config_set)
    sesv2.create_configuration_set_event_destination(
        ConfigurationSetName=config_set, **sns_destination("all", TOPIC, ["SEND", "DELIVERY"]))
    message_id = sesv2.send_email(
        FromEmailAddress=f"news@{domain}",
        Destination={"ToAddresses": ["reader@dest.example"]},
        Content={"Simple": {"Subject": {"Data": "outbox"}, "Body": {"Text": {"Data": "hi"}}}},
        ConfigurationSetName=config_set,
    )["MessageId"]
    wait_until(lambda: relay.received("outbox"), 30, what="the message is delivered")
    wait_until(lambda: server.log_path.read_text(errors="replace").count("event post failed") >= 4, 30,
               what="posts to the endpoints failing")
    server.kill9()  # no chance to save anything more

    server = start_server(data, extra_args=args)
    receiver = PostReceiver(port)
    try:
        for path in ("sns", "webhook"):
            wait_until(lambda: {e["eventType"] for e in receiver.events(path, message_id)} == {"Send", "Delivery"},
                       40, what=f"Send and Delivery at /{path} after the restart")
        time.sleep(2)
        for path in ("sns", "webhook"):
            kinds = sorted(e["eventType"] for e in receiver.events(path, message_id))
            assert kinds == ["Delivery", "Send"], f"/{path} got {kinds}"
        assert len(relay.received("outbox")) == 1
        assert server.stop() == 0, server.log_tail()
    finally:
        receiver.http.shutdown()
