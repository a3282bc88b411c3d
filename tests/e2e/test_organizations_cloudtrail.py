"""Organizations and CloudTrail, as on AWS: create an organization and a member
account, reach it through OrganizationAccountAccessRole, deny an action there with
a service control policy on its OU, and find the denied call in the member
account's CloudTrail event history.

These features are landing while this suite is written: a test is skipped (with
the operation named) only while the server answers UnknownOperationException
for the operation it needs, so each starts running as soon as its feature lands."""

from __future__ import annotations

import json
import re

import pytest
from botocore.exceptions import ClientError

from e2e_support import (
    ACCOUNT_ID,
    ROOT,
    Creds,
    allow,
    deny,
    denial,
    expect_error,
    is_unknown_operation,
    no_policy_allows,
    policy_doc,
    unique,
    user_arn,
    wait_until,
)

ACCESS_ROLE = "OrganizationAccountAccessRole"


def needs(call, **kwargs):
    """Calls an Organizations/CloudTrail operation; skips the test while the server
    does not implement it (UnknownOperationException)."""
    try:
        return call(**kwargs)
    except ClientError as e:
        if is_unknown_operation(e):
            service = call.__self__.meta.service_model.service_name
            pytest.skip(
                f"server answers UnknownOperationException for {service} "
                f"{call.__self__.meta.method_to_api_mapping.get(call.__name__, call.__name__)}: not landed yet"
            )
        raise


# ---------------------------------------------------------------------------
# Organizations
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def orgs(own_server):
    return own_server.client("organizations")


@pytest.fixture(scope="module")
def organization(own_server, orgs):
    org = needs(orgs.create_organization, FeatureSet="ALL")["Organization"]
    return org


@pytest.fixture(scope="module")
def root_id(organization, orgs):
    roots = needs(orgs.list_roots)["Roots"]
    assert len(roots) == 1
    return roots[0]["Id"]


@pytest.fixture(scope="module")
def member_account(organization, orgs):
    name = unique("member")
    status = needs(orgs.create_account, Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
    assert re.fullmatch(r"car-[a-z0-9]{8,32}", status["Id"]), status
    assert status["State"] in ("IN_PROGRESS", "SUCCEEDED"), status
    assert status["AccountName"] == name

    def done():
        s = needs(orgs.describe_create_account_status, CreateAccountRequestId=status["Id"])["CreateAccountStatus"]
        assert s["State"] != "FAILED", s
        return s if s["State"] == "SUCCEEDED" else None

    final = wait_until(done, timeout=30, what="CreateAccount to succeed")
    assert re.fullmatch(r"\d{12}", final["AccountId"]) and final["AccountId"] != ACCOUNT_ID
    return final["AccountId"], name


@pytest.fixture(scope="module")
def member_session(own_server, member_account) -> Creds:
    account_id, _ = member_account
    out = own_server.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/{ACCESS_ROLE}", RoleSessionName="ops"
    )
    return Creds.from_sts(out["Credentials"])


def session_arn(account_id: str) -> str:
    return f"arn:aws:sts::{account_id}:assumed-role/{ACCESS_ROLE}/ops"


@pytest.fixture(scope="module")
def scp_ou(own_server, orgs, root_id, member_account):
    """An OU holding the member account, with an SCP denying iam:CreateUser."""
    account_id, _ = member_account
    ou = needs(orgs.create_organizational_unit, ParentId=root_id, Name="Restricted")["OrganizationalUnit"]
    assert re.fullmatch(r"ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}", ou["Id"]), ou
    needs(orgs.move_account, AccountId=account_id, SourceParentId=root_id, DestinationParentId=ou["Id"])
    try:
        needs(orgs.enable_policy_type, RootId=root_id, PolicyType="SERVICE_CONTROL_POLICY")
    except ClientError as e:
        if e.response["Error"]["Code"] != "PolicyTypeAlreadyEnabledException":
            raise
    policy = needs(
        orgs.create_policy,
        Name="DenyCreateUser",
        Description="no new IAM users",
        Type="SERVICE_CONTROL_POLICY",
        Content=policy_doc(deny("iam:CreateUser")),
    )["Policy"]["PolicySummary"]
    assert re.fullmatch(r"p-[0-9a-z]{8,128}", policy["Id"]), policy
    needs(orgs.attach_policy, PolicyId=policy["Id"], TargetId=ou["Id"])
    return ou["Id"], policy["Id"]


