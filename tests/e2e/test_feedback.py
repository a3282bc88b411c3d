"""The feedback loop against the real `sesame serve --delivery relay --feedback-smtp`:
the SES mailbox simulator's five addresses and their events (no connection made, no
reputation or daily quota used, nothing suppressed); a hard bounce from a real
aiosmtpd receiver putting the address on the account-level suppression list (seen
with the AWS CLI) as the account's and a configuration set's SuppressedReasons say;
and asynchronous reports sent with smtplib to the feedback listener: an ARF complaint
and DSN bounces linked to the original message by VERP token or Message-ID, and
forged tokens or unlinkable reports refused."""

from __future__ import annotations

import email.utils
import json
import smtplib
import time
from email.message import EmailMessage
from email.mime.base import MIMEBase
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.parser import BytesParser
from email import policy as email_policy

import pytest

from e2e_support import ACCOUNT_ID, REGION, ROOT, unique, wait_until
from ses_fixtures import (  # noqa: F401  (fixtures are used by name)
    SEND_ACTIONS,
    delegate,
    doc,
    organization,
    ses,
    unique_domain,
)
from test_delivery import DOMAIN, SENDER, Receiver, admin, events_of, free_port, prepare_sender

BOUNCE_DOMAIN = "bounce.sesame.test"
SIM = "simulator.amazonses.com"


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


class Setup:
    def __init__(self, start_server, receiver, tmp_path):
        self.events = tmp_path / "events.jsonl"
        self.feedback_port = free_port()
        self.receiver = receiver
        self.server = start_server(
            tmp_path / "data",
            extra_args=[
                "--delivery", "relay",
                "--relay", f"smtp://127.0.0.1:{receiver.port}",
                "--events-file", str(self.events),
                "--delivery-retry-delay", "1",
                "--delivery-max-retry-delay", "2",
                "--feedback-smtp", f"127.0.0.1:{self.feedback_port}",
                "--feedback-domain", BOUNCE_DOMAIN,
            ],
        )

    def send(self, to: str, marker: str, **extra) -> str:
        out = self.server.client("sesv2").send_email(
            FromEmailAddress=SENDER,
            Destination={"ToAddresses": [to]},
            Content={"Simple": {"Subject": {"Data": f"hello {marker}"}, "Body": {"Text": {"Data": f"body {marker}"}}}},
            **extra,
        )
        return out["MessageId"]

    def wait_event(self, message_id: str, kind: str) -> dict:
        wait_until(lambda: events_of(self.events, message_id, kind), 30, what=f"{kind} event of {message_id}")
        [event] = events_of(self.events, message_id, kind)
        return event

    def suppressed(self, address: str):
        """The suppression list entry (AWS CLI), or None when the address is not on it."""
        r = self.server.aws("sesv2", "get-suppressed-destination", "--email-address", address, check=False)
        if r.returncode != 0:
            assert "NotFoundException" in r.stderr, r.stderr
            return None
        return r.json["SuppressedDestination"]

    def report(self, rcpt: str, message: bytes):
        """Sends a report to the feedback listener; returns smtplib's (code, text)."""
        with smtplib.SMTP("127.0.0.1", self.feedback_port, timeout=30) as s:
            s.ehlo("mx.dest.example")
            s.mail("")
            code, text = s.rcpt(rcpt)
            if code != 250:
                return code, text.decode()
            code, text = s.data(message)
            return code, text.decode()


def delivered(receiver: Receiver, marker: str) -> dict:
    wait_until(lambda: receiver.received(marker), 30, what=f"{marker} arrives")
    [got] = receiver.received(marker)
    return got


