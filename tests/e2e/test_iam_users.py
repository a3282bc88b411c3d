"""Root and IAM users through the real AWS CLI and boto3: identity, access keys,
inline and managed policies (versions), groups, permissions boundaries and explicit
denies; every denial checked against IAM's exact code, status and message."""

from __future__ import annotations

import json
import re
import urllib.parse

import pytest

from e2e_support import (
    ACCOUNT_ID,
    MSG_INVALID_TOKEN,
    Creds,
    allow,
    cli_error,
    deny,
    denial,
    expect_error,
    find_text,
    no_policy_allows,
    policy_doc,
    query_result,
    unique,
    user_arn,
)

USERS_RESOURCE = f"arn:aws:iam::{ACCOUNT_ID}:user/"
ROLES_RESOURCE = f"arn:aws:iam::{ACCOUNT_ID}:role/"


def make_user(server, name: str) -> Creds:
    """Root creates a user and an access key for it (boto3)."""
    iam = server.client("iam")
    iam.create_user(UserName=name)
    return Creds.from_access_key(iam.create_access_key(UserName=name)["AccessKey"])


def assert_denied(server, creds: Creds, op: str, principal: str, action: str, resource: str, reason: str, **kw):
    iam = server.client("iam", creds)
    code, message, status = expect_error(getattr(iam, op), **kw)
    assert (code, status) == ("AccessDenied", 403), (code, status, message)
    assert message == denial(principal, action, resource, reason)


# ---------------------------------------------------------------------------


def test_root_get_caller_identity_cli(server):
    out = server.aws("sts", "get-caller-identity").json
    assert out == {
        "UserId": ACCOUNT_ID,
        "Account": ACCOUNT_ID,
        "Arn": f"arn:aws:iam::{ACCOUNT_ID}:root",
    }