@pytest.mark.organizations
def test_create_organization(own_server, orgs, organization, root_id):
    assert re.fullmatch(r"o-[a-z0-9]{10,32}", organization["Id"]), organization
    assert organization["FeatureSet"] == "ALL"
    assert organization["MasterAccountId"] == ACCOUNT_ID
    assert organization["Arn"] == f"arn:aws:organizations::{ACCOUNT_ID}:organization/{organization['Id']}"
    described = needs(orgs.describe_organization)["Organization"]
    assert described["Id"] == organization["Id"]
    assert re.fullmatch(r"r-[0-9a-z]{4,32}", root_id)
    code, _, status = expect_error(orgs.create_organization, FeatureSet="ALL")
    assert (code, status) == ("AlreadyInOrganizationException", 400)


@pytest.mark.organizations
def test_create_account_is_listed(orgs, member_account):
    account_id, name = member_account
    accounts = {a["Id"]: a for a in needs(orgs.list_accounts)["Accounts"]}
    assert ACCOUNT_ID in accounts and account_id in accounts
    a = accounts[account_id]
    assert a["Name"] == name and a["Email"] == f"{name}@example.com"
    assert a["Status"] == "ACTIVE" and a["JoinedMethod"] == "CREATED"
    assert needs(orgs.describe_account, AccountId=account_id)["Account"]["Id"] == account_id


@pytest.mark.organizations
def test_organization_account_access_role(own_server, member_account, member_session):
    account_id, _ = member_account
    me = own_server.client("sts", member_session).get_caller_identity()
    assert me["Account"] == account_id
    assert me["Arn"] == session_arn(account_id)
    # The role is the member account's administrator: IAM there works, in that account.
    iam = own_server.client("iam", member_session)
    name = unique("inmember")
    created = iam.create_user(UserName=name)["User"]
    assert created["Arn"] == user_arn(name, account_id)
    role = iam.get_role(RoleName=ACCESS_ROLE)["Role"]
    trust = role["AssumeRolePolicyDocument"]
    assert f"arn:aws:iam::{ACCOUNT_ID}:root" in json.dumps(trust)
    # ...and not in the management account.
    assert name not in {u["UserName"] for u in own_server.client("iam").list_users()["Users"]}


@pytest.mark.organizations
def test_member_user_cannot_assume_into_management(own_server, member_session):
    code, _, status = expect_error(
        own_server.client("sts", member_session).assume_role,
        RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{ACCESS_ROLE}",
        RoleSessionName="up",
    )
    assert (code, status) == ("AccessDenied", 403)


@pytest.mark.organizations
def test_scp_denies_action_in_member_account(own_server, orgs, member_account, member_session, scp_ou):
    account_id, _ = member_account
    iam = own_server.client("iam", member_session)
    target = unique("blocked")
    code, message, status = expect_error(iam.create_user, UserName=target)
    assert (code, status) == ("AccessDenied", 403)
    assert message == denial(
        session_arn(account_id), "iam:CreateUser", user_arn(target, account_id),
        "with an explicit deny in a service control policy",
    )
    iam.list_users()  # the SCP names CreateUser only

    # SCPs never restrict the management account.
    own_server.client("iam").create_user(UserName=unique("mgmt"))

    ou_id, policy_id = scp_ou
    targets = [t["TargetId"] for t in needs(orgs.list_targets_for_policy, PolicyId=policy_id)["Targets"]]
    assert targets == [ou_id]


@pytest.mark.organizations
def test_scp_must_allow_at_every_level(own_server, orgs, root_id, member_account, member_session, scp_ou):
    """Replacing FullAWSAccess at the OU with a policy that allows only iam:List*
    leaves everything else implicitly denied by SCP, however the role is set up."""
    account_id, _ = member_account
    ou_id, deny_id = scp_ou
    narrow = needs(
        orgs.create_policy, Name="ListOnly", Description="", Type="SERVICE_CONTROL_POLICY",
        Content=policy_doc(allow("iam:List*")),
    )["Policy"]["PolicySummary"]["Id"]
    needs(orgs.attach_policy, PolicyId=narrow, TargetId=ou_id)
    attached = {p["Id"]: p["Name"] for p in needs(orgs.list_policies_for_target, TargetId=ou_id, Filter="SERVICE_CONTROL_POLICY")["Policies"]}
    full = [pid for pid, name in attached.items() if name == "FullAWSAccess"]
    if full:
        needs(orgs.detach_policy, PolicyId=full[0], TargetId=ou_id)
    try:
        iam = own_server.client("iam", member_session)
        iam.list_users()
        code, message, _ = expect_error(iam.get_role, RoleName=ACCESS_ROLE)
        assert code == "AccessDenied"
        assert message == denial(
            session_arn(account_id), "iam:GetRole", f"arn:aws:iam::{account_id}:role/{ACCESS_ROLE}",
            no_policy_allows("service control policy", "iam:GetRole"),
        )
    finally:
        if full:
            needs(orgs.attach_policy, PolicyId=full[0], TargetId=ou_id)
        needs(orgs.detach_policy, PolicyId=narrow, TargetId=ou_id)
    own_server.client("iam", member_session).get_role(RoleName=ACCESS_ROLE)