def arf_report(original: bytes, rcpt: str, to: str) -> bytes:
    report = MIMEMultipart("report", report_type="feedback-report")
    report["From"] = "fbl@isp.example"
    report["To"] = to
    report["Subject"] = "FW: abuse report"
    report["Message-ID"] = email.utils.make_msgid(domain="isp.example")
    report.attach(MIMEText("This is an email abuse report.\n"))
    fields = MIMEBase("message", "feedback-report")
    fields.set_payload(
        "Feedback-Type: abuse\r\nUser-Agent: ExampleFBL/2.1\r\nVersion: 1\r\n"
        f"Original-Rcpt-To: {rcpt}\r\nArrival-Date: Mon, 23 Nov 2026 01:02:03 +0000\r\n"
    )
    report.attach(fields)
    report.attach(MIMEMessage(BytesParser(policy=email_policy.compat32).parsebytes(original)))
    return report.as_bytes()


def dsn_report(original: bytes, rcpt: str, to: str, action: str = "failed", status: str = "5.1.1") -> bytes:
    """An RFC 3464 report as Postfix writes one (built by hand: the email package
    cannot generate message/delivery-status parts)."""
    headers = original.split(b"\r\n\r\n", 1)[0].decode()
    return (
        "From: MAILER-DAEMON@mx.dest.example\r\n"
        f"To: {to}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="dsn-b"\r\n'
        "\r\n--dsn-b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--dsn-b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.dest.example\r\n\r\n"
        f"Final-Recipient: rfc822; {rcpt}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} <{rcpt}>: mailbox unavailable\r\n"
        f"\r\n--dsn-b\r\nContent-Type: text/rfc822-headers\r\n\r\n{headers}\r\n"
        "--dsn-b--\r\n"
    ).encode()


def test_mailbox_simulator_outcomes(start_server, receiver, tmp_path):
    f = Setup(start_server, receiver, tmp_path)
    # The simulator is reachable from the sandbox: only the sender is verified.
    admin(f.server, "verify-identity", DOMAIN, "--account", ACCOUNT_ID, "--region", REGION)
    ids = {}
    for name in ("success", "bounce", "suppressionlist", "complaint", "ooto"):
        ids[name] = f.send(f"{name}@{SIM}", f"sim-{name}")
        time.sleep(1.1)  # the sandbox's rate: one message per second

    success = f.wait_event(ids["success"], "Delivery")["delivery"]
    assert success["recipients"] == [f"success@{SIM}"]
    assert success["smtpResponse"].startswith("250")

    bounce = f.wait_event(ids["bounce"], "Bounce")["bounce"]
    assert (bounce["bounceType"], bounce["bounceSubType"]) == ("Permanent", "General")
    [r] = bounce["bouncedRecipients"]
    assert (r["emailAddress"], r["action"], r["status"]) == (f"bounce@{SIM}", "failed", "5.1.1")
    assert r["diagnosticCode"] == "smtp; 550 5.1.1 user unknown"

    listed = f.wait_event(ids["suppressionlist"], "Bounce")["bounce"]
    assert (listed["bounceType"], listed["bounceSubType"]) == ("Permanent", "Suppressed")
    assert listed["bouncedRecipients"][0]["emailAddress"] == f"suppressionlist@{SIM}"

    assert f.wait_event(ids["complaint"], "Delivery")["delivery"]["recipients"] == [f"complaint@{SIM}"]
    complaint = f.wait_event(ids["complaint"], "Complaint")
    c = complaint["complaint"]
    assert c["complainedRecipients"] == [{"emailAddress": f"complaint@{SIM}"}]
    assert c["complaintFeedbackType"] == "abuse"
    assert c["feedbackId"] and c["timestamp"]
    assert complaint["mail"]["source"] == SENDER

    assert f.wait_event(ids["ooto"], "Delivery")["delivery"]["recipients"] == [f"ooto@{SIM}"]
    reply = delivered(receiver, "Out of the office: hello sim-ooto")
    assert reply["to"] == [SENDER], "the automatic answer goes back to the sender"
    assert b"Auto-Submitted: auto-replied" in reply["data"]
    assert f"In-Reply-To: <{ids['ooto']}@email.amazonses.com>".encode() in reply["data"]

    # No connection is made for the simulator, and none of it touches the account:
    # no suppression, no bounce or complaint in the statistics, no daily quota used.
    time.sleep(1.5)
    assert all(SIM not in rcpt for m in receiver.messages for rcpt in m["to"])
    for name in ("bounce", "suppressionlist", "complaint"):
        assert f.suppressed(f"{name}@{SIM}") is None
    points = f.server.client("ses").get_send_statistics()["SendDataPoints"]
    assert sum(p["DeliveryAttempts"] for p in points) == 5
    assert sum(p["Bounces"] + p["Complaints"] for p in points) == 0
    assert f.server.client("ses").get_send_quota()["SentLast24Hours"] == 0
    assert f.server.stop() == 0, f.server.log_tail()


