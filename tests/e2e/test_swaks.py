"""The SMTP interface driven by swaks, a real SMTP client, over real TLS: a listener
with a certificate (no plaintext AUTH allowed), SES SMTP credentials of the listener's
region, the STARTTLS requirement, `aws:SecureTransport` in policies, and delegate
sending with X-SES-SOURCE-ARN (stripped before the message is stored)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

import pytest

from e2e_support import unique
from ses_fixtures import (
    ACCOUNT_ID,
    SIMULATOR,
    SesServer,
    _free_port,
    doc,
    ses_denial,
    smtp_password,
    unique_domain,
)

REGION = "eu-west-1"

@dataclass
class TlsSmtp:
    ses: SesServer
    port: int


@pytest.fixture(scope="module")
def tls_smtp(start_server, tmp_path_factory) -> TlsSmtp:
    """A server whose SMTP listener offers STARTTLS with a self-signed certificate and
    refuses AUTH before it; SMTP credentials of eu-west-1."""
    certs = tmp_path_factory.mktemp("certs")
    cert, key = certs / "cert.pem", certs / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    port = _free_port()
    server = start_server(extra_args=[
        "--smtp", f"127.0.0.1:{port}", "--tls-cert", str(cert), "--tls-key", str(key), "--smtp-region", REGION,
    ])
    ses = SesServer(server)
    ses.production(ACCOUNT_ID, REGION)
    yield TlsSmtp(ses, port)
    assert server.stop() == 0, server.log_tail()


def swaks(endpoint: TlsSmtp, user: str, password: str, sender: str, *extra: str, tls: bool = True) -> str:
    """Runs swaks to the simulator; returns its transcript (client and server lines)."""
    cmd = [
        "swaks", "--server", "127.0.0.1", "--port", str(endpoint.port), "--helo", "client.example",
        "--from", sender, "--to", SIMULATOR, "--auth", "LOGIN", "--auth-user", user, "--auth-password", password,
        "--timeout", "20", *(["--tls"] if tls else []), *extra,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout


def server_replies(transcript: str) -> list[str]:
    """The server's reply lines of a swaks transcript (`<-` and `<~` for TLS)."""
    return [line[4:].strip() for line in transcript.splitlines() if line.startswith(("<- ", "<~ ", "<** ", "<~* "))]


def tls_only_user(ses: SesServer, identity: str):
    """A user allowed ses:SendRawEmail on `identity` only over TLS; returns its
    credentials."""
    creds, _ = ses.make_user(unique("swaks"), ("send", doc(
        {"Effect": "Allow", "Action": "ses:SendRawEmail", "Resource": identity},
        {"Effect": "Deny", "Action": "ses:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    )))
    return creds


def test_auth_needs_starttls_then_a_tls_send_is_accepted(tls_smtp):
    ses = tls_smtp.ses
    domain = unique_domain("swaks")
    identity = ses.verify(domain, region=REGION)
    creds = tls_only_user(ses, identity)
    user, password = creds.access_key_id, smtp_password(creds.secret, REGION)
    sender = f"news@{domain}"

    plain = server_replies(swaks(tls_smtp, user, password, sender, tls=False))
    assert "530 Must issue a STARTTLS command first" in plain, plain

    subject = unique("swaks-tls")
    replies = server_replies(swaks(tls_smtp, user, password, sender, "--header", f"Subject: {subject}"))
    assert "235 Authentication successful." in replies, replies
    accepted = [r for r in replies if r.startswith("250 Ok ")]
    assert len(accepted) == 1, replies
    message_id = accepted[0].removeprefix("250 Ok ")
    stored = ses.captured(message_id)
    assert f"Subject: {subject}" in stored["raw"] and stored["destination"] == [SIMULATOR]


def test_credentials_of_another_region_are_refused(tls_smtp):
    """The same secret's SMTP password derived for us-east-1 does not open the
    eu-west-1 listener; the eu-west-1 one does."""
    ses = tls_smtp.ses
    domain = unique_domain("swaks-region")
    ses.verify(domain, region=REGION)
    creds = tls_only_user(ses, f"arn:aws:ses:{REGION}:{ACCOUNT_ID}:identity/{domain}")
    wrong = server_replies(swaks(tls_smtp, creds.access_key_id, smtp_password(creds.secret, "us-east-1"), f"news@{domain}"))
    assert "535 Authentication Credentials Invalid" in wrong, wrong
    right = server_replies(swaks(tls_smtp, creds.access_key_id, smtp_password(creds.secret, REGION), f"news@{domain}"))
    assert "235 Authentication successful." in right, "\n".join(right)


def test_delegate_header_is_authorized_and_stripped(tls_smtp):
    """A user of the same account sends from an identity named by X-SES-SOURCE-ARN;
    the decision is taken on that identity and the header does not reach the message."""
    ses = tls_smtp.ses
    domain = unique_domain("swaks-delegate")
    identity = ses.verify(domain, region=REGION)
    creds, arn = ses.make_user(unique("swaks-del"), ("send", doc(
        {"Effect": "Allow", "Action": "ses:SendRawEmail", "Resource": f"arn:aws:ses:{REGION}:{ACCOUNT_ID}:identity/other.example"},
    )))
    password = smtp_password(creds.secret, REGION)
    sender = f"news@{domain}"
    header = ["--header", f"X-SES-SOURCE-ARN: {identity}"]

    denied = server_replies(swaks(tls_smtp, creds.access_key_id, password, sender, *header))
    expected = "554 Access denied: " + ses_denial(arn, "ses:SendRawEmail", identity)
    assert expected in denied, denied

    ses.client("iam", region=REGION).put_user_policy(UserName=arn.split("/")[-1], PolicyName="send", PolicyDocument=doc(
        {"Effect": "Allow", "Action": "ses:SendRawEmail", "Resource": identity},
    ))
    replies = server_replies(swaks(tls_smtp, creds.access_key_id, password, sender, *header))
    accepted = [r for r in replies if r.startswith("250 Ok ")]
    assert len(accepted) == 1, replies
    stored = ses.captured(accepted[0].removeprefix("250 Ok "))
    assert stored["fromIdentity"] == identity
    assert "x-ses-source-arn" not in stored["raw"].lower()
