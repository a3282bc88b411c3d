"""The AWS troubleshooting documents of shared/seeds, scenario by scenario, through the
real AWS CLI and boto3: each failure they describe happens with SES's code, HTTP
status and exact text, and disappears once the documented fix is applied.

  000  "Unauthorized" when sending: missing actions, explicit denies on each listed
       condition key, permissions boundaries, SCPs, cross-account authorization
  001  554 Access denied over SMTP and AccessDenied over the API: SES's wording,
       Resource scoped to the identity ARN, an address verified apart from its domain
  002  sending authorization walkthrough: owner and delegate, SourceArn and
       X-SES-*-ARN headers, the delegate's sandbox, quota attribution, regions
  003  sending authorization overview: de-authorization by editing or deleting the
       policy, attribution of quotas, AWS Regions
  plus the sending rules every send meets: sandbox rate, sandbox recipients,
  malformed input (AWS's InvalidParameterValue / ValidationError texts).

Every test picks identities of its own; the module has a server of its own (it
changes sandbox/production state; the SMTP scenario has a second one with the SMTP
listener). Cross-account and SCP scenarios need Organizations; while the server lacks
it they are skipped, saying so.
"""

from __future__ import annotations

import json
import re
import smtplib
import subprocess
import sys
import time

import pytest

from e2e_support import ACCOUNT_ID, REGION, ROOT, cli_env, unique
from ses_fixtures import (  # noqa: F401  (fixtures are used by name)
    DENY_CASES,
    SEND_ACTIONS,
    SIMULATOR,
    TEXT,
    attach,
    b64,
    delegate,
    doc,
    expect_client_error,
    fill_domain,
    grant,
    identity_arn,
    new_member,
    not_verified,
    organization,
    query_error_of,
    raw_mime,
    ses,
    ses_denial,
    simple,
    smtp,
    unique_domain,
)

HTML = "<h1>Hello World</h1><p>This is a pretty mail with HTML formatting</p>"
ALLOW_SEND_ALL = doc({"Effect": "Allow", "Action": SEND_ACTIONS, "Resource": "*"})


def cli_send(sender: str, to: list[str], subject: str, *extra: str) -> tuple[str, ...]:
    """`aws ses send-email` as seed 002 writes it (the CLI's --from/--to/--subject form)."""
    return ("ses", "send-email", "--from", sender, "--to", *to, "--subject", subject, "--text", TEXT, *extra)


def cli_send_raw(raw: str, *extra: str) -> tuple[str, ...]:
    return ("ses", "send-raw-email", "--raw-message", json.dumps({"Data": raw}), *extra)


def v2_simple(sender: str, to: list[str], subject: str, **extra) -> dict:
    return dict(
        FromEmailAddress=sender,
        Destination={"ToAddresses": to},
        Content={"Simple": {"Subject": {"Data": subject}, "Body": {"Text": {"Data": TEXT}}}},
        **extra,
    )


# ---------------------------------------------------------------------------
# 000 / 001: the IAM identity lacks ses:SendRawEmail
# ---------------------------------------------------------------------------


def test_missing_send_raw_email_action(ses):
    """Seed 001's error text: a user allowed only ses:SendEmail sends raw mail; the fix
    (seed 000) is to allow ses:SendRawEmail as well."""
    domain = unique_domain("rawperm")
    resource = ses.verify(domain)
    sender = f"news@{domain}"
    name = unique("iam-user-name")
    only_send = doc({"Effect": "Allow", "Action": "ses:SendEmail", "Resource": "*"})
    creds, arn = ses.make_user(name, ("send", only_send))

    # ses:SendEmail itself is granted.
    sent = ses.client("ses", creds).send_email(**simple(sender, [SIMULATOR], unique("plain-ok")))
    assert ses.captured(sent["MessageId"])["fromIdentity"] == resource

    subject = unique("raw-denied")
    raw = raw_mime(sender, SIMULATOR, subject)
    expected = ses_denial(arn, "ses:SendRawEmail", resource)
    assert ses.cli_fails("SendRawEmail", *cli_send_raw(raw), creds=creds) == ("AccessDenied", expected)
    assert expect_client_error(
        ses.client("ses", creds).send_raw_email, RawMessage={"Data": raw.encode()}
    ) == ("AccessDenied", expected, 403)
    # SES v2: a Raw content send is authorized as ses:SendRawEmail, with the same text.
    assert expect_client_error(
        ses.client("sesv2", creds).send_email, Content={"Raw": {"Data": raw.encode()}}
    ) == ("AccessDeniedException", expected, 403)
    ses.assert_not_captured(subject)

    # The fix: both sending actions in the user's policy; the very next send works.
    ses.client("iam").put_user_policy(UserName=name, PolicyName="send", PolicyDocument=ALLOW_SEND_ALL)
    sent = ses.aws(*cli_send_raw(raw), creds=creds).json
    got = ses.captured(sent["MessageId"])
    assert got["fromIdentity"] == resource and got["destination"] == [SIMULATOR]
    assert f"Subject: {subject}" in got["raw"]
    assert ses.client("ses", creds).send_raw_email(RawMessage={"Data": raw.encode()})["MessageId"]
    assert ses.client("sesv2", creds).send_email(Content={"Raw": {"Data": raw.encode()}})["MessageId"]


