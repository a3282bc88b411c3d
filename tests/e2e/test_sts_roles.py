"""Roles and STS: trust policies (same account; principals named and not named),
session policies, assumed-role identities, GetSessionToken, and temporary
credentials that are wrong or expired."""

from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET

import pytest

from e2e_support import (
    ACCOUNT_ID,
    MSG_EXPIRED_TOKEN,
    MSG_INVALID_TOKEN,
    ROOT,
    STS_VERSION,
    Creds,
    allow,
    cli_error,
    denial,
    expect_error,
    find_text,
    libfaketime,
    no_policy_allows,
    policy_doc,
    query_error,
    unique,
    user_arn,
)

USERS_RESOURCE = f"arn:aws:iam::{ACCOUNT_ID}:user/"


def trust(principal: dict) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}],
        }
    )


def make_user(server, name: str) -> Creds:
    iam = server.client("iam")
    iam.create_user(UserName=name)
    return Creds.from_access_key(iam.create_access_key(UserName=name)["AccessKey"])


def make_role(server, name: str, trust_doc: str, actions=("iam:ListUsers", "iam:ListRoles"), max_session=None) -> str:
    iam = server.client("iam")
    kw = {"MaxSessionDuration": max_session} if max_session else {}
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_doc, **kw)["Role"]
    iam.put_role_policy(RoleName=name, PolicyName="perm", PolicyDocument=policy_doc(allow(list(actions))))
    return role["Arn"]


@pytest.fixture(scope="module")
def alice(server):
    """A user named in the trust policy of `role`."""
    name = unique("alice")
    return name, make_user(server, name)


@pytest.fixture(scope="module")
def role(server, alice):
    name = unique("Reader")
    arn = make_role(server, name, trust({"AWS": user_arn(alice[0])}))
    assert arn == f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"
    return name, arn


def assume(server, creds: Creds, role_arn: str, session: str, **kw) -> Creds:
    out = server.client("sts", creds).assume_role(RoleArn=role_arn, RoleSessionName=session, **kw)
    return Creds.from_sts(out["Credentials"])


# ---------------------------------------------------------------------------


def test_assume_role_named_in_trust_policy_cli(server, alice, role):
    """The trust policy names alice: she needs no identity policy of her own (same
    account). The session acts as the role."""
    name, creds = alice
    role_name, role_arn = role
    out = server.aws(
        "sts", "assume-role", "--role-arn", role_arn, "--role-session-name", "cli-session", creds=creds
    ).json
    c = out["Credentials"]
    assert c["AccessKeyId"].startswith("ASIA") and len(c["AccessKeyId"]) == 20
    assert len(c["SecretAccessKey"]) == 40 and c["SessionToken"]
    expires = dt.datetime.fromisoformat(c["Expiration"].replace("Z", "+00:00"))
    remaining = (expires - dt.datetime.now(dt.timezone.utc)).total_seconds()
    assert 3500 < remaining <= 3601, remaining  # default one hour
    assumed_arn = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role_name}/cli-session"
    assert out["AssumedRoleUser"]["Arn"] == assumed_arn
    assert re.fullmatch(r"AROA[A-Z0-9]+:cli-session", out["AssumedRoleUser"]["AssumedRoleId"])

    session = Creds.from_sts(c)
    me = server.aws("sts", "get-caller-identity", creds=session).json
    assert me == {"UserId": out["AssumedRoleUser"]["AssumedRoleId"], "Account": ACCOUNT_ID, "Arn": assumed_arn}
    role_id = server.client("iam").get_role(RoleName=role_name)["Role"]["RoleId"]
    assert me["UserId"] == f"{role_id}:cli-session"

    # The role's permissions, not alice's (she has none).
    server.aws("iam", "list-users", creds=session)
    denied = server.aws("iam", "create-user", "--user-name", "nope", creds=session, check=False)
    code, message = cli_error(denied, "CreateUser")
    assert code == "AccessDenied"
    assert message == denial(
        assumed_arn, "iam:CreateUser", user_arn("nope"), no_policy_allows("identity-based policy", "iam:CreateUser")
    )


def test_principal_not_in_trust_policy_is_denied_even_with_identity_allow(server, role):
    """AWS: the role trust policy must allow the caller; an identity policy alone is not enough."""
    _, role_arn = role
    mallory = unique("mallory")
    creds = make_user(server, mallory)
    server.client("iam").put_user_policy(UserName=mallory, PolicyName="assume", PolicyDocument=policy_doc(allow("sts:AssumeRole")))
    code, message, status = expect_error(
        server.client("sts", creds).assume_role, RoleArn=role_arn, RoleSessionName="s1"
    )
    assert (code, status) == ("AccessDenied", 403)
    assert message.startswith(
        f"User: {user_arn(mallory)} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
    ), message


