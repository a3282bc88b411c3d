"""SigV4 rejections as AWS words them, in the IAM/STS Query XML error shape:
tampered signatures and bodies, wrong secrets, unknown keys, missing
authentication, skewed clocks (botocore with a patched clock, and hand-signed
requests), presigned URLs."""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse

import botocore.auth
import pytest

from e2e_support import (
    ACCOUNT_ID,
    FORM_CT,
    IAM_VERSION,
    MSG_INVALID_TOKEN,
    MSG_MISSING_AUTH,
    MSG_SIGNATURE_MISMATCH,
    ROOT,
    STS_VERSION,
    Creds,
    cli_error,
    expect_error,
    find_text,
    query_error,
    query_result,
    sign_v4,
)

IDENTITY = {"Action": "GetCallerIdentity", "Version": STS_VERSION}
LIST_USERS = {"Action": "ListUsers", "Version": IAM_VERSION}
STAMP = "%Y%m%dT%H%M%SZ"


def xml_error(status, body, expected_status, code, message=None):
    err = query_error(body)
    assert status == expected_status, (status, body)
    assert err["Code"] == code, err
    assert err["Type"] == "Sender", err
    assert re.fullmatch(r"[0-9a-f-]{36}", err["RequestId"]), err
    if message is not None:
        assert err["Message"] == message, err
    return err


def test_own_signer_is_accepted(server):
    """The hand signer used below is correct: a well-signed request succeeds (IAM and STS)."""
    status, _, body = server.signed(IDENTITY, service="sts")
    assert status == 200, body
    assert find_text(query_result(body, "GetCallerIdentity"), "Arn") == f"arn:aws:iam::{ACCOUNT_ID}:root"
    status, _, body = server.signed(LIST_USERS)
    assert status == 200, body
    query_result(body, "ListUsers")


def test_tampered_signature(server):
    def flip_last_hex(headers, body):
        auth = headers["Authorization"]
        last = auth[-1]
        headers["Authorization"] = auth[:-1] + ("0" if last != "0" else "1")
        return headers, body

    status, _, body = server.signed(LIST_USERS, mutate=flip_last_hex)
    xml_error(status, body, 403, "SignatureDoesNotMatch", MSG_SIGNATURE_MISMATCH)
    server.alive()


def test_tampered_body(server):
    def swap_action(headers, body):
        return headers, body.replace(b"ListUsers", b"ListRoles")

    status, _, body = server.signed(LIST_USERS, mutate=swap_action)
    xml_error(status, body, 403, "SignatureDoesNotMatch", MSG_SIGNATURE_MISMATCH)


def test_tampered_signed_header(server):
    def change_date_header_only(headers, body):
        # Same scope date, one second later: the signature no longer covers it.
        when = dt.datetime.strptime(headers["X-Amz-Date"], STAMP) + dt.timedelta(seconds=1)
        if when.strftime("%Y%m%d") == headers["X-Amz-Date"][:8]:
            headers["X-Amz-Date"] = when.strftime(STAMP)
        else:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return headers, body

    status, _, body = server.signed(LIST_USERS, mutate=change_date_header_only)
    xml_error(status, body, 403, "SignatureDoesNotMatch", MSG_SIGNATURE_MISMATCH)


def test_wrong_secret_boto3_and_cli(server):
    wrong = Creds(ROOT.access_key_id, ROOT.secret[:-1] + ("x" if ROOT.secret[-1] != "x" else "y"))
    code, message, status = expect_error(server.client("iam", wrong).list_users)
    assert (code, message, status) == ("SignatureDoesNotMatch", MSG_SIGNATURE_MISMATCH, 403)
    out = server.aws("sts", "get-caller-identity", creds=wrong, check=False)
    assert cli_error(out, "GetCallerIdentity") == ("SignatureDoesNotMatch", MSG_SIGNATURE_MISMATCH)


def test_unknown_access_key(server):
    ghost = Creds("AKIAE2EUNKNOWN000000", "whatever-secret-0000000000000000000000000")
    code, message, status = expect_error(server.client("sts", ghost).get_caller_identity)
    assert (code, message, status) == ("InvalidClientTokenId", MSG_INVALID_TOKEN, 403)
    status, _, body = server.signed(LIST_USERS, creds=ghost)
    xml_error(status, body, 403, "InvalidClientTokenId", MSG_INVALID_TOKEN)
    out = server.aws("iam", "list-users", creds=ghost, check=False)
    assert cli_error(out, "ListUsers") == ("InvalidClientTokenId", MSG_INVALID_TOKEN)


@pytest.mark.parametrize("body", [b"Action=ListUsers&Version=2010-05-08", b"Action=GetCallerIdentity&Version=2011-06-15", b""])
def test_missing_authentication(server, body):
    status, _, resp = server.raw("POST", "/", body, {"Content-Type": FORM_CT})
    xml_error(status, resp, 403, "MissingAuthenticationToken", MSG_MISSING_AUTH)
    status, _, resp = server.raw("GET", "/?" + body.decode())
    xml_error(status, resp, 403, "MissingAuthenticationToken", MSG_MISSING_AUTH)