# ---------------------------------------------------------------------------
# 001 step 4: Resource scoped to the domain, From address verified on its own
# ---------------------------------------------------------------------------


def test_domain_arn_does_not_cover_separately_verified_address(ses):
    """When the From address is itself a verified identity, SES authorizes against the
    address identity, so a policy scoped to the domain's ARN denies it; the fix is the
    address identity's ARN in Resource."""
    domain = unique_domain("mkt")
    address = f"marketing@{domain}"
    domain_arn = ses.verify(domain)
    address_arn = ses.verify(address)
    name = unique("smtp-user")

    def seed_policy(resource: str) -> str:  # seed 001's two-statement policy
        return doc(
            {"Effect": "Allow", "Action": ["ses:GetSendStatistics", "ses:GetSendQuota"], "Resource": "*"},
            {"Effect": "Allow", "Action": SEND_ACTIONS, "Resource": resource},
        )

    creds, arn = ses.make_user(name, ("ses", seed_policy(domain_arn)))
    quota = ses.client("ses", creds).get_send_quota()
    # The fixture's account has the quota its operator set (sesame admin set-quota).
    assert quota["Max24HourSend"] == 1000000.0 and quota["MaxSendRate"] == 10000.0

    # Another address of the domain is covered by the domain identity: allowed.
    news = raw_mime(f"news@{domain}", SIMULATOR, unique("news"))
    sent = ses.client("ses", creds).send_raw_email(RawMessage={"Data": news.encode()})
    assert ses.captured(sent["MessageId"])["fromIdentity"] == domain_arn

    subject = unique("mkt-denied")
    raw = raw_mime(address, SIMULATOR, subject)
    assert ses.cli_fails("SendRawEmail", *cli_send_raw(raw), creds=creds) == (
        "AccessDenied",
        ses_denial(arn, "ses:SendRawEmail", address_arn),
    )
    assert expect_client_error(
        ses.client("ses", creds).send_email, **simple(address, [SIMULATOR], subject)
    ) == ("AccessDenied", ses_denial(arn, "ses:SendEmail", address_arn), 403)
    ses.assert_not_captured(subject)

    ses.client("iam").put_user_policy(UserName=name, PolicyName="ses", PolicyDocument=seed_policy(address_arn))
    sent = ses.client("ses", creds).send_raw_email(RawMessage={"Data": raw.encode()})
    assert ses.captured(sent["MessageId"])["fromIdentity"] == address_arn
    assert ses.client("ses", creds).send_email(**simple(address, [SIMULATOR], subject))["MessageId"]


def test_seed_001_policy_grants_the_non_sending_reads(ses):
    """Seed 001's first statement: GetSendStatistics and GetSendQuota on "*" work for
    a user whose sending is scoped to one identity."""
    domain = unique_domain("reads")
    resource = ses.verify(domain)
    policy = doc(
        {"Effect": "Allow", "Action": ["ses:GetSendStatistics", "ses:GetSendQuota"], "Resource": "*"},
        {"Effect": "Allow", "Action": SEND_ACTIONS, "Resource": resource},
    )
    creds, _ = ses.make_user(unique("reader"), ("ses", policy))
    quota = ses.client("ses", creds).get_send_quota()
    assert set(quota) >= {"Max24HourSend", "MaxSendRate", "SentLast24Hours"}
    stats = ses.aws("ses", "get-send-statistics", creds=creds).json
    assert isinstance(stats["SendDataPoints"], list)


def test_smtp_554_access_denied(smtp):
    """Seed 001 as it happens: over SMTP, with the user's SES SMTP credentials, the
    message is refused with `554 Access denied: User `…' is not authorized to perform
    `ses:SendRawEmail' on resource `…'` until the policy allows ses:SendRawEmail on
    the identity; then step 4, an address verified apart from its domain."""
    ses, region = smtp.ses, smtp.region
    domain = unique_domain("smtp")
    domain_arn = ses.verify(domain, region=region)
    sender = f"news@{domain}"
    name = unique("iam-user-name")
    creds, arn = ses.make_user(name, ("send", doc({"Effect": "Allow", "Action": "ses:SendEmail", "Resource": "*"})))

    def seed_policy(resource: str) -> str:
        return doc(
            {"Effect": "Allow", "Action": ["ses:GetSendStatistics", "ses:GetSendQuota"], "Resource": "*"},
            {"Effect": "Allow", "Action": SEND_ACTIONS, "Resource": resource},
        )

    def refused(sender: str, resource: str) -> None:
        subject = unique("smtp-denied")
        with pytest.raises(smtplib.SMTPDataError) as denied:
            smtp.send(creds, sender, [SIMULATOR], raw_mime(sender, SIMULATOR, subject))
        assert (denied.value.smtp_code, denied.value.smtp_error.decode()) == (
            554,
            "Access denied: " + ses_denial(arn, "ses:SendRawEmail", resource),
        )
        ses.assert_not_captured(subject)

    def accepted(sender: str, resource: str) -> None:
        subject = unique("smtp-ok")
        smtp.send(creds, sender, [SIMULATOR], raw_mime(sender, SIMULATOR, subject))
        got = [m for m in ses.messages() if f"Subject: {subject}" in m["raw"]]
        assert len(got) == 1 and got[0]["fromIdentity"] == resource and got[0]["destination"] == [SIMULATOR]

    refused(sender, domain_arn)
    ses.client("iam").put_user_policy(UserName=name, PolicyName="send", PolicyDocument=seed_policy(domain_arn))
    accepted(sender, domain_arn)

    address = f"marketing@{domain}"
    address_arn = ses.verify(address, region=region)
    refused(address, address_arn)
    ses.client("iam").put_user_policy(UserName=name, PolicyName="send", PolicyDocument=seed_policy(address_arn))
    accepted(address, address_arn)


