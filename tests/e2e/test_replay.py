"""Replay, least privilege and encoded authorization messages, end to end against a
real `sesame serve` driven by boto3 and the AWS CLI:

- `sesame simulate --replay`: editing the sending authorization policy a delegate
  send went through lists exactly that send as allowed -> denied; an unrelated send
  stays as it was; the unchanged policy changes nothing (exit 0).
- `sesame policy generate`: the policy built from what a user did, put on a fresh
  user, allows those calls and denies others (real sends).
- a denial's encoded authorization message (response header) decodes with
  `aws sts decode-authorization-message` for a principal of the denied account
  allowed `sts:DecodeAuthorizationMessage`, and for no one else."""

from __future__ import annotations

import json
import subprocess

from botocore.exceptions import ClientError

from e2e_support import ACCOUNT_ID, REGION, cli_error, denial, no_policy_allows, unique, wait_until
from ses_fixtures import (  # noqa: F401  (fixtures)
    SEND_ACTIONS,
    SIMULATOR,
    delegate,
    doc,
    expect_client_error,
    identity_arn,
    organization,
    ses,
    ses_denial,
    unique_domain,
)

HEADER = "x-sesame-encoded-authorization-message"


def sesame(ses, *args: str) -> subprocess.CompletedProcess:
    cmd = [str(ses.server.binary), *args, "--data-dir", str(ses.server.data_dir)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def recorded(ses, request_id: str) -> None:
    """Waits until the audit writer has recorded the call."""
    wait_until(lambda: sesame(ses, "explain", request_id).returncode == 0, 10, what=f"call {request_id} recorded")


def send(ses, creds, sender: str, **extra) -> str:
    """A SES v1 SendEmail by `creds`; returns its request id."""
    r = ses.client("ses", creds).send_email(
        Source=sender,
        Destination={"ToAddresses": [SIMULATOR]},
        Message={"Subject": {"Data": unique("replay")}, "Body": {"Text": {"Data": "hi"}}},
        **extra,
    )
    return r["ResponseMetadata"]["RequestId"]


def grant(resource: str, principal: str) -> str:
    return doc({"Sid": "Delegate", "Effect": "Allow", "Principal": {"AWS": principal},
                "Action": SEND_ACTIONS, "Resource": resource})


def replay(ses, tmp_path, target: str, document: str) -> tuple[int, dict]:
    path = tmp_path / f"{unique('proposed')}.json"
    path.write_text(document)
    p = sesame(ses, "simulate", "--replay", "--since", "1h", "--with-policy", f"{target}={path}", "--format", "json")
    assert p.returncode in (0, 1), f"replay failed ({p.returncode}): {p.stderr}"
    return p.returncode, json.loads(p.stdout)


def test_replay_lists_the_delegate_send_a_policy_edit_would_break(ses, delegate, tmp_path):
    domain = unique_domain("replay-owner")
    resource = ses.verify(domain)
    ses.client("sesv2").create_email_identity_policy(
        EmailIdentity=domain, PolicyName="delegates", Policy=grant(resource, delegate.account_id)
    )
    delegated = send(ses, delegate.user, f"news@{domain}", SourceArn=resource)

    other = unique_domain("replay-own")
    ses.verify(other)
    creds, _ = ses.make_user(unique("replay-own"), ("send", doc({"Effect": "Allow", "Action": SEND_ACTIONS,
                                                                  "Resource": identity_arn(other)})))
    unrelated = send(ses, creds, f"info@{other}")
    recorded(ses, delegated)
    recorded(ses, unrelated)

    # The owner means to move the grant to another account: the recorded delegate send breaks.
    code, report = replay(ses, tmp_path, f"identity/{domain}:delegates", grant(resource, "999999999999"))
    assert code == 1, report
    assert [c["requestId"] for c in report["changed"]] == [delegated], report
    change = report["changed"][0]
    assert change["change"] == "allowed -> denied"
    assert change["principal"] == delegate.user_arn and change["eventName"] == "SendEmail"
    assert change["after"] == {
        "decision": "implicitDeny",
        "action": "ses:SendEmail",
        "resource": resource,
        "decidedBy": "resource: no statement allows it",
    }
    assert change["before"]["decision"] == "allowed"
    assert change["before"]["decidedBy"] == "identity policy send: statement 1"  # the delegate's own policy
    assert report["summary"]["changed"] == 1 and report["summary"]["allowedToDenied"] == 1
    assert unrelated not in json.dumps(report["changed"])

    # The same edit in text form names the request, and the unchanged policy changes nothing.
    path = tmp_path / "same.json"
    path.write_text(grant(resource, "999999999999"))
    text = sesame(ses, "simulate", "--replay", "--since", "1h", "--with-policy", f"identity/{domain}:delegates={path}")
    assert text.returncode == 1
    assert f"allowed -> denied  {delegated}" in text.stdout and "ses:SendEmail on " + resource in text.stdout
    code, report = replay(ses, tmp_path, f"identity/{domain}:delegates", grant(resource, delegate.account_id))
    assert code == 0 and report["changed"] == [], report

    # A user-policy edit turns calls around both ways: the user's own send from the
    # owner's domain (denied when made) would pass, its send from `other` would not.
    user = creds_user(ses, creds)
    _, _, refused = denied_with_message(ses.client("ses", creds).send_email, **simple_send(f"info@{domain}"))
    recorded(ses, refused)
    allow_domain = doc({"Effect": "Allow", "Action": SEND_ACTIONS, "Resource": resource})
    code, report = replay(ses, tmp_path, f"user/{user}:send", allow_domain)
    assert code == 1, report
    directions = {c["requestId"]: c["change"] for c in report["changed"]}
    assert directions == {unrelated: "allowed -> denied", refused: "denied -> allowed"}, report
    assert report["summary"]["deniedToAllowed"] == 1 and report["summary"]["allowedToDenied"] == 1
    came_back = next(c for c in report["changed"] if c["requestId"] == refused)
    assert came_back["after"]["decidedBy"] == "identity policy send: statement 1"


def simple_send(sender: str) -> dict:
    return dict(Source=sender, Destination={"ToAddresses": [SIMULATOR]},
                Message={"Subject": {"Data": unique("replay")}, "Body": {"Text": {"Data": "hi"}}})


def creds_user(ses, creds) -> str:
    return ses.client("sts", creds).get_caller_identity()["Arn"].rsplit("/", 1)[1]


def test_replay_rejects_a_broken_target_or_document(ses, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"Statement": [')
    p = sesame(ses, "simulate", "--replay", "--since", "1h", "--with-policy", f"user/alice:P={path}")
    assert p.returncode == 2 and "user/alice:P" in p.stderr
    p = sesame(ses, "simulate", "--replay", "--since", "1h", "--with-policy", f"group/g:P={path}")
    assert p.returncode == 2 and "not a replay target" in p.stderr


def test_generated_policy_allows_the_observed_calls_and_denies_others(ses, tmp_path):
    used = unique_domain("lp-used")
    unused = unique_domain("lp-unused")
    ses.verify(used)
    ses.verify(unused)
    broad, arn = ses.make_user(unique("lp-broad"), ("all", doc({"Effect": "Allow", "Action": "ses:*", "Resource": "*"})))
    last = send(ses, broad, f"team@{used}")
    ses.client("ses", broad).get_send_quota()
    # A denied call is not something the user did.
    try:
        ses.client("iam", broad).list_users()
    except ClientError:
        pass
    recorded(ses, last)

    p = sesame(ses, "policy", "generate", "--principal", arn, "--since", "1h")
    assert p.returncode == 0, p.stderr
    policy = json.loads(p.stdout)
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert {(s["Action"], s["Resource"]) for s in statements.values()} == {
        ("ses:GetSendQuota", "*"),
        ("ses:SendEmail", identity_arn(used)),
    }, policy
    path = tmp_path / "generated.json"
    path.write_text(p.stdout)
    validated = subprocess.run([str(ses.server.binary), "policy", "validate", str(path)],
                               capture_output=True, text=True, timeout=60)
    assert validated.returncode == 0 and validated.stdout == "", validated.stdout

    fresh, fresh_arn = ses.make_user(unique("lp-fresh"), ("generated", p.stdout))
    send(ses, fresh, f"team@{used}")
    ses.client("ses", fresh).get_send_quota()
    v1 = ses.client("ses", fresh)
    message = {"Subject": {"Data": "x"}, "Body": {"Text": {"Data": "x"}}}
    assert expect_client_error(v1.send_email, Source=f"team@{unused}", Destination={"ToAddresses": [SIMULATOR]},
                               Message=message)[0] == "AccessDenied"
    raw = f"From: team@{used}\r\nTo: {SIMULATOR}\r\nSubject: x\r\n\r\nx\r\n"
    assert expect_client_error(v1.send_raw_email, RawMessage={"Data": raw})[0] == "AccessDenied"
    assert expect_client_error(v1.list_identities)[0] == "AccessDenied"

    nobody = sesame(ses, "policy", "generate", "--principal", f"arn:aws:iam::{ACCOUNT_ID}:user/{unique('none')}",
                    "--since", "1h")
    assert nobody.returncode == 1 and "no authorized call" in nobody.stderr


def denied_with_message(call, **kwargs) -> tuple[str, str, str]:
    """(AWS's message, the encoded authorization message header, the request id) of a
    denied call."""
    try:
        call(**kwargs)
    except ClientError as e:
        headers = e.response["ResponseMetadata"]["HTTPHeaders"]
        return e.response["Error"]["Message"], headers.get(HEADER, ""), e.response["ResponseMetadata"]["RequestId"]
    raise AssertionError("the call was allowed")


def decode(ses, creds, encoded: str):
    return ses.aws("sts", "decode-authorization-message", "--encoded-message", encoded, creds=creds, check=False)


def test_encoded_authorization_message_round_trip(ses, delegate):
    deny = {"Sid": "NoIdentityListing", "Effect": "Deny", "Action": "ses:ListIdentities", "Resource": "*"}
    reader, reader_arn = ses.make_user(unique("decoder"), ("p", doc(
        {"Effect": "Allow", "Action": "sts:DecodeAuthorizationMessage", "Resource": "*"}, deny)))
    plain, plain_arn = ses.make_user(unique("plain"))

    # An explicit deny: the message text stays AWS's; the blob rides in a header.
    message, encoded, _ = denied_with_message(ses.client("ses", reader).list_identities)
    assert message == denial(reader_arn, "ses:ListIdentities", "*", "with an explicit deny in an identity-based policy")
    assert encoded and "ListIdentities" not in encoded
    result = decode(ses, reader, encoded)
    assert result.returncode == 0, result.stderr
    decoded = json.loads(result.json["DecodedMessage"])
    assert decoded["allowed"] is False and decoded["explicitDeny"] is True
    assert decoded["failures"] == {"items": []}
    [statement] = decoded["matchedStatements"]["items"]
    assert statement["statementId"] == "NoIdentityListing" and statement["effect"] == "DENY"
    assert statement["actions"] == {"items": [{"value": "ses:ListIdentities"}]}
    context = decoded["context"]
    assert context["principal"]["arn"] == reader_arn and context["principal"]["name"] == reader_arn.rsplit("/", 1)[1]
    assert context["action"] == "ses:ListIdentities" and context["resource"] == "*"
    keys = {c["key"]: c["values"]["items"] for c in context["conditions"]["items"]}
    assert keys["aws:requestedregion"] == [{"value": REGION}]
    assert keys["aws:sourceip"] == [{"value": "127.0.0.1"}]

    # An implicit deny of a user with no policy: decodable by the reader (same account),
    # not by the user itself (no sts:DecodeAuthorizationMessage).
    message, encoded, _ = denied_with_message(ses.client("ses", plain).get_send_quota)
    assert message == denial(plain_arn, "ses:GetSendQuota", "*", no_policy_allows("identity-based policy", "ses:GetSendQuota"))
    decoded = json.loads(decode(ses, reader, encoded).json["DecodedMessage"])
    assert decoded["allowed"] is False and decoded["explicitDeny"] is False
    assert decoded["matchedStatements"] == {"items": []} and decoded["context"]["action"] == "ses:GetSendQuota"
    code, text = cli_error(decode(ses, plain, encoded), "DecodeAuthorizationMessage")
    assert code == "AccessDenied"
    assert text == denial(plain_arn, "sts:DecodeAuthorizationMessage", "*",
                          no_policy_allows("identity-based policy", "sts:DecodeAuthorizationMessage"))

    # A denied send keeps SES's own wording and carries the message too.
    domain = unique_domain("decode")
    resource = ses.verify(domain)
    message, sent_blob, _ = denied_with_message(ses.client("ses", plain).send_email, Source=f"a@{domain}",
                                                Destination={"ToAddresses": [SIMULATOR]},
                                                Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}})
    assert message == ses_denial(plain_arn, "ses:SendEmail", resource)
    decoded = json.loads(decode(ses, reader, sent_blob).json["DecodedMessage"])
    keys = {c["key"]: c["values"]["items"] for c in decoded["context"]["conditions"]["items"]}
    assert decoded["context"]["resource"] == resource and keys["ses:fromaddress"] == [{"value": f"a@{domain}"}]

    # Tampered with, or decoded by another account: invalid.
    tampered = encoded[:-1] + ("0" if encoded[-1] != "0" else "1")
    assert cli_error(decode(ses, reader, tampered), "DecodeAuthorizationMessage")[0] == "InvalidAuthorizationMessageException"
    other = ses.client("iam", delegate.admin)
    other.put_user_policy(UserName=delegate.user_arn.rsplit("/", 1)[1], PolicyName="decode", PolicyDocument=doc(
        {"Effect": "Allow", "Action": "sts:DecodeAuthorizationMessage", "Resource": "*"}))
    code, _ = cli_error(decode(ses, delegate.user, encoded), "DecodeAuthorizationMessage")
    assert code == "InvalidAuthorizationMessageException"

    # Allowed calls carry no message.
    ok = ses.client("sts", reader).get_caller_identity()
    assert HEADER not in ok["ResponseMetadata"]["HTTPHeaders"]