# ---------------------------------------------------------------------------
# CloudTrail
# ---------------------------------------------------------------------------


def lookup(server, creds: Creds, event_name: str, predicate, timeout=15.0):
    """Polls LookupEvents (the audit trail is written asynchronously) for an event
    named `event_name` whose parsed CloudTrailEvent satisfies `predicate`."""
    trail = server.client("cloudtrail", creds)

    def find():
        out = needs(
            trail.lookup_events,
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": event_name}],
            MaxResults=50,
        )
        for e in out["Events"]:
            detail = json.loads(e["CloudTrailEvent"])
            if predicate(detail):
                return e, detail
        return None

    return wait_until(find, timeout=timeout, what=f"a {event_name} event in LookupEvents")


@pytest.mark.cloudtrail
def test_lookup_events_finds_denied_call(server):
    """Independent of Organizations: a user's denied ListRoles shows up with its error."""
    name = unique("trailuser")
    iam = server.client("iam")
    iam.create_user(UserName=name)
    creds = Creds.from_access_key(iam.create_access_key(UserName=name)["AccessKey"])
    needs(server.client("cloudtrail").lookup_events, MaxResults=1)
    code, message, _ = expect_error(server.client("iam", creds).list_roles)
    assert code == "AccessDenied"

    event, detail = lookup(
        server, ROOT, "ListRoles", lambda d: d.get("userIdentity", {}).get("arn") == user_arn(name)
    )
    assert event["EventName"] == "ListRoles"
    assert event["EventSource"] == "iam.amazonaws.com"
    assert detail["errorCode"] == "AccessDenied"
    assert detail["errorMessage"] == message
    assert detail["eventSource"] == "iam.amazonaws.com"
    assert detail["userIdentity"]["type"] == "IAMUser"
    assert detail["userIdentity"]["accessKeyId"] == creds.access_key_id
    assert detail["recipientAccountId"] == ACCOUNT_ID
    assert detail["readOnly"] is True


@pytest.mark.organizations
@pytest.mark.cloudtrail
def test_lookup_events_finds_scp_denial_in_member_account(own_server, member_account, member_session, scp_ou):
    account_id, _ = member_account
    target = unique("trailblocked")
    code, message, _ = expect_error(own_server.client("iam", member_session).create_user, UserName=target)
    assert code == "AccessDenied"

    event, detail = lookup(
        own_server, member_session, "CreateUser",
        lambda d: d.get("requestParameters", {}).get("userName", d.get("requestParameters", {}).get("UserName")) == target,
    )
    assert detail["errorCode"] == "AccessDenied"
    assert "with an explicit deny in a service control policy" in detail["errorMessage"]
    assert detail["userIdentity"]["type"] == "AssumedRole"
    assert detail["userIdentity"]["arn"] == session_arn(account_id)
    assert detail["recipientAccountId"] == account_id
    assert detail["readOnly"] is False

    # Event history is per account: the management account does not see it.
    mgmt = own_server.client("cloudtrail")
    seen = needs(
        mgmt.lookup_events,
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateUser"}],
        MaxResults=50,
    )["Events"]
    assert event["EventId"] not in {e["EventId"] for e in seen}


@pytest.mark.cloudtrail
def test_lookup_events_rejects_bad_attribute(server):
    trail = server.client("cloudtrail")
    needs(trail.lookup_events, MaxResults=1)
    code, _, status = expect_error(
        trail.lookup_events, LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "a"}] * 2
    )
    assert status == 400 and code in ("InvalidLookupAttributesException",), code