# ---------------------------------------------------------------------------
# 000: explicit denies on each condition key the seed lists
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("condition, sender, to, cli_extra, boto_extra", DENY_CASES)
def test_explicit_deny_on_condition_key(ses, condition, sender, to, cli_extra, boto_extra):
    domain = unique_domain("deny")
    resource = ses.verify(domain)

    condition, sender, cli_extra, boto_extra = fill_domain((condition, sender, cli_extra, boto_extra), domain)
    name = unique("denied")
    deny = doc({"Effect": "Deny", "Action": SEND_ACTIONS, "Resource": "*", "Condition": condition})
    creds, arn = ses.make_user(name, ("allow-send", ALLOW_SEND_ALL), ("deny", deny))

    subject = unique("deny")
    expected = ses_denial(arn, "ses:SendEmail", resource)
    assert ses.cli_fails("SendEmail", *cli_send(sender, to, subject, *cli_extra), creds=creds) == (
        "AccessDenied",
        expected,
    )
    assert expect_client_error(
        ses.client("ses", creds).send_email, **simple(sender, to, subject, **boto_extra)
    ) == ("AccessDenied", expected, 403)
    ses.assert_not_captured(subject)

    # The fix: remove the deny statement; the next send goes through.
    ses.client("iam").delete_user_policy(UserName=name, PolicyName="deny")
    sent = ses.client("ses", creds).send_email(**simple(sender, to, subject, **boto_extra))
    got = ses.captured(sent["MessageId"])
    assert got["fromIdentity"] == resource and got["destination"] == to


# ---------------------------------------------------------------------------
# 000: a permissions boundary without SES
# ---------------------------------------------------------------------------


def test_permissions_boundary_without_ses(ses):
    domain = unique_domain("boundary")
    resource = ses.verify(domain)
    sender = f"news@{domain}"
    iam = ses.client("iam")
    no_ses = doc({"Effect": "Allow", "Action": ["s3:*", "cloudwatch:*"], "Resource": "*"})
    boundary = iam.create_policy(PolicyName=unique("boundary"), PolicyDocument=no_ses)["Policy"]["Arn"]
    name = unique("bounded")
    creds, arn = ses.make_user(name, ("send", ALLOW_SEND_ALL))
    iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=boundary)

    subject = unique("bounded")
    assert ses.cli_fails("SendEmail", *cli_send(sender, [SIMULATOR], subject), creds=creds) == (
        "AccessDenied",
        ses_denial(arn, "ses:SendEmail", resource),
    )
    raw = raw_mime(sender, SIMULATOR, subject)
    assert expect_client_error(
        ses.client("ses", creds).send_raw_email, RawMessage={"Data": raw.encode()}
    ) == ("AccessDenied", ses_denial(arn, "ses:SendRawEmail", resource), 403)
    ses.assert_not_captured(subject)

    # The fix: include the sending actions in the boundary (a new default version).
    with_ses = doc({"Effect": "Allow", "Action": ["s3:*", "cloudwatch:*", *SEND_ACTIONS], "Resource": "*"})
    iam.create_policy_version(PolicyArn=boundary, PolicyDocument=with_ses, SetAsDefault=True)
    sent = ses.client("ses", creds).send_email(**simple(sender, [SIMULATOR], subject))
    assert ses.captured(sent["MessageId"])["fromIdentity"] == resource
    assert ses.client("ses", creds).send_raw_email(RawMessage={"Data": raw.encode()})["MessageId"]


# ---------------------------------------------------------------------------
# 000 / 001 step 5: an SCP that denies ses:*
# ---------------------------------------------------------------------------


