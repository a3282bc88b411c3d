"""Easy DKIM against a real `sesame serve --delivery relay` and an aiosmtpd receiver:
the key pair exists as soon as the domain identity does (v2 CreateEmailIdentity, v1
VerifyDomainDkim), its selector is the identity's first DKIM token, and signing
follows the identity's switch (v1 SetIdentityDkimEnabled, v2
PutEmailIdentityDkimAttributes SigningEnabled): off, the message arrives without a
DKIM-Signature; on, it arrives signed and dkimpy verifies it against the record
`sesame admin dkim-record` prints."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from e2e_support import ACCOUNT_ID, REGION, unique, wait_until
from ses_fixtures import unique_domain
from test_delivery import Receiver, admin, start_relaying

dkim = pytest.importorskip("dkim")


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


def exported_key(server, domain: str) -> dict | None:
    """The domain's DKIM key record in `sesame export` (run beside the server)."""
    cmd = [str(server.binary), "export", "--data-dir", str(server.data_dir)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    keys = [k for k in json.loads(out)["ses_dkim_signing_keys"].values() if k["domain"] == domain]
    assert len(keys) <= 1, keys
    return keys[0] if keys else None


def dkim_record(server, domain: str) -> tuple[str, str]:
    line = admin(server, "dkim-record", domain, "--account", ACCOUNT_ID, "--region", REGION).strip()
    name, _, text = line.partition(" TXT ")
    return name, text.strip('"')


def send(server, sender: str, marker: str) -> str:
    return server.client("ses").send_email(
        Source=sender,
        Destination={"ToAddresses": ["reader@dest.example"]},
        Message={"Subject": {"Data": f"dkim {marker}"}, "Body": {"Text": {"Data": f"body {marker}"}}},
    )["MessageId"]


def send_and_receive(server, receiver: Receiver, sender: str, marker: str) -> bytes:
    """Sends a message marked `marker`; returns it as the receiver got it."""
    send(server, sender, marker)
    wait_until(lambda: receiver.received(marker), 30, what=f"message {marker} arrives")
    [got] = receiver.received(marker)
    return got["data"]


def verifies(data: bytes, record_name: str, record_text: str) -> bool:
    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        return record_text.encode() if name.rstrip(".") == record_name else None

    return dkim.verify(data, dnsfunc=dnsfunc)


def test_key_is_made_with_the_identity_and_signing_follows_the_switch(start_server, receiver, tmp_path):
    server = start_relaying(start_server, receiver.port, tmp_path / "events.jsonl")
    admin(server, "production-access", "--account", ACCOUNT_ID, "--region", REGION)
    domain = unique_domain("dkim")
    sesv2, ses = server.client("sesv2"), server.client("ses")

    started = time.monotonic()
    created = sesv2.create_email_identity(EmailIdentity=domain)
    elapsed = time.monotonic() - started
    print(f"CreateEmailIdentity of a domain with its key pair: {elapsed:.3f} s")
    attributes = created["DkimAttributes"]
    assert attributes["SigningEnabled"] is True
    tokens = attributes["Tokens"]
    assert len(tokens) == 3

    # The key pair is there before anything sends or asks for it.
    key = exported_key(server, domain)
    assert key is not None, "no DKIM key stored with the new identity"
    assert key["selector"] == tokens[0]
    name, text = dkim_record(server, domain)
    assert name == f"{tokens[0]}._domainkey.{domain}"
    assert text == f"v=DKIM1; k=rsa; p={key['public_key']}"
    assert "plaintext_secret" not in json.dumps(key), "the private key left the store in clear"

    admin(server, "verify-identity", domain, "--account", ACCOUNT_ID, "--region", REGION)
    sender = f"news@{domain}"

    signed = send_and_receive(server, receiver, sender, "on-1")
    assert signed.startswith(b"DKIM-Signature:"), signed[:200]
    assert f"s={tokens[0]}".encode() in signed and f"d={domain}".encode() in signed
    assert verifies(signed, name, text), "dkimpy rejects the signature"

    ses.set_identity_dkim_enabled(Identity=domain, DkimEnabled=False)
    attrs = ses.get_identity_dkim_attributes(Identities=[domain])["DkimAttributes"][domain]
    assert attrs["DkimEnabled"] is False
    unsigned = send_and_receive(server, receiver, sender, "off-1")
    assert b"DKIM-Signature" not in unsigned, unsigned[:300]

    sesv2.put_email_identity_dkim_attributes(EmailIdentity=domain, SigningEnabled=True)
    assert sesv2.get_email_identity(EmailIdentity=domain)["DkimAttributes"]["SigningEnabled"] is True
    again = send_and_receive(server, receiver, sender, "on-2")
    assert again.startswith(b"DKIM-Signature:")
    assert verifies(again, name, text)

    sesv2.put_email_identity_dkim_attributes(EmailIdentity=domain, SigningEnabled=False)
    off = send_and_receive(server, receiver, sender, "off-2")
    assert b"DKIM-Signature" not in off
    assert server.stop() == 0, server.log_tail()


def test_v1_verify_domain_dkim_makes_the_key_of_its_first_token(start_server, tmp_path):
    server = start_server(tmp_path / "data")
    domain = unique_domain("v1dkim")
    ses = server.client("ses")
    plain = unique("plain") + ".example"
    ses.verify_domain_identity(Domain=plain)
    assert exported_key(server, plain) is not None, "every domain identity has its key pair"
    assert ses.get_identity_dkim_attributes(Identities=[plain])["DkimAttributes"][plain]["DkimEnabled"] is False

    tokens = ses.verify_domain_dkim(Domain=domain)["DkimTokens"]
    key = exported_key(server, domain)
    assert key is not None and key["selector"] == tokens[0]
    attrs = ses.get_identity_dkim_attributes(Identities=[domain])["DkimAttributes"][domain]
    assert attrs["DkimEnabled"] is True and attrs["DkimTokens"] == tokens
    assert dkim_record(server, domain)[0] == f"{tokens[0]}._domainkey.{domain}"
    assert server.stop() == 0, server.log_tail()