def expired_message(request_time: dt.datetime, err_message: str, before: dt.datetime, after: dt.datetime):
    """AWS: 'Signature expired: REQ is now earlier than NOW-15 (NOW - 15 min.)'."""
    m = re.fullmatch(
        r"Signature expired: (\d{8}T\d{6}Z) is now earlier than (\d{8}T\d{6}Z) \((\d{8}T\d{6}Z) - 15 min\.\)",
        err_message,
    )
    assert m, err_message
    req, earliest, now = (dt.datetime.strptime(g, STAMP).replace(tzinfo=dt.timezone.utc) for g in m.groups())
    assert req == request_time.replace(microsecond=0)
    assert now - earliest == dt.timedelta(minutes=15)
    assert before.replace(microsecond=0) - dt.timedelta(seconds=2) <= now <= after + dt.timedelta(seconds=2)


def test_clock_skew_hand_signed(server):
    before = dt.datetime.now(dt.timezone.utc)
    when = before - dt.timedelta(minutes=20)
    status, _, body = server.signed(LIST_USERS, when=when)
    after = dt.datetime.now(dt.timezone.utc)
    err = xml_error(status, body, 403, "SignatureDoesNotMatch")
    expired_message(when, err["Message"], before, after)

    # And the other way: 20 minutes in the future.
    ahead = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=20)
    status, _, body = server.signed(IDENTITY, service="sts", when=ahead)
    err = xml_error(status, body, 403, "SignatureDoesNotMatch")
    m = re.fullmatch(
        r"Signature not yet current: (\d{8}T\d{6}Z) is still later than (\d{8}T\d{6}Z) \((\d{8}T\d{6}Z) \+ 15 min\.\)",
        err["Message"],
    )
    assert m and m.group(1) == ahead.strftime(STAMP), err["Message"]

    # Within the 15-minute window is fine.
    status, _, body = server.signed(IDENTITY, service="sts", when=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=10))
    assert status == 200, body


def test_clock_skew_botocore_patched_clock(server, monkeypatch):
    skewed = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=20)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: skewed.replace(tzinfo=None))
    before = dt.datetime.now(dt.timezone.utc)
    code, message, status = expect_error(server.client("iam").list_users)
    after = dt.datetime.now(dt.timezone.utc)
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    expired_message(skewed, message, before, after)


def test_scope_date_must_match_request_date(server):
    def move_scope(headers, body):
        real = headers["X-Amz-Date"][:8]
        other = (dt.datetime.strptime(real, "%Y%m%d") - dt.timedelta(days=1)).strftime("%Y%m%d")
        headers["Authorization"] = headers["Authorization"].replace(f"/{real}/", f"/{other}/")
        return headers, body

    status, _, body = server.signed(LIST_USERS, mutate=move_scope)
    xml_error(status, body, 403, "SignatureDoesNotMatch")


def test_session_token_header_is_checked(server):
    """A long-term key sent with an X-Amz-Security-Token it does not have."""
    status, _, body = server.signed(IDENTITY, service="sts", creds=Creds(ROOT.access_key_id, ROOT.secret, "bogus-token"))
    xml_error(status, body, 403, "InvalidClientTokenId", MSG_INVALID_TOKEN)


def test_presigned_url(server):
    sts = server.client("sts")
    # botocore signs for the model's method (POST) unless told GET, as `aws eks get-token` does.
    url = sts.generate_presigned_url("get_caller_identity", ExpiresIn=300, HttpMethod="GET")
    parts = urllib.parse.urlsplit(url)
    assert "X-Amz-Signature=" in parts.query
    status, _, body = server.raw("GET", f"{parts.path or '/'}?{parts.query}")
    assert status == 200, body
    assert find_text(query_result(body, "GetCallerIdentity"), "Arn") == f"arn:aws:iam::{ACCOUNT_ID}:root"

    tampered = re.sub(r"X-Amz-Signature=([0-9a-f])", lambda m: "X-Amz-Signature=" + ("0" if m.group(1) != "0" else "1"), parts.query)
    status, _, body = server.raw("GET", f"/?{tampered}")
    xml_error(status, body, 403, "SignatureDoesNotMatch", MSG_SIGNATURE_MISMATCH)


def test_header_and_query_auth_together_are_rejected(server):
    sts = server.client("sts")
    url = sts.generate_presigned_url("get_caller_identity", ExpiresIn=300, HttpMethod="GET")
    parts = urllib.parse.urlsplit(url)
    headers = sign_v4("GET", f"{server.host}:{server.port}", "/", parts.query, {}, b"", ROOT, "sts", "us-east-1")
    status, _, body = server.raw("GET", f"/?{parts.query}", headers=headers)
    err = query_error(body)
    assert status == 400 and err["Code"] == "IncompleteSignature", (status, err)
    server.alive()


def test_presigned_sts_error_uses_sts_namespace(server):
    url = server.client("sts").generate_presigned_url("get_caller_identity", ExpiresIn=300, HttpMethod="GET")
    query = urllib.parse.urlsplit(url).query.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    status, _, body = server.raw("GET", f"/?{query}")
    assert status == 403
    assert b'xmlns="https://sts.amazonaws.com/doc/2011-06-15/"' in body, body


def test_sts_error_uses_sts_namespace(server):
    status, _, body = server.signed(IDENTITY, service="sts", creds=Creds("AKIAE2EUNKNOWN000000", "x" * 40))
    assert status == 403
    assert b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">' in body, body