def test_scp_denying_ses(ses, organization, new_member):
    """SCPs bind member accounts (never the management account): a member's user with
    full SES permissions is denied while `Deny ses:*` is attached; detaching it fixes it."""
    from botocore.exceptions import ClientError

    member = new_member("scp")
    org = organization.org
    try:
        org.enable_policy_type(RootId=organization.root_id(), PolicyType="SERVICE_CONTROL_POLICY")
    except ClientError as e:
        code = e.response["Error"]["Code"]
        if code in ("UnknownOperationException", "InvalidAction"):
            pytest.skip(f"Organizations EnablePolicyType is not available on this server yet ({code})")
        assert code == "PolicyTypeAlreadyEnabledException", e.response["Error"]
    domain = unique_domain("scp")
    resource = ses.verify(domain, account=member.account_id)
    sender = f"news@{domain}"

    # Seed 000's example, with straight quotes (its “ses:*” would not even parse).
    deny_ses = doc({"Effect": "Deny", "Action": "ses:*", "Resource": "*"})
    policy_id = org.create_policy(
        Name=unique("deny-ses"), Description="no SES", Type="SERVICE_CONTROL_POLICY", Content=deny_ses
    )["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=policy_id, TargetId=member.account_id)

    subject = unique("scp")
    assert ses.cli_fails("SendEmail", *cli_send(sender, [SIMULATOR], subject), creds=member.user) == (
        "AccessDenied",
        ses_denial(member.user_arn, "ses:SendEmail", resource),
    )
    assert expect_client_error(
        ses.client("ses", member.role).send_email, **simple(sender, [SIMULATOR], subject)
    ) == ("AccessDenied", ses_denial(member.role_session_arn, "ses:SendEmail", resource), 403)
    ses.assert_not_captured(subject)

    org.detach_policy(PolicyId=policy_id, TargetId=member.account_id)
    sent = ses.client("ses", member.user).send_email(**simple(sender, [SIMULATOR], subject))
    got = ses.captured(sent["MessageId"])
    assert got["fromIdentity"] == resource and got["account"] == member.account_id


# ---------------------------------------------------------------------------
# 002 / 003: cross-account sending authorization
# ---------------------------------------------------------------------------


def test_delegate_account_sends_with_source_arn(ses, delegate):
    """Seed 002 end to end with the account as principal: the delegate's
    `send-email --source-arn` fails until the owner attaches the policy, then succeeds;
    the mail counts against the delegate's quota, not the owner's (seed 003)."""
    domain = unique_domain("owner")
    resource = ses.verify(domain)
    sender = f"test@{domain}"
    subject = unique("hello-world")
    # A regular recipient: mail to the mailbox simulator uses no daily quota.
    reader = f"reader@{unique_domain('reader')}"
    send = cli_send(sender, [reader], subject, "--html", HTML, "--source-arn", resource)

    expected = ses_denial(delegate.user_arn, "ses:SendEmail", resource)
    assert ses.cli_fails("SendEmail", *send, creds=delegate.user) == ("AccessDenied", expected)
    v1 = ses.client("ses", delegate.user)
    assert expect_client_error(v1.send_email, **simple(sender, [SIMULATOR], subject, SourceArn=resource)) == (
        "AccessDenied",
        expected,
        403,
    )
    # Without the owner's ARN the delegate's own account has no such identity.
    assert expect_client_error(v1.send_email, **simple(sender, [SIMULATOR], subject)) == (
        "MessageRejected",
        not_verified(REGION, sender),
        400,
    )
    ses.assert_not_captured(subject)

    # The owner attaches seed 002's policy (version 2008-10-17), the account as principal.
    attach(ses, domain, "delegate", grant(resource, delegate.account_id, version="2008-10-17"))
    owner_before = ses.sent_last_24h(ROOT)
    delegate_before = ses.sent_last_24h(delegate.user)
    sent = ses.aws(*send, creds=delegate.user).json
    got = ses.captured(sent["MessageId"])
    assert got["fromIdentity"] == resource
    assert got["destination"] == [reader] and got["source"] == sender
    assert got["account"] == delegate.account_id

    # Sending limits: the delegate's quota, not the owner's.
    assert ses.sent_last_24h(delegate.user) == delegate_before + 1
    assert ses.sent_last_24h(ROOT) == owner_before
    account = ses.client("sesv2", delegate.user).get_account()
    assert account["SendQuota"]["SentLast24Hours"] == delegate_before + 1


def test_delegate_user_principal_with_raw_headers(ses, delegate):
    """Seed 002's SMTP/raw path: X-SES-SOURCE-ARN / X-SES-FROM-ARN headers (and the
    FromArn parameter) name the owner's identity; the headers never leave Sesame."""
    domain = unique_domain("rawowner")
    resource = ses.verify(domain)
    sender = f"sender@{domain}"
    v1 = ses.client("ses", delegate.user)

    subject = unique("hdr-denied")
    with_source = raw_mime(sender, SIMULATOR, subject, {"X-SES-SOURCE-ARN": resource})
    expected = ses_denial(delegate.user_arn, "ses:SendRawEmail", resource)
    assert ses.cli_fails("SendRawEmail", *cli_send_raw(with_source), creds=delegate.user) == ("AccessDenied", expected)
    assert expect_client_error(v1.send_raw_email, RawMessage={"Data": with_source.encode()}) == (
        "AccessDenied",
        expected,
        403,
    )
    ses.assert_not_captured(subject)

    attach(ses, domain, "user", grant(resource, delegate.user_arn))

    def assert_clean(message_id: str, subject: str) -> None:
        got = ses.captured(message_id)
        assert got["fromIdentity"] == resource
        head = got["raw"].replace("\r\n", "\n").split("\n\n", 1)[0]
        assert f"Subject: {subject}" in head and f"From: {sender}" in head
        names = [line.split(":", 1)[0].lower() for line in head.splitlines() if not line[:1].isspace()]
        assert not [n for n in names if n.startswith("x-ses-")], head

    assert_clean(v1.send_raw_email(RawMessage={"Data": with_source.encode()})["MessageId"], subject)

    subject = unique("from-arn-hdr")
    with_from = raw_mime(sender, SIMULATOR, subject, {"X-SES-FROM-ARN": resource})
    assert_clean(v1.send_raw_email(RawMessage={"Data": with_from.encode()})["MessageId"], subject)

    subject = unique("from-arn-param")
    plain = raw_mime(sender, SIMULATOR, subject)
    assert_clean(v1.send_raw_email(RawMessage={"Data": plain.encode()}, FromArn=resource)["MessageId"], subject)

    # The policy names the user: the same account's role session is still refused.
    assert expect_client_error(
        ses.client("ses", delegate.role).send_raw_email, RawMessage={"Data": with_source.encode()}
    ) == ("AccessDenied", ses_denial(delegate.role_session_arn, "ses:SendRawEmail", resource), 403)


def test_delegate_role_principal_with_v2(ses, delegate):
    """SES v2: the owner attaches the policy with create-email-identity-policy, naming
    a role; sessions of that role send with FromEmailAddressIdentityArn."""
    domain = unique_domain("v2owner")
    resource = ses.verify(domain)
    sender = f"app@{domain}"
    subject = unique("v2-role")
    content = json.dumps({"Simple": {"Subject": {"Data": subject}, "Body": {"Text": {"Data": TEXT}}}})
    send = ("sesv2", "send-email", "--from-email-address", sender, "--from-email-address-identity-arn", resource,
            "--destination", json.dumps({"ToAddresses": [SIMULATOR]}), "--content", content)
    v2_role = ses.client("sesv2", delegate.role)
    v2_args = v2_simple(sender, [SIMULATOR], subject, FromEmailAddressIdentityArn=resource)

    expected = ses_denial(delegate.role_session_arn, "ses:SendEmail", resource)
    assert ses.cli_fails("SendEmail", *send, creds=delegate.role) == ("AccessDeniedException", expected)
    assert expect_client_error(v2_role.send_email, **v2_args) == ("AccessDeniedException", expected, 403)
    ses.assert_not_captured(subject)

    attach(ses, domain, "role", grant(resource, delegate.role_arn))
    listed = ses.client("sesv2").get_email_identity_policies(EmailIdentity=domain)["Policies"]
    assert list(listed) == ["role"] and json.loads(listed["role"]) == json.loads(grant(resource, delegate.role_arn))

    sent = v2_role.send_email(**v2_args)
    got = ses.captured(sent["MessageId"])
    assert got["fromIdentity"] == resource and got["account"] == delegate.account_id

    # The delegate account's user is not the role the policy names.
    assert expect_client_error(ses.client("sesv2", delegate.user).send_email, **v2_args) == (
        "AccessDeniedException",
        ses_denial(delegate.user_arn, "ses:SendEmail", resource),
        403,
    )


def test_delegate_must_send_in_the_identity_region(ses, delegate):
    """Seeds 000/002/003: the delegate must use the endpoint of the Region where the
    owner verified the identity (and attached the policy there)."""
    domain = unique_domain("region")
    resource = ses.verify(domain)  # us-east-1
    sender = f"news@{domain}"
    attach(ses, domain, "delegate", grant(resource, delegate.account_id))
    subject = unique("wrong-region")

    # The owner's us-east-1 ARN through the eu-west-1 endpoint: nothing verified there.
    send = cli_send(sender, [SIMULATOR], subject, "--source-arn", resource)
    assert ses.cli_fails("SendEmail", *send, creds=delegate.user, region="eu-west-1") == (
        "MessageRejected",
        not_verified("eu-west-1", sender),
    )
    # An eu-west-1 ARN of the same name: the owner has no such identity.
    eu_arn = identity_arn(domain, region="eu-west-1")
    assert expect_client_error(
        ses.client("ses", delegate.user, region="eu-west-1").send_email,
        **simple(sender, [SIMULATOR], subject, SourceArn=eu_arn),
    ) == ("MessageRejected", not_verified("eu-west-1", sender), 400)
    ses.assert_not_captured(subject)

    sent = ses.client("ses", delegate.user).send_email(**simple(sender, [SIMULATOR], subject, SourceArn=resource))
    got = ses.captured(sent["MessageId"])
    assert got["fromIdentity"] == resource and got["region"] == REGION


def test_delegate_in_sandbox_needs_production_access(ses, new_member):
    """Seed 002 FAQ 1: a delegate still in the sandbox cannot send to unverified
    addresses, with SES's exact text, until its own account leaves the sandbox."""
    member = new_member("sandboxed")
    domain = unique_domain("sbowner")
    resource = ses.verify(domain)
    sender = f"test@{domain}"
    attach(ses, domain, "delegate", grant(resource, member.account_id))
    target = f"test@{unique_domain('gmail')}"
    subject = unique("sandbox")
    v1 = ses.client("ses", member.user)

    assert ses.cli_fails(
        "SendEmail", *cli_send(sender, [target], subject, "--source-arn", resource), creds=member.user
    ) == ("MessageRejected", not_verified(REGION, target))
    assert expect_client_error(v1.send_email, **simple(sender, [target], subject, SourceArn=resource)) == (
        "MessageRejected",
        not_verified(REGION, target),
        400,
    )
    ses.assert_not_captured(subject)
    # FAQ 1 again: in the sandbox the delegate can still send to addresses verified
    # in its own account.
    own_verified = f"inbox@{unique_domain('delegate-own')}"
    ses.verify(own_verified, account=member.account_id)
    ok = v1.send_email(**simple(sender, [own_verified], unique("to-verified"), SourceArn=resource))
    got = ses.captured(ok["MessageId"])
    assert got["fromIdentity"] == resource and got["destination"] == [own_verified]

    ses.production(member.account_id, REGION)
    time.sleep(1.1)  # the sandbox rate (1/s) applied to the send just made
    sent = v1.send_email(**simple(sender, [target], subject, SourceArn=resource))
    got = ses.captured(sent["MessageId"])
    assert got["destination"] == [target] and got["account"] == member.account_id


def test_owner_in_sandbox_limits_delegate_to_verified_recipients(ses, delegate):
    """Seed 000 ("remove yourself (identity owner) and the delegate sender from the
    sandbox") and the SES Developer Guide's delegate-sender page ("the AWS accounts of
    both the identity owner and the delegate sender have to be removed from the
    sandbox before either account can send email to non-verified addresses"). Seed
    002's FAQ 2 holds too: sending authorization itself works while the owner is in
    the sandbox. Here in us-west-2, where the owner (management account) is sandboxed
    and the delegate has production access."""
    region = "us-west-2"
    domain = unique_domain("sbowner2")
    resource = ses.verify(domain, region=region)
    sender = f"news@{domain}"
    target = f"someone@{unique_domain('elsewhere')}"
    attach(ses, domain, "delegate", grant(resource, delegate.account_id), region=region)
    ses.production(delegate.account_id, region)
    v1 = ses.client("ses", delegate.user, region=region)

    # Sending authorization works with the owner in the sandbox (mailbox simulator).
    ok = v1.send_email(**simple(sender, [SIMULATOR], unique("owner-sandboxed"), SourceArn=resource))
    assert ses.captured(ok["MessageId"])["fromIdentity"] == resource

    subject = unique("owner-sandboxed-unverified")
    assert ses.cli_fails(
        "SendEmail", *cli_send(sender, [target], subject, "--source-arn", resource), creds=delegate.user, region=region
    ) == ("MessageRejected", not_verified(region, target))
    ses.assert_not_captured(subject)

    # The fix: the owner leaves the sandbox too.
    ses.production(ACCOUNT_ID, region)
    time.sleep(0.2)
    sent = v1.send_email(**simple(sender, [target], subject, SourceArn=resource))
    got = ses.captured(sent["MessageId"])
    assert got["fromIdentity"] == resource and got["destination"] == [target]


def test_deauthorization_takes_effect_on_the_next_send(ses, delegate):
    """Seed 003 step 7: the owner edits the policy (another principal, then an
    explicit deny) or deletes it, and the delegate's very next send is refused."""
    domain = unique_domain("revoke")
    resource = ses.verify(domain)
    sender = f"news@{domain}"
    v1 = ses.client("ses", delegate.user)
    owner = ses.client("sesv2")
    expected = ("AccessDenied", ses_denial(delegate.user_arn, "ses:SendEmail", resource), 403)

    def send():
        return v1.send_email(**simple(sender, [SIMULATOR], unique("revoke"), SourceArn=resource))

    def update(policy: str) -> None:
        owner.update_email_identity_policy(EmailIdentity=domain, PolicyName="delegate", Policy=policy)

    attach(ses, domain, "delegate", grant(resource, delegate.account_id))
    assert send()["MessageId"]

    update(grant(resource, "111122223333"))
    assert expect_client_error(send) == expected
    assert ses.cli_fails(
        "SendEmail", *cli_send(sender, [SIMULATOR], unique("revoked"), "--source-arn", resource), creds=delegate.user
    ) == expected[:2]

    update(grant(resource, delegate.account_id))
    assert send()["MessageId"]
    update(
        doc(
            {"Effect": "Allow", "Principal": {"AWS": delegate.account_id}, "Action": SEND_ACTIONS, "Resource": resource},
            {"Effect": "Deny", "Principal": {"AWS": delegate.user_arn}, "Action": SEND_ACTIONS, "Resource": resource},
        )
    )
    assert expect_client_error(send) == expected

    update(grant(resource, delegate.account_id))
    assert send()["MessageId"]
    owner.delete_email_identity_policy(EmailIdentity=domain, PolicyName="delegate")
    assert expect_client_error(send) == expected


def test_deauthorization_same_account_user(ses):
    """Sending authorization inside one account (no Organizations needed): an IAM user
    without any IAM policy is allowed by the identity's policy naming it (same-account
    resource-based grant); editing or deleting that policy refuses the very next send."""
    domain = unique_domain("samacct")
    resource = ses.verify(domain)
    sender = f"news@{domain}"
    creds, arn = ses.make_user(unique("policyless"))
    v1 = ses.client("ses", creds)
    owner = ses.client("sesv2")
    expected = ("AccessDenied", ses_denial(arn, "ses:SendEmail", resource), 403)

    def send():
        return v1.send_email(**simple(sender, [SIMULATOR], unique("same")))

    assert expect_client_error(send) == expected
    attach(ses, domain, "p", grant(resource, arn))
    assert send()["MessageId"]
    # The account as principal delegates to the account's IAM policies: this user has none.
    owner.update_email_identity_policy(EmailIdentity=domain, PolicyName="p", Policy=grant(resource, ACCOUNT_ID))
    assert expect_client_error(send) == expected
    owner.update_email_identity_policy(EmailIdentity=domain, PolicyName="p", Policy=grant(resource, arn))
    assert send()["MessageId"]
    owner.delete_email_identity_policy(EmailIdentity=domain, PolicyName="p")
    assert ses.cli_fails("SendEmail", *cli_send(sender, [SIMULATOR], unique("same-cli")), creds=creds) == expected[:2]


def test_identity_policy_v1_calls(ses):
    """The owner's v1 calls of seeds 002/003 (PutIdentityPolicy, GetIdentityPolicies,
    ListIdentityPolicies, DeleteIdentityPolicy) through the CLI and boto3, each taking
    effect on the next send."""
    domain = unique_domain("v1pol")
    resource = ses.verify(domain)
    sender = f"news@{domain}"
    creds, arn = ses.make_user(unique("v1-delegate"))
    v1 = ses.client("ses", creds)
    expected = ("AccessDenied", ses_denial(arn, "ses:SendEmail", resource), 403)

    def send():
        return v1.send_email(**simple(sender, [SIMULATOR], unique("v1pol")))

    policy = grant(resource, arn, version="2008-10-17")
    ses.aws("ses", "put-identity-policy", "--identity", domain, "--policy-name", "delegate", "--policy", policy)
    assert send()["MessageId"]
    got = ses.client("ses").get_identity_policies(Identity=domain, PolicyNames=["delegate"])["Policies"]
    assert json.loads(got["delegate"]) == json.loads(policy)
    assert ses.client("ses").list_identity_policies(Identity=domain)["PolicyNames"] == ["delegate"]
    ses.client("ses").put_identity_policy(Identity=domain, PolicyName="delegate", Policy=grant(resource, ACCOUNT_ID))
    assert expect_client_error(send) == expected
    ses.client("ses").put_identity_policy(Identity=domain, PolicyName="delegate", Policy=policy)
    assert send()["MessageId"]
    ses.aws("ses", "delete-identity-policy", "--identity", domain, "--policy-name", "delegate")
    assert expect_client_error(send) == expected
    assert ses.client("ses").list_identity_policies(Identity=domain)["PolicyNames"] == []


# ---------------------------------------------------------------------------
# The sandbox and its quotas
# ---------------------------------------------------------------------------


def _concurrent_cli(ses, args: tuple[str, ...], n: int, region: str) -> list[subprocess.CompletedProcess]:
    """Starts `n` identical AWS CLI commands at once and waits for all of them."""
    cmd = [sys.executable, "-m", "awscli", "--endpoint-url", ses.server.endpoint, "--output", "json", *args]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(ROOT, region))
        for _ in range(n)
    ]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=120)
        out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return out