def test_hard_bounce_goes_to_the_suppression_list_as_the_reasons_say(start_server, receiver, tmp_path):
    f = Setup(start_server, receiver, tmp_path)
    prepare_sender(f.server)
    receiver.script["gone@dest.example"] = ["550 5.1.1 No such user"] * 10
    message_id = f.send("gone@dest.example", "hb-1")
    bounce = f.wait_event(message_id, "Bounce")["bounce"]
    assert bounce["bounceType"] == "Permanent"
    wait_until(lambda: f.suppressed("gone@dest.example"), 10, what="the address is suppressed")
    entry = f.suppressed("gone@dest.example")
    assert entry["Reason"] == "BOUNCE"
    assert entry["Attributes"]["MessageId"] == message_id
    assert entry["Attributes"]["FeedbackId"] == bounce["feedbackId"]
    points = f.server.client("ses").get_send_statistics()["SendDataPoints"]
    assert sum(p["Bounces"] for p in points) == 1

    # The next send is accepted, as SES does, but the address is held back.
    again = f.send("gone@dest.example", "hb-2")
    status, _, body = f.server.raw("GET", "/_sesame/messages")
    assert status == 200
    [stored] = [m for m in json.loads(body)["messages"] if m["messageId"] == again]
    assert stored["destination"] == []
    assert stored["suppressed"] == [{"address": "gone@dest.example", "reason": "BOUNCE"}]
    time.sleep(2)
    # Only its feedback (a Bounce, OnAccountSuppressionList) reaches the sender.
    assert not [m for m in receiver.received("hb-2") if "gone@dest.example" in m["to"]]
    assert f.wait_event(again, "Bounce")["bounce"]["bounceSubType"] == "OnAccountSuppressionList"

    # Only complaints suppress now: another hard bounce does not ...
    f.server.aws("sesv2", "put-account-suppression-attributes", "--suppressed-reasons", "COMPLAINT")
    receiver.script["gone2@dest.example"] = ["550 5.1.1 No such user"] * 10
    f.wait_event(f.send("gone2@dest.example", "hb-3"), "Bounce")
    time.sleep(1)
    assert f.suppressed("gone2@dest.example") is None
    # ... unless the configuration set's own suppression options say BOUNCE.
    f.server.aws("sesv2", "create-configuration-set", "--configuration-set-name", "fb-bounces",
                 "--suppression-options", "SuppressedReasons=BOUNCE")
    receiver.script["gone3@dest.example"] = ["550 5.1.1 No such user"] * 10
    f.wait_event(f.send("gone3@dest.example", "hb-4", ConfigurationSetName="fb-bounces"), "Bounce")
    wait_until(lambda: f.suppressed("gone3@dest.example"), 10, what="suppressed through the set's options")
    assert f.server.stop() == 0, f.server.log_tail()