def test_user_lifecycle_with_cli(server):
    """Root creates a user and key with the CLI; the user is who STS says it is, and
    with no policy at all every IAM action is denied with IAM's exact wording."""
    name = unique("cli-user")
    created = server.aws("iam", "create-user", "--user-name", name).json["User"]
    assert created["UserName"] == name
    assert created["Path"] == "/"
    assert created["Arn"] == user_arn(name)
    assert re.fullmatch(r"AIDA[A-Z0-9]{16,17}", created["UserId"]), created["UserId"]

    key = server.aws("iam", "create-access-key", "--user-name", name).json["AccessKey"]
    assert key["UserName"] == name and key["Status"] == "Active"
    assert key["AccessKeyId"].startswith("AKIA") and len(key["AccessKeyId"]) == 20
    assert len(key["SecretAccessKey"]) == 40
    creds = Creds.from_access_key(key)

    listed = server.aws("iam", "list-access-keys", "--user-name", name).json["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [creds.access_key_id]
    assert "SecretAccessKey" not in listed[0]

    # GetCallerIdentity needs no permission.
    me = server.aws("sts", "get-caller-identity", creds=creds).json
    assert me == {"UserId": created["UserId"], "Account": ACCOUNT_ID, "Arn": user_arn(name)}

    denied = server.aws("iam", "list-users", creds=creds, check=False)
    code, message = cli_error(denied, "ListUsers")
    assert code == "AccessDenied"
    assert message == (
        f"User: arn:aws:iam::{ACCOUNT_ID}:user/{name} is not authorized to perform: "
        f"iam:ListUsers on resource: arn:aws:iam::{ACCOUNT_ID}:user/ "
        f"because no identity-based policy allows the iam:ListUsers action"
    )

    # The same denial through boto3: status and error shape too.
    assert_denied(
        server, creds, "list_users", user_arn(name), "iam:ListUsers", USERS_RESOURCE,
        no_policy_allows("identity-based policy", "iam:ListUsers"),
    )


def test_inline_policy_grants_and_revokes(server):
    name = unique("inline")
    creds = make_user(server, name)
    doc = policy_doc(allow("iam:ListUsers"))
    server.aws("iam", "put-user-policy", "--user-name", name, "--policy-name", "list", "--policy-document", doc)

    users = server.aws("iam", "list-users", creds=creds).json["Users"]
    assert name in [u["UserName"] for u in users]

    iam = server.client("iam")
    got = iam.get_user_policy(UserName=name, PolicyName="list")
    assert got["PolicyName"] == "list" and got["UserName"] == name
    assert got["PolicyDocument"] == json.loads(doc)  # botocore URL-decodes and parses it
    assert iam.list_user_policies(UserName=name)["PolicyNames"] == ["list"]

    # Only what was granted: CreateUser stays denied, on the user it would create.
    target = unique("victim")
    assert_denied(
        server, creds, "create_user", user_arn(name), "iam:CreateUser", user_arn(target),
        no_policy_allows("identity-based policy", "iam:CreateUser"), UserName=target,
    )

    server.aws("iam", "delete-user-policy", "--user-name", name, "--policy-name", "list")
    assert_denied(
        server, creds, "list_users", user_arn(name), "iam:ListUsers", USERS_RESOURCE,
        no_policy_allows("identity-based policy", "iam:ListUsers"),
    )


def test_policy_variable_scopes_user_to_itself(server):
    name, other = unique("self"), unique("other")
    creds = make_user(server, name)
    make_user(server, other)
    iam = server.client("iam")
    iam.put_user_policy(
        UserName=name,
        PolicyName="self",
        PolicyDocument=policy_doc(allow("iam:GetUser", f"arn:aws:iam::{ACCOUNT_ID}:user/${{aws:username}}")),
    )
    mine = server.client("iam", creds)
    assert mine.get_user()["User"]["UserName"] == name
    assert mine.get_user(UserName=name)["User"]["Arn"] == user_arn(name)
    assert_denied(
        server, creds, "get_user", user_arn(name), "iam:GetUser", user_arn(other),
        no_policy_allows("identity-based policy", "iam:GetUser"), UserName=other,
    )


def test_managed_policy_versions_switch_decision_on_next_call(server):
    name = unique("managed")
    creds = make_user(server, name)
    pname = unique("ListUsersOnly")
    created = server.aws(
        "iam", "create-policy", "--policy-name", pname, "--policy-document", policy_doc(allow("iam:ListUsers"))
    ).json["Policy"]
    arn = created["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT_ID}:policy/{pname}"
    assert created["DefaultVersionId"] == "v1"
    server.aws("iam", "attach-user-policy", "--user-name", name, "--policy-arn", arn)

    iam_user = server.client("iam", creds)
    iam_user.list_users()  # v1 allows ListUsers
    assert_denied(
        server, creds, "list_roles", user_arn(name), "iam:ListRoles", ROLES_RESOURCE,
        no_policy_allows("identity-based policy", "iam:ListRoles"),
    )

    v2 = server.aws(
        "iam", "create-policy-version", "--policy-arn", arn,
        "--policy-document", policy_doc(allow("iam:ListRoles")), "--set-as-default",
    ).json["PolicyVersion"]
    assert v2["VersionId"] == "v2" and v2["IsDefaultVersion"] is True

    # The very next call sees v2.
    assert_denied(
        server, creds, "list_users", user_arn(name), "iam:ListUsers", USERS_RESOURCE,
        no_policy_allows("identity-based policy", "iam:ListUsers"),
    )
    iam_user.list_roles()

    root = server.client("iam")
    versions = {v["VersionId"]: v["IsDefaultVersion"] for v in root.list_policy_versions(PolicyArn=arn)["Versions"]}
    assert versions == {"v1": False, "v2": True}
    assert root.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"
    v1 = root.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert v1["IsDefaultVersion"] is False
    assert v1["Document"] == json.loads(policy_doc(allow("iam:ListUsers")))

    root.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    iam_user.list_users()
    assert_denied(
        server, creds, "list_roles", user_arn(name), "iam:ListRoles", ROLES_RESOURCE,
        no_policy_allows("identity-based policy", "iam:ListRoles"),
    )

    # The default version cannot be deleted; a non-default one can.
    code, message, status = expect_error(root.delete_policy_version, PolicyArn=arn, VersionId="v1")
    assert (code, status) == ("DeleteConflict", 409)
    assert message == "Cannot delete the default version of a policy."
    root.delete_policy_version(PolicyArn=arn, VersionId="v2")

    # Detaching takes the permission away again.
    root.detach_user_policy(UserName=name, PolicyArn=arn)
    assert root.list_attached_user_policies(UserName=name)["AttachedPolicies"] == []
    assert_denied(
        server, creds, "list_users", user_arn(name), "iam:ListUsers", USERS_RESOURCE,
        no_policy_allows("identity-based policy", "iam:ListUsers"),
    )


def test_group_membership_grants_permissions(server):
    name, group = unique("member"), unique("readers")
    creds = make_user(server, name)
    out = server.aws("iam", "create-group", "--group-name", group).json["Group"]
    assert out["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:group/{group}"
    server.aws(
        "iam", "put-group-policy", "--group-name", group, "--policy-name", "roles",
        "--policy-document", policy_doc(allow("iam:ListRoles")),
    )
    assert_denied(
        server, creds, "list_roles", user_arn(name), "iam:ListRoles", ROLES_RESOURCE,
        no_policy_allows("identity-based policy", "iam:ListRoles"),
    )
    server.aws("iam", "add-user-to-group", "--group-name", group, "--user-name", name)
    server.client("iam", creds).list_roles()

    # A managed policy attached to the group counts too.
    root = server.client("iam")
    root.attach_group_policy(GroupName=group, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    server.client("iam", creds).list_users()

    root.remove_user_from_group(GroupName=group, UserName=name)
    assert_denied(
        server, creds, "list_roles", user_arn(name), "iam:ListRoles", ROLES_RESOURCE,
        no_policy_allows("identity-based policy", "iam:ListRoles"),
    )


def test_permissions_boundary_removes_a_granted_permission(server):
    name = unique("bounded")
    creds = make_user(server, name)
    root = server.client("iam")
    root.put_user_policy(UserName=name, PolicyName="both", PolicyDocument=policy_doc(allow(["iam:ListUsers", "iam:ListRoles"])))
    boundary = root.create_policy(PolicyName=unique("RolesOnlyBoundary"), PolicyDocument=policy_doc(allow("iam:ListRoles")))["Policy"]["Arn"]

    iam_user = server.client("iam", creds)
    iam_user.list_users()

    server.aws("iam", "put-user-permissions-boundary", "--user-name", name, "--permissions-boundary", boundary)
    user = root.get_user(UserName=name)["User"]
    assert user["PermissionsBoundary"] == {"PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": boundary}

    denied = server.aws("iam", "list-users", creds=creds, check=False)
    code, message = cli_error(denied, "ListUsers")
    assert code == "AccessDenied"
    assert message == denial(
        user_arn(name), "iam:ListUsers", USERS_RESOURCE,
        "because no permissions boundary allows the iam:ListUsers action",
    )
    iam_user.list_roles()  # allowed by both the policy and the boundary

    # The boundary grants nothing by itself.
    assert_denied(
        server, creds, "get_user", user_arn(name), "iam:GetUser", user_arn(name),
        no_policy_allows("identity-based policy", "iam:GetUser"), UserName=name,
    )

    root.delete_user_permissions_boundary(UserName=name)
    assert "PermissionsBoundary" not in root.get_user(UserName=name)["User"]
    iam_user.list_users()


def test_explicit_deny_overrides_allow(server):
    name = unique("denied")
    creds = make_user(server, name)
    root = server.client("iam")
    root.put_user_policy(UserName=name, PolicyName="all", PolicyDocument=policy_doc(allow("iam:*")))
    iam_user = server.client("iam", creds)
    iam_user.list_roles()

    server.aws(
        "iam", "put-user-policy", "--user-name", name, "--policy-name", "no-roles",
        "--policy-document", policy_doc(deny("iam:List*", ROLES_RESOURCE + "*")),
    )
    denied = server.aws("iam", "list-roles", creds=creds, check=False)
    code, message = cli_error(denied, "ListRoles")
    assert code == "AccessDenied"
    assert message == denial(
        user_arn(name), "iam:ListRoles", ROLES_RESOURCE,
        "with an explicit deny in an identity-based policy",
    )
    iam_user.list_users()  # the deny names roles only


def test_access_key_status_and_deletion(server):
    name = unique("keys")
    creds = make_user(server, name)
    sts_user = server.client("sts", creds)
    assert sts_user.get_caller_identity()["Arn"] == user_arn(name)

    root = server.client("iam")
    root.update_access_key(UserName=name, AccessKeyId=creds.access_key_id, Status="Inactive")
    assert root.list_access_keys(UserName=name)["AccessKeyMetadata"][0]["Status"] == "Inactive"
    code, message, status = expect_error(server.client("sts", creds).get_caller_identity)
    assert (code, message, status) == ("InvalidClientTokenId", MSG_INVALID_TOKEN, 403)

    root.update_access_key(UserName=name, AccessKeyId=creds.access_key_id, Status="Active")
    server.client("sts", creds).get_caller_identity()

    root.delete_access_key(UserName=name, AccessKeyId=creds.access_key_id)
    code, message, status = expect_error(server.client("sts", creds).get_caller_identity)
    assert (code, message, status) == ("InvalidClientTokenId", MSG_INVALID_TOKEN, 403)


def test_entity_errors(server):
    root = server.client("iam")
    name = unique("dup")
    root.create_user(UserName=name)
    code, message, status = expect_error(root.create_user, UserName=name)
    assert (code, status) == ("EntityAlreadyExists", 409)
    assert message == f"User with name {name} already exists."

    missing = unique("ghost")
    code, message, status = expect_error(root.get_user, UserName=missing)
    assert (code, status) == ("NoSuchEntity", 404)
    assert message == f"The user with name {missing} cannot be found."

    bogus = f"arn:aws:iam::{ACCOUNT_ID}:policy/{unique('nope')}"
    code, message, status = expect_error(root.attach_user_policy, UserName=name, PolicyArn=bogus)
    assert (code, status) == ("NoSuchEntity", 404)
    assert message == f"Policy {bogus} does not exist or is not attachable."


@pytest.mark.parametrize(
    "document",
    [
        '{"Version": "2012-10-17", "Statement": [',
        policy_doc({"Effect": "Allow", "Resource": "*"}),
        policy_doc({"Effect": "Maybe", "Action": "iam:*", "Resource": "*"}),
        policy_doc(
            {"Effect": "Allow", "Action": "iam:*", "Resource": "*", "Condition": {"StringEqualz": {"aws:username": "x"}}}
        ),
        policy_doc({"Effect": "Allow", "Principal": "*", "Action": "iam:*", "Resource": "*"}),
    ],
    ids=["truncated-json", "no-action", "bad-effect", "unknown-condition-operator", "principal-in-identity-policy"],
)
def test_malformed_policy_document(server, document):
    """IAM answers MalformedPolicyDocument (400) and stores nothing. (Sesame's messages
    carry LINE:COL and a precise reason where IAM says e.g. 'Syntax errors in policy.';
    only the code is AWS's contract here.)"""
    name = unique("badpol")
    root = server.client("iam")
    root.create_user(UserName=name)
    code, message, status = expect_error(
        root.put_user_policy, UserName=name, PolicyName="bad", PolicyDocument=document
    )
    assert (code, status) == ("MalformedPolicyDocument", 400), message
    assert message
    assert root.list_user_policies(UserName=name)["PolicyNames"] == []
    code, _, status = expect_error(root.create_policy, PolicyName=unique("bad"), PolicyDocument=document)
    assert (code, status) == ("MalformedPolicyDocument", 400)
    server.alive()


def test_get_user_policy_document_is_url_encoded_on_the_wire(server):
    """IAM returns policy documents URL-encoded; botocore does not decode them in
    the raw XML, so check the wire form directly."""
    name = unique("wire")
    root = server.client("iam")
    root.create_user(UserName=name)
    doc = policy_doc(allow("iam:GetUser", f"arn:aws:iam::{ACCOUNT_ID}:user/a b"))
    root.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=doc)
    status, _, body = server.signed({"Action": "GetUserPolicy", "Version": "2010-05-08", "UserName": name, "PolicyName": "p"})
    assert status == 200, body
    encoded = find_text(query_result(body, "GetUserPolicy"), "PolicyDocument")
    assert "%" in encoded and "{" not in encoded
    assert json.loads(urllib.parse.unquote(encoded)) == json.loads(doc)


def test_unique_ids_have_aws_length(server):
    root = server.client("iam")
    user = root.create_user(UserName=unique("idlen"))["User"]
    assert re.fullmatch(r"AIDA[A-Z2-7]{17}", user["UserId"]), user["UserId"]