def test_sandbox_rate_and_recipients(ses):
    """A sandboxed account (the management account in ap-southeast-2): 200/day at
    1 message/s, verified recipients only; production access lifts both."""
    region = "ap-southeast-2"
    domain = unique_domain("sandbox")
    ses.verify(domain, region=region)
    sender = f"news@{domain}"
    inbox = f"inbox@{domain}"
    client = ses.client("ses", region=region)
    quota = client.get_send_quota()
    assert (quota["Max24HourSend"], quota["MaxSendRate"], quota["SentLast24Hours"]) == (200.0, 1.0, 0.0)

    target = f"stranger@{unique_domain('unverified')}"
    subject = unique("sandbox-unverified")
    assert ses.cli_fails("SendEmail", *cli_send(sender, [target], subject), creds=ROOT, region=region) == (
        "MessageRejected",
        not_verified(region, target),
    )
    ses.assert_not_captured(subject)

    # 1 message/s: the second immediate send is throttled. AWS answers the Query API
    # with HTTP 400 and code Throttling (checked last, so the rest still runs).
    assert client.send_email(**simple(sender, [inbox], unique("first")))["MessageId"]
    throttled = unique("second")
    code, message, throttle_status = expect_client_error(client.send_email, **simple(sender, [inbox], throttled))
    assert (code, message) == ("Throttling", "Maximum sending rate exceeded.")
    ses.assert_not_captured(throttled)
    accepted_total = 1

    # The same through the CLI: three identical sends started at once, so they reach
    # the server within well under a second; the CLI marks the retryable error with
    # "(reached max retries: 0)". Start-up jitter on a loaded machine may spread them
    # wider, hence a few tries.
    cli_refusal = re.compile(
        r"An error occurred \(Throttling\) when calling the SendEmail operation"
        r" \(reached max retries: 0\): Maximum sending rate exceeded\.$"
    )
    refused = []
    for _ in range(3):
        time.sleep(1.1)
        results = _concurrent_cli(ses, cli_send(sender, [inbox], unique("burst")), 3, region)
        accepted_total += sum(r.returncode == 0 for r in results)
        refused = [r for r in results if r.returncode != 0]
        for r in refused:
            assert cli_refusal.search(r.stderr.strip()), r.stderr
        if refused:
            break
    assert refused, "three simultaneous CLI sends were all accepted at 1 message/s"
    assert client.get_send_quota()["SentLast24Hours"] == float(accepted_total)

    # The fix for both limits: production access for the account in that region.
    ses.production(ACCOUNT_ID, region)
    time.sleep(1.1)
    quota = client.get_send_quota()
    assert (quota["Max24HourSend"], quota["MaxSendRate"]) == (50000.0, 14.0)
    sent = client.send_email(**simple(sender, [target], subject))
    assert ses.captured(sent["MessageId"])["destination"] == [target]
    assert throttle_status == 400, f"Throttling must come with HTTP 400 (Query API), got {throttle_status}"