def test_principal_not_in_trust_policy_is_denied(server, role):
    _, role_arn = role
    eve = unique("eve")
    creds = make_user(server, eve)
    code, message, status = expect_error(
        server.client("sts", creds).assume_role, RoleArn=role_arn, RoleSessionName="s1"
    )
    assert (code, status) == ("AccessDenied", 403)
    assert message.startswith(
        f"User: {user_arn(eve)} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
    ), message


def test_trust_policy_naming_the_account_needs_identity_permission(server):
    """A trust policy that trusts the account (arn:aws:iam::ACCT:root) delegates to the
    account's IAM policies: a user without sts:AssumeRole is denied, one with it may."""
    role_name = unique("AccountTrusted")
    role_arn = make_role(server, role_name, trust({"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}))
    bob = unique("bob")
    creds = make_user(server, bob)
    code, message, status = expect_error(
        server.client("sts", creds).assume_role, RoleArn=role_arn, RoleSessionName="s1"
    )
    assert (code, status) == ("AccessDenied", 403)
    assert message.startswith(f"User: {user_arn(bob)} is not authorized to perform: sts:AssumeRole on resource: {role_arn}")

    server.client("iam").put_user_policy(
        UserName=bob, PolicyName="assume", PolicyDocument=policy_doc(allow("sts:AssumeRole", role_arn))
    )
    session = assume(server, creds, role_arn, "ok")
    assert server.client("sts", session).get_caller_identity()["Arn"] == (
        f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role_name}/ok"
    )


def test_assume_role_that_does_not_exist(server, alice):
    _, creds = alice
    ghost = f"arn:aws:iam::{ACCOUNT_ID}:role/{unique('Ghost')}"
    code, message, status = expect_error(
        server.client("sts", creds).assume_role, RoleArn=ghost, RoleSessionName="s1"
    )
    assert (code, status) == ("AccessDenied", 403)
    assert message.startswith(f"User: {user_arn(alice[0])} is not authorized to perform: sts:AssumeRole on resource: {ghost}")


def test_session_policy_narrows_the_session(server, alice, role):
    _, creds = alice
    role_name, role_arn = role
    narrow = policy_doc(allow("iam:ListRoles"))
    out = server.aws(
        "sts", "assume-role", "--role-arn", role_arn, "--role-session-name", "narrow",
        "--policy", narrow, creds=creds,
    ).json
    assert "PackedPolicySize" in out
    session = Creds.from_sts(out["Credentials"])
    iam = server.client("iam", session)
    iam.list_roles()  # allowed by the role and by the session policy
    code, message, status = expect_error(iam.list_users)  # the role allows it, the session policy does not
    assert (code, status) == ("AccessDenied", 403)
    assert message == denial(
        f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role_name}/narrow",
        "iam:ListUsers",
        USERS_RESOURCE,
        no_policy_allows("session policy", "iam:ListUsers"),
    )

    # A session policy never widens: CreateUser is allowed by it but not by the role.
    wide = assume(server, creds, role_arn, "wide", Policy=policy_doc(allow("iam:*")))
    code, message, _ = expect_error(server.client("iam", wide).create_user, UserName="x")
    assert code == "AccessDenied"
    assert message.endswith(no_policy_allows("identity-based policy", "iam:CreateUser"))


def test_session_policy_must_be_valid(server, alice, role):
    _, creds = alice
    code, _, status = expect_error(
        server.client("sts", creds).assume_role, RoleArn=role[1], RoleSessionName="bad", Policy='{"Statement": ['
    )
    assert (code, status) == ("MalformedPolicyDocument", 400)


def test_duration_limits(server, alice):
    _, creds = alice
    role_name = unique("ShortRole")
    role_arn = make_role(server, role_name, trust({"AWS": user_arn(alice[0])}), max_session=3600)
    session = assume(server, creds, role_arn, "d900", DurationSeconds=900)
    server.client("sts", session).get_caller_identity()

    code, message, status = expect_error(
        server.client("sts", creds).assume_role, RoleArn=role_arn, RoleSessionName="long", DurationSeconds=7200
    )
    assert (code, status) == ("ValidationError", 400)
    assert message == "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."

    # Below 900 s is caught by botocore's own validation; send it raw.
    status, _, body = server.signed(
        {"Action": "AssumeRole", "Version": STS_VERSION, "RoleArn": role_arn, "RoleSessionName": "short", "DurationSeconds": "899"},
        creds=creds,
        service="sts",
    )
    err = query_error(body)
    assert (status, err["Code"], err["Type"]) == (400, "ValidationError", "Sender")
    assert err["Message"] == (
        "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: "
        "Member must have value greater than or equal to 900"
    )


def test_role_chaining_is_limited_to_one_hour(server, alice):
    name, creds = alice
    first = unique("First")
    second = unique("Second")
    first_arn = make_role(server, first, trust({"AWS": user_arn(name)}), actions=("sts:AssumeRole",))
    second_arn = make_role(
        server, second, trust({"AWS": f"arn:aws:iam::{ACCOUNT_ID}:role/{first}"}), max_session=43200
    )
    hop1 = assume(server, creds, first_arn, "hop1")
    code, message, status = expect_error(
        server.client("sts", hop1).assume_role, RoleArn=second_arn, RoleSessionName="hop2", DurationSeconds=7200
    )
    assert (code, status) == ("ValidationError", 400)
    assert message == (
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
    )
    hop2 = assume(server, hop1, second_arn, "hop2")
    assert server.client("sts", hop2).get_caller_identity()["Arn"] == (
        f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{second}/hop2"
    )


def test_wrong_or_missing_session_token_is_invalid(server, alice, role):
    _, creds = alice
    session = assume(server, creds, role[1], "tokens")
    other = assume(server, creds, role[1], "other")

    for bad in (
        Creds(session.access_key_id, session.secret, session.token[:-4] + "AAAA"),
        Creds(session.access_key_id, session.secret, other.token),  # a real token of another session
        Creds(session.access_key_id, session.secret, None),  # temporary key without its token
    ):
        code, message, status = expect_error(server.client("sts", bad).get_caller_identity)
        assert (code, message, status) == ("InvalidClientTokenId", MSG_INVALID_TOKEN, 403), bad

    # The genuine pair still works.
    server.client("sts", session).get_caller_identity()


def test_get_session_token(server, alice):
    name, creds = alice
    out = server.client("sts", creds).get_session_token(DurationSeconds=900)
    session = Creds.from_sts(out["Credentials"])
    assert session.access_key_id.startswith("ASIA")
    me = server.client("sts", session).get_caller_identity()
    assert me["Arn"] == user_arn(name)
    code, message, status = expect_error(server.client("sts", session).get_session_token)
    assert (code, status) == ("AccessDenied", 403)
    assert message == "Cannot call GetSessionToken with session credentials"


def test_expired_session_token(start_server, tmp_path):
    """ExpiredToken without waiting 15 minutes: the server runs with its clock 16
    minutes in the past (libfaketime) while it issues a 900-second session, then
    restarts on the same data dir with the real clock, where that session expired a
    minute ago. Requests to the early server are signed in its time by our signer."""
    lib = libfaketime()
    if lib is None:
        pytest.skip("libfaketime is not installed (Debian package libfaketime): ExpiredToken needs a server clock we can move")
    data = tmp_path / "data"
    early = start_server(data, {"LD_PRELOAD": lib, "FAKETIME": "-16m", "FAKETIME_DONT_FAKE_MONOTONIC": "1"})

    def call(params, creds=ROOT, service="iam"):
        past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=16)
        status, _, body = early.signed(params, creds=creds, service=service, when=past)
        assert status == 200, body
        return ET.fromstring(body)

    call({"Action": "GetCallerIdentity", "Version": STS_VERSION}, service="sts")  # the shifted clock is in effect
    role_name = "Expiring"
    call(
        {
            "Action": "CreateRole",
            "Version": "2010-05-08",
            "RoleName": role_name,
            "AssumeRolePolicyDocument": trust({"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}),
        }
    )
    doc = call(
        {
            "Action": "AssumeRole",
            "Version": STS_VERSION,
            "RoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/{role_name}",
            "RoleSessionName": "expiring",
            "DurationSeconds": "900",
        },
        service="sts",
    )
    session = Creds(find_text(doc, "AccessKeyId"), find_text(doc, "SecretAccessKey"), find_text(doc, "SessionToken"))
    call({"Action": "GetCallerIdentity", "Version": STS_VERSION}, creds=session, service="sts")  # valid in its time
    assert early.stop() == 0, early.log_tail()

    now = start_server(data)
    code, message, status = expect_error(now.client("sts", session).get_caller_identity)
    assert (code, message) == ("ExpiredToken", MSG_EXPIRED_TOKEN)
    assert status in (400, 403)  # AWS documents 400 for IAM/STS ExpiredToken; some services answer 403
    now.alive()
    assert now.stop() == 0, now.log_tail()