def test_arf_complaint_links_to_the_original_message(start_server, receiver, tmp_path):
    f = Setup(start_server, receiver, tmp_path)
    prepare_sender(f.server)
    message_id = f.send("carol@dest.example", "arf-1")
    got = delivered(receiver, "arf-1")
    return_path = got["from"]
    assert return_path.startswith("bounces+") and return_path.endswith(f"@{BOUNCE_DOMAIN}"), return_path

    code, text = f.report(return_path, arf_report(got["data"], "carol@dest.example", return_path))
    assert code == 250, text
    complaint = f.wait_event(message_id, "Complaint")
    c = complaint["complaint"]
    assert c["complainedRecipients"] == [{"emailAddress": "carol@dest.example"}]
    assert (c["complaintFeedbackType"], c["userAgent"]) == ("abuse", "ExampleFBL/2.1")
    assert c["arrivalDate"] == "Mon, 23 Nov 2026 01:02:03 +0000"
    assert c["feedbackId"] in text
    assert complaint["mail"]["destination"] == ["carol@dest.example"]
    wait_until(lambda: f.suppressed("carol@dest.example"), 10, what="the complainer is suppressed")
    assert f.suppressed("carol@dest.example")["Reason"] == "COMPLAINT"
    points = f.server.client("ses").get_send_statistics()["SendDataPoints"]
    assert sum(p["Complaints"] for p in points) == 1

    # A feedback loop that reports to the plain bounce address: linked by Message-ID.
    second = f.send("erin@dest.example", "arf-2")
    got2 = delivered(receiver, "arf-2")
    plain = f"bounces@{BOUNCE_DOMAIN}"
    code, text = f.report(plain, arf_report(got2["data"], "erin@dest.example", plain))
    assert code == 250, text
    assert f.wait_event(second, "Complaint")["complaint"]["complainedRecipients"] == [{"emailAddress": "erin@dest.example"}]
    assert f.server.stop() == 0, f.server.log_tail()


def test_dsn_reports_become_bounce_events(start_server, receiver, tmp_path):
    f = Setup(start_server, receiver, tmp_path)
    prepare_sender(f.server)
    message_id = f.send("dave@dest.example", "dsn-1")
    got = delivered(receiver, "dsn-1")
    f.wait_event(message_id, "Delivery")

    code, text = f.report(got["from"], dsn_report(got["data"], "dave@dest.example", got["from"]))
    assert code == 250, text
    b = f.wait_event(message_id, "Bounce")["bounce"]
    assert (b["bounceType"], b["bounceSubType"]) == ("Permanent", "NoEmail")
    assert b["reportingMTA"] == "dsn; mx.dest.example"
    [r] = b["bouncedRecipients"]
    assert (r["emailAddress"], r["action"], r["status"]) == ("dave@dest.example", "failed", "5.1.1")
    assert r["diagnosticCode"] == "smtp; 550 5.1.1 <dave@dest.example>: mailbox unavailable"
    wait_until(lambda: f.suppressed("dave@dest.example"), 10, what="the bounced address is suppressed")

    # A delay report is a soft bounce: reported, not suppressed.
    later = f.send("frank@dest.example", "dsn-2")
    got2 = delivered(receiver, "dsn-2")
    code, text = f.report(got2["from"], dsn_report(got2["data"], "frank@dest.example", got2["from"], "delayed", "4.4.7"))
    assert code == 250, text
    soft = f.wait_event(later, "Bounce")["bounce"]
    assert soft["bounceType"] == "Transient"
    assert soft["bouncedRecipients"][0]["action"] == "delayed"
    time.sleep(1)
    assert f.suppressed("frank@dest.example") is None
    assert f.server.stop() == 0, f.server.log_tail()


