"""SMTP submissions end to end with smtplib: message bodies kept byte for byte
(8BITMIME, bytes that are not UTF-8) from DATA through the spool to the capture store
and to a receiving server (aiosmtpd, relay mode); and SMTP in the audit trail — AUTH
failures, denials with their decision trace (`sesame explain`), accepted messages."""

from __future__ import annotations

import base64
import json
import smtplib
import socket
import subprocess
import time

import pytest

from e2e_support import ACCOUNT_ID, REGION, ROOT, unique, wait_until
from ses_fixtures import SIMULATOR, doc, identity_arn, smtp, smtp_password, unique_domain  # noqa: F401
from test_delivery import Receiver, free_port, prepare_sender

BODY_8BIT = b"caf\xe9 na\xefve \xff\xfe\x80 \xc3\xa9t\xc3\xa9\r\nsecond line \xa4\r\n"


def eight_bit_message(sender: str, to: str, subject: str) -> bytes:
    head = (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    )
    return head.encode() + BODY_8BIT


def submit(host: str, port: int, user: str, password: str, sender: str, to: str, message: bytes) -> tuple[int, bytes]:
    """One message over SMTP with BODY=8BITMIME; returns the reply to DATA."""
    client = smtplib.SMTP(host, port, timeout=30)
    try:
        client.ehlo("e2e.example.com")
        assert client.has_extn("8bitmime")
        client.login(user, password)
        code, reply = client.mail(sender, ["BODY=8BITMIME"])
        assert code == 250, reply
        code, reply = client.rcpt(to)
        assert code == 250, reply
        return client.data(message)
    finally:
        client.close()


def sesame(server, *args: str) -> subprocess.CompletedProcess:
    cmd = [str(server.binary), *args, "--data-dir", str(server.data_dir)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def smtp_events(server, *filters: str) -> list[dict]:
    p = sesame(server, "audit", "--event-source", "smtp", "--json", *filters)
    assert p.returncode == 0, p.stderr
    return [json.loads(line) for line in p.stdout.splitlines()]


def test_8bit_body_is_stored_byte_exact(smtp):
    domain = unique_domain("eightbit")
    smtp.ses.verify(domain, region=smtp.region)
    sender = f"news@{domain}"
    message = eight_bit_message(sender, SIMULATOR, unique("8bit"))
    password = smtp_password(ROOT.secret, smtp.region)
    code, reply = submit(smtp.host, smtp.port, ROOT.access_key_id, password, sender, SIMULATOR, message)
    assert code == 250, reply
    message_id = reply.decode().removeprefix("Ok ")
    stored = smtp.ses.captured(message_id)["raw"]
    assert base64.b64decode(stored["base64"]) == message


def test_8bit_body_is_relayed_byte_exact(start_server, tmp_path):
    receiver = Receiver().start()
    try:
        smtp_port = free_port()
        server = start_server(
            tmp_path / "data",
            extra_args=[
                "--delivery", "relay", "--relay", f"smtp://127.0.0.1:{receiver.port}",
                "--events-file", str(tmp_path / "events.jsonl"),
                "--smtp", f"127.0.0.1:{smtp_port}", "--smtp-insecure-auth", "--smtp-region", REGION,
            ],
        )
        prepare_sender(server)
        marker = unique("relay8bit")
        to = "someone@receiver.example"
        message = eight_bit_message("news@dkim-sender.example", to, marker)
        password = smtp_password(ROOT.secret, REGION)
        code, reply = submit("127.0.0.1", smtp_port, ROOT.access_key_id, password, "news@dkim-sender.example", to, message)
        assert code == 250, reply
        got = wait_until(lambda: receiver.received(marker), 30, what="the relayed message")
        assert len(got) == 1
        # Delivery adds its DKIM-Signature field on top; every byte sent follows.
        assert got[0]["data"].endswith(message)
    finally:
        receiver.stop()


def test_auth_failure_is_audited_without_the_password(smtp):
    server = smtp.ses.server
    wrong = smtp_password("not-the-secret", smtp.region)
    client = smtplib.SMTP(smtp.host, smtp.port, timeout=30)
    try:
        client.ehlo("e2e.example.com")
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.login(ROOT.access_key_id, wrong)
        assert refused.value.smtp_code == 535
    finally:
        client.close()
    events = wait_until(
        lambda: [e for e in smtp_events(server, "--event-name", "Authenticate", "--denied")
                 if e["access_key_id"] == ROOT.access_key_id],
        20,
        what="the AUTH failure in the audit trail",
    )
    detail = events[0]["detail"]
    assert detail["errorCode"] == "SignatureDoesNotMatch"
    assert detail["responseElements"]["smtpReply"] == "535 Authentication Credentials Invalid"
    assert detail["sourceIPAddress"] == "127.0.0.1"
    assert wrong not in json.dumps(events[0])


def test_smtp_denial_is_explained_and_accepted_send_is_recorded(smtp):
    ses, server = smtp.ses, smtp.ses.server
    domain = unique_domain("audit")
    resource = ses.verify(domain, region=smtp.region)
    sender = f"news@{domain}"
    name = unique("smtp-audit")
    creds, arn = ses.make_user(name, ("send", doc({"Effect": "Allow", "Action": "ses:SendEmail", "Resource": "*"})))
    password = smtp_password(creds.secret, smtp.region)
    message = eight_bit_message(sender, SIMULATOR, unique("denied"))

    code, reply = submit(smtp.host, smtp.port, creds.access_key_id, password, sender, SIMULATOR, message)
    assert code == 554 and reply.decode().startswith("Access denied: User `" + arn), reply

    denials = wait_until(
        lambda: smtp_events(server, "--user", name, "--denied"), 20, what="the SMTP denial in the audit trail"
    )
    assert len(denials) == 1
    detail = denials[0]["detail"]
    assert detail["eventSource"] == "smtp" and detail["eventName"] == "SendRawEmail"
    assert detail["errorCode"] == "AccessDenied"
    assert detail["responseElements"]["smtpReply"] == "554 " + reply.decode()
    assert detail["requestParameters"]["recipients"] == [SIMULATOR]
    assert denials[0]["trace"], "a denial carries its decision trace"

    explained = sesame(server, "explain", detail["requestID"])
    assert explained.returncode == 0, explained.stderr
    assert "smtp:SendRawEmail" in explained.stdout and "AccessDenied" in explained.stdout
    assert arn in explained.stdout and resource in explained.stdout
    trace_lines = [line.strip() for line in explained.stdout.splitlines() if line.startswith("    ")]
    assert trace_lines == denials[0]["trace"]

    ses.client("iam").put_user_policy(
        UserName=name, PolicyName="send",
        PolicyDocument=doc({"Effect": "Allow", "Action": "ses:SendRawEmail", "Resource": resource}),
    )
    code, reply = submit(smtp.host, smtp.port, creds.access_key_id, password, sender, SIMULATOR, message)
    assert code == 250, reply
    message_id = reply.decode().removeprefix("Ok ")
    wait_until(lambda: sesame(server, "explain", message_id).returncode == 0, 20, what="the accepted send")
    accepted = json.loads(sesame(server, "explain", message_id, "--json").stdout)
    assert accepted["detail"]["responseElements"]["smtpReply"] == f"250 Ok {message_id}"
    assert "errorCode" not in accepted["detail"]
    assert accepted["detail"]["userIdentity"]["arn"] == arn