# ---------------------------------------------------------------------------
# Malformed input: AWS-shaped errors, and the server keeps serving
# ---------------------------------------------------------------------------

# javax.mail's InternetAddress texts, which SES returns verbatim (seen in the field:
# "Missing final '@domain'", "Missing local name", "Missing domain", ...). A single
# address field holding two addresses is "Illegal address"; as a recipient entry that
# case is left out (SES may join the entries into one header before parsing).
BAD_ADDRESSES = [
    pytest.param("nobody", "Missing final '@domain'", True, id="no-domain"),
    pytest.param("one@example.org, two@example.org", "Illegal address", False, id="two-in-one"),
    pytest.param("@example.org", "Missing local name", True, id="no-local-part"),
    pytest.param("user@", "Missing domain", True, id="empty-domain"),
]


@pytest.mark.parametrize("bad, message, as_recipient", BAD_ADDRESSES)
def test_invalid_address(ses, bad, message, as_recipient):
    domain = unique_domain("addr")
    resource = ses.verify(domain)
    sender = f"news@{domain}"
    subject = unique("bad-address")
    v1 = ses.client("ses")
    got = [
        ses.cli_fails("SendEmail", *cli_send(bad, [SIMULATOR], subject), creds=ROOT),
        expect_client_error(v1.send_email, **simple(bad, [SIMULATOR], subject))[:2],
    ]
    if as_recipient:
        got.append(expect_client_error(v1.send_email, **simple(sender, [bad], subject))[:2])
    ses.assert_not_captured(subject)
    ses.server.alive()
    assert got == [("InvalidParameterValue", message)] * len(got)
    sent = v1.send_email(**simple(sender, [SIMULATOR], subject))
    assert ses.captured(sent["MessageId"])["fromIdentity"] == resource


