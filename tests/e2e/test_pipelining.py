"""Outbound delivery to a receiver that offers PIPELINING (RFC 2920), against a real
`sesame serve --delivery relay`: MAIL, every RCPT and DATA arrive in one batch, and
the replies still decide each recipient's fate — a refused recipient bounces while
the others get the message; a message whose recipients are all refused is not sent
(its DATA is refused, the transaction reset) and the next message goes through."""

from __future__ import annotations

import time

import pytest

from e2e_support import wait_until
from test_delivery import Receiver, SENDER, events_of, prepare_sender, start_relaying


class PipeliningReceiver(Receiver):
    """The aiosmtpd receiver, offering PIPELINING; notes, at each MAIL, the commands
    that had already arrived behind it."""

    def __init__(self):
        super().__init__()
        self.behind_mail: list[bytes] = []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        with self.lock:
            self.behind_mail.append(bytes(server._reader._buffer))
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"


@pytest.fixture
def receiver():
    r = PipeliningReceiver().start()
    yield r
    r.stop()


def send_to(server, recipients: list[str], marker: str) -> str:
    return server.client("ses").send_email(
        Source=SENDER,
        Destination={"ToAddresses": recipients},
        Message={"Subject": {"Data": f"hello {marker}"}, "Body": {"Text": {"Data": f"body {marker}"}}},
    )["MessageId"]


def test_pipelined_envelope_gives_each_recipient_its_fate(start_server, receiver, tmp_path):
    events = tmp_path / "events.jsonl"
    server = start_relaying(start_server, receiver.port, events)
    prepare_sender(server)
    receiver.script["gone@dest.example"] = ["550 5.1.1 No such user"] * 5
    message_id = send_to(server, ["kept@dest.example", "gone@dest.example"], "p-mixed")

    wait_until(lambda: events_of(events, message_id, "Bounce") and events_of(events, message_id, "Delivery"),
               30, what="Delivery and Bounce events")
    [got] = receiver.received("p-mixed")
    assert got["to"] == ["kept@dest.example"]
    [delivery] = events_of(events, message_id, "Delivery")
    assert delivery["delivery"]["recipients"] == ["kept@dest.example"]
    [bounce] = events_of(events, message_id, "Bounce")
    assert [r["emailAddress"] for r in bounce["bounce"]["bouncedRecipients"]] == ["gone@dest.example"]
    assert (bounce["bounce"]["bounceType"], bounce["bounce"]["bounceSubType"]) == ("Permanent", "NoEmail")
    # Both RCPTs and DATA were already waiting when MAIL was read: one batch.
    assert any(b"RCPT TO:<kept@dest.example>" in b and b"RCPT TO:<gone@dest.example>" in b and b"DATA" in b
               for b in receiver.behind_mail), receiver.behind_mail
    assert server.stop() == 0, server.log_tail()


def test_all_recipients_refused_sends_nothing_and_the_next_goes_through(start_server, receiver, tmp_path):
    events = tmp_path / "events.jsonl"
    server = start_relaying(start_server, receiver.port, events)
    prepare_sender(server)
    receiver.script["gone@dest.example"] = ["550 5.1.1 No such user"] * 5
    refused = send_to(server, ["gone@dest.example"], "p-refused")
    wait_until(lambda: events_of(events, refused, "Bounce"), 30, what="the Bounce event")
    after = send_to(server, ["kept@dest.example"], "p-after")
    wait_until(lambda: events_of(events, after, "Delivery"), 30, what="the next message's Delivery")
    time.sleep(1)
    # Only the bounce notice forwarded to the sender carries the marker.
    assert not [m for m in receiver.received("p-refused") if "gone@dest.example" in m["to"]]
    assert len(receiver.received("p-after")) == 1
    assert not events_of(events, refused, "Delivery")
    assert server.stop() == 0, server.log_tail()