def test_forged_and_unlinkable_reports_are_refused(start_server, receiver, tmp_path):
    f = Setup(start_server, receiver, tmp_path)
    prepare_sender(f.server)
    message_id = f.send("gina@dest.example", "forge-1")
    got = delivered(receiver, "forge-1")
    token = got["from"]
    local, _, domain = token.partition("@")
    last = local[-1]
    forged = f"{local[:-1]}{'0' if last != '0' else '1'}@{domain}"
    report = dsn_report(got["data"], "gina@dest.example", forged)

    code, text = f.report(forged, report)
    assert code == 550 and "authentication" in text, (code, text)
    code, text = f.report(f"bounces+abc@{BOUNCE_DOMAIN}", report)
    assert code == 550 and "malformed" in text, (code, text)
    code, text = f.report("postmaster@elsewhere.example", report)
    assert code == 550, (code, text)
    # A valid address, but not a report / a report about mail we never sent.
    code, text = f.report(token, b"Subject: hello\r\n\r\njust chatting\r\n")
    assert code == 550 and "Not a delivery status or feedback report" in text, (code, text)
    stranger = dsn_report(
        b"From: x@y.example\r\nMessage-ID: <nope@elsewhere.example>\r\n\r\nbody", "x@dest.example", "b"
    )
    code, text = f.report(f"bounces@{BOUNCE_DOMAIN}", stranger)
    assert code == 550 and "matches no message" in text, (code, text)

    time.sleep(1)
    assert not events_of(f.events, message_id, "Bounce"), "nothing refused was recorded"
    assert f.suppressed("gina@dest.example") is None
    assert f.server.stop() == 0, f.server.log_tail()


@pytest.fixture(scope="module")
def module_receiver():
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def own_server(start_server, module_receiver, tmp_path_factory):
    """This module's server for the organization fixtures: relaying to
    `module_receiver`, events in `server.events_path`."""
    events = tmp_path_factory.mktemp("feedback-events") / "events.jsonl"
    s = start_server(extra_args=[
        "--delivery", "relay",
        "--relay", f"smtp://127.0.0.1:{module_receiver.port}",
        "--events-file", str(events),
    ])
    s.events_path = events
    yield s
    assert s.stop() == 0, s.log_tail()


def test_delegate_bounces_count_against_the_delegate(ses, delegate, module_receiver):
    """Seed 003: a delegate's hard bounce counts toward the delegate's statistics and
    suppression list, not the identity owner's."""
    domain = unique_domain("fb-owner")
    resource = ses.verify(domain)
    ses.client("sesv2").create_email_identity_policy(
        EmailIdentity=domain,
        PolicyName="delegate",
        Policy=doc({"Effect": "Allow", "Principal": {"AWS": delegate.account_id}, "Action": SEND_ACTIONS, "Resource": resource}),
    )
    target = f"{unique('gone')}@dest.example"
    module_receiver.script[target] = ["550 5.1.1 No such user"] * 10
    sent = ses.client("ses", delegate.user).send_email(
        Source=f"news@{domain}",
        Destination={"ToAddresses": [target]},
        Message={"Subject": {"Data": "delegated"}, "Body": {"Text": {"Data": "hi"}}},
        SourceArn=resource,
    )["MessageId"]
    events = ses.server.events_path
    wait_until(lambda: events_of(events, sent, "Bounce"), 30, what="the delegate's bounce")
    [bounce] = events_of(events, sent, "Bounce")
    assert bounce["mail"]["sendingAccountId"] == delegate.account_id
    assert bounce["mail"]["sourceArn"] == resource

    def suppressed(creds):
        r = ses.aws("sesv2", "get-suppressed-destination", "--email-address", target, creds=creds, check=False)
        return r.json["SuppressedDestination"] if r.returncode == 0 else None

    wait_until(lambda: suppressed(delegate.admin), 10, what="the delegate's suppression list")
    assert suppressed(delegate.admin)["Reason"] == "BOUNCE"
    assert suppressed(ROOT) is None, "the owner's suppression list is not touched"
    bounces = lambda creds: sum(p["Bounces"] for p in ses.client("ses", creds).get_send_statistics()["SendDataPoints"])  # noqa: E731
    assert bounces(delegate.admin) == 1
    assert bounces(ROOT) == 0