def test_recipient_count_limit(ses):
    """At most 50 recipients across To, Cc and Bcc; the fix is to split the list."""
    domain = unique_domain("many")
    ses.verify(domain)
    sender = f"news@{domain}"
    rcpt_domain = unique_domain("rcpt")
    recipients = [f"r{i}@{rcpt_domain}" for i in range(51)]
    subject = unique("fifty-one")
    assert ses.cli_fails("SendEmail", *cli_send(sender, recipients, subject), creds=ROOT) == (
        "InvalidParameterValue",
        "Recipient count exceeds 50.",
    )
    split = {"ToAddresses": recipients[:20], "CcAddresses": recipients[20:30], "BccAddresses": recipients[30:]}
    assert expect_client_error(
        ses.client("ses").send_email,
        Source=sender,
        Destination=split,
        Message={"Subject": {"Data": subject}, "Body": {"Text": {"Data": TEXT}}},
    ) == ("InvalidParameterValue", "Recipient count exceeds 50.", 400)
    ses.assert_not_captured(subject)
    ses.server.alive()

    # Split into 50 + 1: both accepted (a single message may address 50 recipients).
    first = ses.client("ses").send_email(**simple(sender, recipients[:50], subject))
    assert sorted(ses.captured(first["MessageId"])["destination"]) == sorted(recipients[:50])
    time.sleep(1.1)
    second = ses.client("ses").send_email(**simple(sender, recipients[50:], subject))
    assert ses.captured(second["MessageId"])["destination"] == recipients[50:]


