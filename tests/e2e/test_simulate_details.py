"""IAM's policy simulator and GetAccountAuthorizationDetails agree with what the
live endpoint decides. Skipped (with the reason) while the server answers
InvalidAction for these operations, so they start running when the features land."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from e2e_support import (
    ACCOUNT_ID,
    Creds,
    allow,
    deny,
    policy_doc,
    unique,
    user_arn,
)


def needs(call, **kwargs):
    try:
        return call(**kwargs)
    except ClientError as e:
        if e.response["Error"]["Code"] == "InvalidAction":
            pytest.skip(f"server answers InvalidAction for iam {call.__name__}: not landed yet")
        raise


@pytest.fixture(scope="module")
def subject(server):
    """A user with an allow, an explicit deny and a boundary."""
    name = unique("simuser")
    iam = server.client("iam")
    iam.create_user(UserName=name)
    creds = Creds.from_access_key(iam.create_access_key(UserName=name)["AccessKey"])
    iam.put_user_policy(UserName=name, PolicyName="allow", PolicyDocument=policy_doc(allow(["iam:List*", "iam:GetUser"])))
    iam.put_user_policy(UserName=name, PolicyName="deny", PolicyDocument=policy_doc(deny("iam:ListGroups")))
    boundary = iam.create_policy(
        PolicyName=unique("SimBoundary"), PolicyDocument=policy_doc(allow(["iam:ListUsers", "iam:ListGroups", "iam:ListPolicies"]))
    )["Policy"]["Arn"]
    iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=boundary)
    return name, creds


def live_decision(server, creds, action) -> str:
    iam = server.client("iam", creds)
    call = {"iam:ListUsers": iam.list_users, "iam:ListRoles": iam.list_roles, "iam:CreateUser": lambda: iam.create_user(UserName=unique("sim"))}[action]
    try:
        call()
        return "allowed"
    except ClientError as e:
        assert e.response["Error"]["Code"] == "AccessDenied"
        return "denied"


def test_simulate_principal_policy_matches_live_decisions(server, subject):
    name, creds = subject
    out = needs(
        server.client("iam").simulate_principal_policy,
        PolicySourceArn=user_arn(name),
        ActionNames=["iam:ListUsers", "iam:ListRoles", "iam:ListGroups", "iam:CreateUser"],
    )
    decisions = {r["EvalActionName"]: r["EvalDecision"] for r in out["EvaluationResults"]}
    assert decisions == {
        "iam:ListUsers": "allowed",
        "iam:ListRoles": "implicitDeny",  # the boundary does not allow it
        "iam:ListGroups": "explicitDeny",
        "iam:CreateUser": "implicitDeny",
    }
    for action in ("iam:ListUsers", "iam:ListRoles", "iam:CreateUser"):
        expected = "allowed" if decisions[action] == "allowed" else "denied"
        assert live_decision(server, creds, action) == expected, action


def test_simulate_custom_policy(server):
    out = needs(
        server.client("iam").simulate_custom_policy,
        PolicyInputList=[policy_doc(allow("iam:Get*"), deny("iam:GetRole"))],
        ActionNames=["iam:GetUser", "iam:GetRole", "iam:ListUsers"],
    )
    decisions = {r["EvalActionName"]: r["EvalDecision"] for r in out["EvaluationResults"]}
    assert decisions == {"iam:GetUser": "allowed", "iam:GetRole": "explicitDeny", "iam:ListUsers": "implicitDeny"}


def test_get_account_authorization_details(server, subject):
    name, _ = subject
    out = needs(server.client("iam").get_account_authorization_details, Filter=["User"])
    users = {u["UserName"]: u for u in out["UserDetailList"]}
    assert name in users
    u = users[name]
    assert u["Arn"] == user_arn(name)
    assert sorted(p["PolicyName"] for p in u.get("UserPolicyList", [])) == ["allow", "deny"]
    assert u["PermissionsBoundary"]["PermissionsBoundaryArn"].startswith(f"arn:aws:iam::{ACCOUNT_ID}:policy/")