def test_invalid_base64_raw_message(ses):
    """SDKs always encode RawMessage.Data; a hand-made request with broken base64
    gets AWS's MalformedInput answer and the server keeps going."""
    domain = unique_domain("b64")
    resource = ses.verify(domain)
    status, err = query_error_of(
        ses.signed_ses_query({"Action": "SendRawEmail", "Version": "2010-12-01", "RawMessage.Data": "%%% not base64 %%%"})
    )
    assert (status, err["Type"], err["Code"], err["Message"]) == (400, "Sender", "MalformedInput", "Invalid Base64 encoding")
    ses.server.alive()

    subject = unique("b64-ok")
    raw = raw_mime(f"news@{domain}", SIMULATOR, subject)
    status, _, body = ses.signed_ses_query({"Action": "SendRawEmail", "Version": "2010-12-01", "RawMessage.Data": b64(raw)})
    assert status == 200, body
    assert any(m["fromIdentity"] == resource and subject in m["raw"] for m in ses.messages())


def test_missing_subject(ses):
    """A simple message without Subject (the SDKs refuse to send one; with their
    validation off the server answers as AWS does)."""
    domain = unique_domain("nosubj")
    ses.verify(domain)
    sender = f"news@{domain}"
    v1 = ses.client("ses", parameter_validation=False)
    v2 = ses.client("sesv2", parameter_validation=False)
    got = [
        expect_client_error(
            v1.send_email,
            Source=sender,
            Destination={"ToAddresses": [SIMULATOR]},
            Message={"Body": {"Text": {"Data": TEXT}}},
        ),
        expect_client_error(
            v2.send_email,
            FromEmailAddress=sender,
            Destination={"ToAddresses": [SIMULATOR]},
            Content={"Simple": {"Body": {"Text": {"Data": TEXT}}}},
        ),
    ]
    ses.server.alive()
    assert got == [
        (
            "ValidationError",
            "1 validation error detected: Value null at 'message.subject' failed to satisfy constraint: "
            "Member must not be null",
            400,
        ),
        (
            "BadRequestException",
            "1 validation error detected: Value at 'content.simple.subject' failed to satisfy constraint: "
            "Member must not be null",
            400,
        ),
    ]
    sent = ses.client("ses").send_email(**simple(sender, [SIMULATOR], unique("with-subject")))
    assert ses.captured(sent["MessageId"])
