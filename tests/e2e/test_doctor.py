"""`sesame doctor` on the seeds' scenarios: for each failure it names the check, the
deciding policy and statement, and the fix; after the fix is applied, the same check
passes. The scenarios are set up with the real AWS CLI / boto3 against the server."""

from __future__ import annotations

import json
import subprocess

import pytest

from e2e_support import ACCOUNT_ID, REGION, ROOT, sign_v4, unique
from ses_fixtures import (  # noqa: F401  (fixtures are used by name)
    DENY_CASES,
    SEND_ACTIONS,
    SIMULATOR,
    attach,
    delegate,
    doc,
    fill_domain,
    grant,
    identity_arn,
    new_member,
    not_verified,
    organization,
    raw_mime,
    ses,
    ses_denial,
    simple,
    smtp,
    smtp_password,
    unique_domain,
)


def doctor(ses, principal: str, sender: str, *recipients: str, extra: tuple[str, ...] = (), region: str = REGION,
           stdin: str | None = None) -> tuple[int, dict]:
    cmd = [str(ses.server.binary), "doctor", "--data-dir", str(ses.server.data_dir), "--principal", principal,
           "--from", sender, "--region", region, "--format", "json", *extra]
    for r in recipients:
        cmd += ["--to", r]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, input=stdin)
    assert p.returncode in (0, 1), f"doctor crashed ({p.returncode}): {p.stderr}"
    return p.returncode, json.loads(p.stdout)


def check(report: dict, name: str) -> dict:
    found = [c for c in report["checks"] if c["check"] == name]
    assert found, f"no {name} check in {report}"
    return found[0]


def explain(ses, request_id: str) -> str:
    """`sesame explain REQUEST-ID`; the audit writer commits in batches, a few
    milliseconds behind the response, hence a few tries."""
    cmd = [str(ses.server.binary), "explain", request_id, "--data-dir", str(ses.server.data_dir)]
    for _ in range(50):
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if p.returncode == 0:
            return p.stdout
    raise AssertionError(f"explain {request_id} failed: {p.stderr}")


def failing(call, **kwargs) -> tuple[str, str, str]:
    """Makes a call that must fail; returns (code, message, request id)."""
    from botocore.exceptions import ClientError

    try:
        result = call(**kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"]["Message"], e.response["ResponseMetadata"]["RequestId"]
    raise AssertionError(f"expected an error, the call succeeded: {result}")


def allow_send(resource: str) -> dict:
    return {"Effect": "Allow", "Action": SEND_ACTIONS, "Resource": resource}


def test_address_identity_scoped_by_domain_arn_is_named_and_fixed(ses):
    domain = unique_domain("doc001")
    sender = f"marketing@{domain}"
    ses.verify(domain)
    ses.verify(sender)
    ses.verify("friend@" + domain)
    name = unique("doc001")
    _, arn = ses.make_user(name, ("send", doc(allow_send(identity_arn(domain)))))
    code, report = doctor(ses, arn, sender, "friend@" + domain, extra=("--smtp",))
    assert code == 1 and not report["passed"]
    auth = check(report, "authorization")
    assert not auth["passed"]
    assert f"`{arn}' is not authorized to perform `ses:SendRawEmail' on resource `{identity_arn(sender)}'" in auth["detail"]
    assert "verified as its own identity" in auth["fix"] and identity_arn(sender) in auth["fix"]
    assert any("resource not matched" in line for line in auth["trace"])
    ses.client("iam").put_user_policy(UserName=name, PolicyName="send", PolicyDocument=doc(allow_send(identity_arn(sender))))
    code, report = doctor(ses, arn, sender, "friend@" + domain, extra=("--smtp",))
    assert check(report, "authorization")["passed"], report
    assert code == 0, report


def test_explicit_deny_names_policy_and_statement(ses):
    domain = unique_domain("docdeny")
    ses.verify(domain)
    ses.verify("to@" + domain)
    deny = {"Sid": "OnlyNoReply", "Effect": "Deny", "Action": SEND_ACTIONS, "Resource": "*",
            "Condition": {"StringNotEquals": {"ses:FromAddress": f"noreply@{domain}"}}}
    name = unique("docdeny")
    _, arn = ses.make_user(name, ("guard", doc(allow_send("*"), deny)))
    code, report = doctor(ses, arn, f"ceo@{domain}", "to@" + domain)
    auth = check(report, "authorization")
    assert code == 1 and not auth["passed"]
    assert 'explicit deny by identity-based policy: policy "guard", statement 2 (Sid "OnlyNoReply")' in auth["detail"]
    assert "remove it or narrow its condition" in auth["fix"]
    assert any("StringNotEquals ses:FromAddress" in line for line in auth["trace"])
    code, report = doctor(ses, arn, f"noreply@{domain}", "to@" + domain)
    assert check(report, "authorization")["passed"], report


def test_boundary_without_ses_is_the_cause(ses):
    domain = unique_domain("docpb")
    ses.verify(domain)
    ses.verify("to@" + domain)
    iam = ses.client("iam")
    boundary = iam.create_policy(PolicyName=unique("s3only"), PolicyDocument=doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))["Policy"]["Arn"]
    name = unique("docpb")
    _, arn = ses.make_user(name, ("send", doc(allow_send("*"))))
    iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=boundary)
    _, report = doctor(ses, arn, f"news@{domain}", "to@" + domain)
    auth = check(report, "authorization")
    assert not auth["passed"] and "no permissions boundary allows ses:SendEmail" in auth["detail"]
    assert "permissions boundary" in auth["fix"] and boundary in auth["fix"]


def test_sandbox_and_unverified_from_are_reported_with_fixes(ses):
    # The module's account has production access in us-east-1 only: eu-west-1 is a sandbox.
    region = "eu-west-1"
    domain = unique_domain("docsb")
    name = unique("docsb")
    _, arn = ses.make_user(name, ("send", doc(allow_send("*"))))
    _, report = doctor(ses, arn, f"news@{domain}", "stranger@example.net", region=region)
    frm = check(report, "from identity")
    assert not frm["passed"]
    assert frm["detail"] == f"Email address is not verified. The following identities failed the check in region EU-WEST-1: news@{domain}"
    assert f"verify news@{domain}" in frm["fix"] and domain in frm["fix"]
    # The same refusal of a real SES v2 send: explain rebuilds it from its parameters.
    creds = ses.make_user(unique("docsb-sender"), ("send", doc(allow_send("*"))))[0]
    content = {"Simple": {"Subject": {"Data": "hi"}, "Body": {"Text": {"Data": "hi"}}}}
    code, message, request_id = failing(ses.client("sesv2", creds, region=region).send_email, FromEmailAddress=f"news@{domain}",
                                        Destination={"ToAddresses": ["stranger@example.net"]}, Content=content)
    assert (code, message) == ("MessageRejected", frm["detail"])
    out = explain(ses, request_id)
    assert "FAIL from identity" in out and f"fix: {frm['fix']}" in out
    ses.verify(domain, region=region)
    _, report = doctor(ses, arn, f"news@{domain}", "stranger@example.net", region=region)
    assert check(report, "from identity")["passed"] and check(report, "authorization")["passed"]
    sandbox = check(report, "sandbox")
    assert not sandbox["passed"] and "stranger@example.net" in sandbox["detail"]
    assert "production-access" in sandbox["fix"]
    ses.production(ACCOUNT_ID, region)
    code, report = doctor(ses, arn, f"news@{domain}", "stranger@example.net", region=region)
    assert check(report, "sandbox")["passed"] and code == 0, report


def test_unknown_principal_fails_first_check(ses):
    code, report = doctor(ses, f"arn:aws:iam::{ACCOUNT_ID}:user/{unique('ghost')}", "a@example.com", "b@example.com")
    assert code == 1
    assert report["checks"][0]["check"] == "principal" and not report["checks"][0]["passed"]
    assert "cannot be found" in report["checks"][0]["detail"]


def test_explain_shows_the_trace_of_a_denied_call_by_its_request_id(ses):
    from botocore.exceptions import ClientError

    creds, arn = ses.make_user(unique("explain"))
    try:
        ses.client("iam", creds).list_users()
        raise AssertionError("ListUsers should be denied")
    except ClientError as e:
        request_id = e.response["ResponseMetadata"]["RequestId"]
        assert e.response["Error"]["Code"] == "AccessDenied"
    cmd = [str(ses.server.binary), "explain", request_id, "--data-dir", str(ses.server.data_dir)]
    for _ in range(50):  # the audit writer commits in batches, a few milliseconds behind
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if p.returncode == 0:
            break
    assert p.returncode == 0, p.stderr
    assert f"{arn}  iam:ListUsers  AccessDenied: User: {arn} is not authorized to perform: iam:ListUsers" in p.stdout
    assert "decision: implicit deny: no identity-based policy allows iam:ListUsers" in p.stdout
    missing = subprocess.run([*cmd[:2], "no-such-request", *cmd[3:]], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "no recorded call has request id no-such-request" in missing.stderr


# ---------------------------------------------------------------------------
# The remaining seed scenarios (the set of test_ses_seeds.py): each failure made for
# real, then doctor and explain name its cause and fix.
# ---------------------------------------------------------------------------


def test_missing_send_raw_email_names_the_policy_to_extend(ses):
    """Seeds 000/001: a user allowed only ses:SendEmail sends raw mail; the fix is to
    add ses:SendRawEmail to that very policy."""
    domain = unique_domain("docraw")
    resource = ses.verify(domain)
    sender = f"news@{domain}"
    name = unique("docraw")
    creds, arn = ses.make_user(name, ("send", doc({"Effect": "Allow", "Action": "ses:SendEmail", "Resource": "*"})))
    raw = raw_mime(sender, SIMULATOR, unique("raw"))
    code, message, request_id = failing(ses.client("ses", creds).send_raw_email, RawMessage={"Data": raw.encode()})
    assert (code, message) == ("AccessDenied", ses_denial(arn, "ses:SendRawEmail", resource))

    _, report = doctor(ses, arn, sender, SIMULATOR, extra=("--smtp",))
    auth = check(report, "authorization")
    assert not auth["passed"] and "no identity-based policy allows ses:SendRawEmail" in auth["detail"]
    assert auth["fix"] == (f'add ses:SendRawEmail to policy "send" (an identity-based policy of {arn}):'
                           " its statement 1 allows ses:SendEmail but not ses:SendRawEmail")
    out = explain(ses, request_id)
    assert f"AccessDenied: {ses_denial(arn, 'ses:SendRawEmail', resource)}" in out
    assert f"decision: implicit deny: no identity-based policy allows ses:SendRawEmail on {resource}" in out
    assert f"fix: {auth['fix']}" in out  # explain gives doctor's words for the same send

    ses.client("iam").put_user_policy(UserName=name, PolicyName="send", PolicyDocument=doc(allow_send("*")))
    assert "every check passes now: the cause has been fixed since" in explain(ses, request_id)
    code, report = doctor(ses, arn, sender, SIMULATOR, extra=("--smtp",))
    assert code == 0 and check(report, "authorization")["passed"], report


def test_explain_names_the_domain_arn_scoping_of_a_real_send(ses):
    """Seed 001 step 4 through a real send: the address identity is what SES
    authorizes, and the recorded trace shows the domain-scoped statement not matching."""
    domain = unique_domain("docmkt")
    domain_arn = ses.verify(domain)
    sender = f"marketing@{domain}"
    address_arn = ses.verify(sender)
    creds, arn = ses.make_user(unique("docmkt"), ("send", doc(allow_send(domain_arn))))
    raw = raw_mime(sender, SIMULATOR, unique("mkt"))
    _, message, request_id = failing(ses.client("ses", creds).send_raw_email, RawMessage={"Data": raw.encode()})
    assert message == ses_denial(arn, "ses:SendRawEmail", address_arn)
    out = explain(ses, request_id)
    assert 'identity-based policy: policy "send", statement 1 (Allow): resource not matched' in out
    assert f"decision: implicit deny: no identity-based policy allows ses:SendRawEmail on {address_arn}" in out
    assert (f"fix: {sender} is verified as its own identity, so SES authorizes it through {address_arn}:"
            f" set the Resource of the statement that names {domain_arn} to {address_arn}") in out


@pytest.mark.parametrize("condition, sender, to, cli_extra, boto_extra", DENY_CASES)
def test_explicit_deny_on_each_condition_key(ses, condition, sender, to, cli_extra, boto_extra):
    """Seed 000's condition keys: doctor (given the same request values) and explain
    (the recorded request) both name the deny statement and the key that matched."""
    domain = unique_domain("docdk")
    resource = ses.verify(domain)
    condition, sender, _, boto_extra = fill_domain((condition, sender, cli_extra, boto_extra), domain)
    name = unique("docdk")
    deny = doc({"Sid": "Guard", "Effect": "Deny", "Action": SEND_ACTIONS, "Resource": "*", "Condition": condition})
    creds, arn = ses.make_user(name, ("allow-send", doc(allow_send("*"))), ("deny", deny))
    client = ses.client("ses", creds)
    code, message, request_id = failing(client.send_email, **simple(sender, to, unique("deny"), **boto_extra))
    assert (code, message) == ("AccessDenied", ses_denial(arn, "ses:SendEmail", resource))
    (operator, values), = condition.items()
    (key, _), = values.items()
    decided = 'explicit deny by identity-based policy: policy "deny", statement 1 (Sid "Guard")'
    out = explain(ses, request_id)
    assert f"decision: {decided}" in out
    assert any(line.strip().startswith('identity-based policy: policy "deny", statement 1 (Sid "Guard") (Deny): applies')
               and f"{operator} {key}" in line for line in out.splitlines()), out

    extra = ["--user-agent", client.meta.config.user_agent]
    if "ReturnPath" in boto_extra:
        extra += ["--return-path", boto_extra["ReturnPath"]]
    _, report = doctor(ses, arn, sender, *to, extra=tuple(extra))
    auth = check(report, "authorization")
    assert not auth["passed"] and decided in auth["detail"]
    assert auth["fix"] == f'{decided.removeprefix("explicit deny by ")} denies ses:SendEmail: remove it or narrow its condition'
    assert any(f"{operator} {key}" in line for line in auth["trace"]), auth["trace"]
    assert f"fix: {auth['fix']}" in out
    ses.client("iam").delete_user_policy(UserName=name, PolicyName="deny")
    _, report = doctor(ses, arn, sender, *to, extra=tuple(extra))
    assert check(report, "authorization")["passed"], report


def test_explain_boundary_of_a_real_send(ses):
    """Seed 000: the recorded denial names the permissions boundary as the missing allow."""
    domain = unique_domain("docpb2")
    resource = ses.verify(domain)
    iam = ses.client("iam")
    boundary = iam.create_policy(PolicyName=unique("s3only"), PolicyDocument=doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))["Policy"]["Arn"]
    name = unique("docpb2")
    creds, arn = ses.make_user(name, ("send", doc(allow_send("*"))))
    iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=boundary)
    _, message, request_id = failing(ses.client("ses", creds).send_email, **simple(f"news@{domain}", [SIMULATOR], unique("pb")))
    assert message == ses_denial(arn, "ses:SendEmail", resource)
    out = explain(ses, request_id)
    assert f"decision: implicit deny: no permissions boundary allows ses:SendEmail on {resource}" in out
    assert f"fix: add ses:SendEmail on {resource} to the permissions boundary of {arn} (" in out


def test_scp_denying_ses_is_named_with_its_target(ses, organization, new_member):
    """Seeds 000/001 step 5: `Deny ses:*` attached to the OU of a member account; doctor
    names the SCP's id, its OU and the detach command; after detaching, doctor passes."""
    from botocore.exceptions import ClientError

    member = new_member("docscp")
    org = organization.org
    root = organization.root_id()
    try:
        org.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "PolicyTypeAlreadyEnabledException", e.response["Error"]
    ou = org.create_organizational_unit(ParentId=root, Name=unique("mailers"))["OrganizationalUnit"]["Id"]
    org.move_account(AccountId=member.account_id, SourceParentId=root, DestinationParentId=ou)
    domain = unique_domain("docscp")
    resource = ses.verify(domain, account=member.account_id)
    sender = f"news@{domain}"
    policy_id = org.create_policy(Name=unique("deny-ses"), Description="no SES", Type="SERVICE_CONTROL_POLICY",
                                  Content=doc({"Effect": "Deny", "Action": "ses:*", "Resource": "*"}))["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=policy_id, TargetId=ou)

    for creds, arn in ((member.user, member.user_arn), (member.role, member.role_session_arn)):
        _, message, request_id = failing(ses.client("ses", creds).send_email, **simple(sender, [SIMULATOR], unique("scp")))
        assert message == ses_denial(arn, "ses:SendEmail", resource)
        decided = f'explicit deny by service control policy (level 2): policy "{policy_id}", statement 1'
        out = explain(ses, request_id)
        assert f"decision: {decided}" in out
        _, report = doctor(ses, arn, sender, SIMULATOR)
        auth = check(report, "authorization")
        assert not auth["passed"] and decided in auth["detail"]
        assert auth["fix"] == (
            f"SCP {policy_id} attached to OU {ou} denies ses:* (statement 1): detach it or add an exception for {arn}"
            f" (aws organizations detach-policy --policy-id {policy_id} --target-id {ou})"
        )
        assert f"fix: {auth['fix']}" in out

    org.detach_policy(PolicyId=policy_id, TargetId=ou)
    code, report = doctor(ses, member.user_arn, sender, SIMULATOR)
    assert check(report, "authorization")["passed"] and code == 0, report

    # Seed 000's other SCP case: nothing allows SES at one level (the OU's FullAWSAccess
    # replaced by an S3-only SCP; a target keeps at least one SCP).
    s3_only = org.create_policy(Name=unique("s3-only"), Description="S3 only", Type="SERVICE_CONTROL_POLICY",
                                Content=doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=s3_only, TargetId=ou)
    org.detach_policy(PolicyId="p-FullAWSAccess", TargetId=ou)
    _, message, request_id = failing(ses.client("ses", member.user).send_email, **simple(sender, [SIMULATOR], unique("gap")))
    assert message == ses_denial(member.user_arn, "ses:SendEmail", resource)
    out = explain(ses, request_id)
    assert f"decision: implicit deny: no service control policy allows ses:SendEmail on {resource}" in out
    _, report = doctor(ses, member.user_arn, sender, SIMULATOR)
    auth = check(report, "authorization")
    assert auth["fix"] == (
        f"no SCP attached to OU {ou} allows ses:SendEmail (attached there: {s3_only}): attach one that does,"
        f" e.g. aws organizations attach-policy --policy-id p-FullAWSAccess --target-id {ou}"
    )
    assert f"fix: {auth['fix']}" in out
    org.attach_policy(PolicyId="p-FullAWSAccess", TargetId=ou)
    assert doctor(ses, member.user_arn, sender, SIMULATOR)[0] == 0


def test_delegate_without_sending_authorization_policy(ses, delegate):
    """Seed 002: the delegate sends with the owner's SourceArn before the owner has
    attached a policy; doctor says the identity has none and gives the owner's command."""
    domain = unique_domain("docown")
    resource = ses.verify(domain)
    sender = f"test@{domain}"
    v1 = ses.client("ses", delegate.user)
    _, message, request_id = failing(v1.send_email, **simple(sender, [SIMULATOR], unique("nopol"), SourceArn=resource))
    assert message == ses_denial(delegate.user_arn, "ses:SendEmail", resource)
    out = explain(ses, request_id)
    assert f"decision: implicit deny: no resource-based policy allows ses:SendEmail on {resource}" in out

    _, report = doctor(ses, delegate.user_arn, sender, SIMULATOR, extra=("--source-arn", resource))
    assert check(report, "from identity")["passed"]
    auth = check(report, "authorization")
    assert not auth["passed"] and "no resource-based policy allows ses:SendEmail" in auth["detail"]
    assert auth["fix"].startswith(
        f"identity {domain} has no sending authorization policy: its owner (account {ACCOUNT_ID}) must add a statement"
        f" allowing ses:SendEmail for {delegate.user_arn} (or its account {delegate.account_id}) on {resource}:"
        f" aws ses put-identity-policy --identity {domain}"
    )
    assert f"fix: {auth['fix']}" in out
    attach(ses, domain, "delegate", grant(resource, delegate.account_id, version="2008-10-17"))
    code, report = doctor(ses, delegate.user_arn, sender, SIMULATOR, extra=("--source-arn", resource))
    assert code == 0 and check(report, "authorization")["passed"], report
    assert "is covered by account" in check(report, "from identity")["detail"]


@pytest.mark.parametrize("granted", ["user", "role"])
def test_delegate_policy_naming_another_principal(ses, delegate, granted):
    """Seed 002 with a user or a role as the policy's principal: the principal it names
    passes, the other one of the same account is refused, and the fix names the
    owner's policy and the ARN to add (the role, not the session, for a role session)."""
    domain = unique_domain(f"doc{granted}")
    resource = ses.verify(domain)
    sender = f"app@{domain}"
    principals = {"user": (delegate.user, delegate.user_arn, delegate.user_arn),
                  "role": (delegate.role, delegate.role_session_arn, delegate.role_arn)}
    attach(ses, domain, granted, grant(resource, principals[granted][2]))
    refused = "role" if granted == "user" else "user"
    creds, caller_arn, principal_arn = principals[refused]

    content = {"Simple": {"Subject": {"Data": unique("other")}, "Body": {"Text": {"Data": "hi"}}}}
    _, message, request_id = failing(ses.client("sesv2", creds).send_email, FromEmailAddress=sender,
                                     FromEmailAddressIdentityArn=resource,
                                     Destination={"ToAddresses": [SIMULATOR]}, Content=content)
    assert message == ses_denial(caller_arn, "ses:SendEmail", resource)
    out = explain(ses, request_id)
    assert f"decision: implicit deny: no resource-based policy allows ses:SendEmail on {resource}" in out

    code, report = doctor(ses, principals[granted][1], sender, SIMULATOR, extra=("--source-arn", resource))
    assert code == 0, report
    _, report = doctor(ses, caller_arn, sender, SIMULATOR, extra=("--source-arn", resource))
    auth = check(report, "authorization")
    assert not auth["passed"]
    assert auth["fix"].startswith(
        f'the sending authorization policies of identity {domain} ("{granted}") do not allow ses:SendEmail for'
        f" {principal_arn}: its owner (account {ACCOUNT_ID}) must add a statement"
    )
    assert f'"Principal":{{"AWS":"{principal_arn}"}}' in auth["fix"]
    assert f"fix: {auth['fix']}" in out


def test_delegate_in_the_wrong_region(ses, delegate):
    """Seeds 000/002/003: the owner's us-east-1 identity used through eu-west-1 (with
    its own ARN, or an eu-west-1 ARN of the same name): doctor names the region to use."""
    domain = unique_domain("docreg")
    resource = ses.verify(domain)
    sender = f"news@{domain}"
    attach(ses, domain, "delegate", grant(resource, delegate.account_id))
    eu = "eu-west-1"
    eu_arn = identity_arn(domain, region=eu)
    code, message, request_id = failing(ses.client("ses", delegate.user, region=eu).send_email,
                                        **simple(sender, [SIMULATOR], unique("region"), SourceArn=resource))
    assert (code, message) == ("MessageRejected", not_verified(eu, sender))
    out = explain(ses, request_id)
    assert f"MessageRejected: {not_verified(eu, sender)}" in out
    assert "(no authorization trace: the call failed before or after authorization)" in out

    _, report = doctor(ses, delegate.user_arn, sender, SIMULATOR, region=eu, extra=("--source-arn", resource))
    frm = check(report, "from identity")
    assert not frm["passed"] and frm["detail"] == not_verified(eu, sender)
    assert frm["fix"] == (
        f"the identity ARN {resource} is in region {REGION}, but the send goes to {eu}: sending authorization"
        f" works only in the identity's region, so send through the {REGION} endpoint (--region {REGION})"
    )
    assert f"fix: {frm['fix']}" in out  # rebuilt from the request's parameters
    _, report = doctor(ses, delegate.user_arn, sender, SIMULATOR, region=eu, extra=("--source-arn", eu_arn))
    assert check(report, "from identity")["fix"] == (
        f"account {ACCOUNT_ID} has no identity {domain} in {eu}; it is verified in {REGION}: send through the"
        f" {REGION} endpoint (--region {REGION}) with --source-arn {resource}"
    )
    code, report = doctor(ses, delegate.user_arn, sender, SIMULATOR, extra=("--source-arn", resource))
    assert code == 0, report


def test_delegate_in_sandbox_sending_to_unverified_address(ses, new_member):
    """Seed 002 FAQ 1: the delegate's own account is in the sandbox."""
    member = new_member("docsbx")
    domain = unique_domain("docsbo")
    resource = ses.verify(domain)
    sender = f"test@{domain}"
    attach(ses, domain, "delegate", grant(resource, member.account_id))
    target = f"test@{unique_domain('gmail')}"
    code, message, request_id = failing(ses.client("ses", member.user).send_email,
                                        **simple(sender, [target], unique("sbx"), SourceArn=resource))
    assert (code, message) == ("MessageRejected", not_verified(REGION, target))
    out = explain(ses, request_id)
    assert f"MessageRejected: {not_verified(REGION, target)}" in out

    _, report = doctor(ses, member.user_arn, sender, target, extra=("--source-arn", resource))
    assert check(report, "authorization")["passed"] and check(report, "owner sandbox")["passed"]
    sandbox = check(report, "sandbox")
    assert not sandbox["passed"] and sandbox["detail"] == not_verified(REGION, target)
    assert sandbox["fix"] == (
        f"verify the recipients in account {member.account_id} ({REGION}), or get production access for it"
        f" (sesame admin production-access --account {member.account_id} --region {REGION})"
    )
    assert f"fix: {sandbox['fix']}" in out
    ses.production(member.account_id, REGION)
    code, report = doctor(ses, member.user_arn, sender, target, extra=("--source-arn", resource))
    assert code == 0, report


def test_owner_in_sandbox_is_named(ses, delegate):
    """Seed 000: the owner is still in the sandbox (us-west-2) while the delegate has
    production access: the owner's sandbox is the check that fails."""
    region = "us-west-2"
    domain = unique_domain("docsbo2")
    resource = ses.verify(domain, region=region)
    sender = f"news@{domain}"
    target = f"someone@{unique_domain('elsewhere')}"
    attach(ses, domain, "delegate", grant(resource, delegate.account_id), region=region)
    ses.production(delegate.account_id, region)
    code, message, request_id = failing(ses.client("ses", delegate.user, region=region).send_email,
                                        **simple(sender, [target], unique("owner-sb"), SourceArn=resource))
    assert (code, message) == ("MessageRejected", not_verified(region, target))
    out = explain(ses, request_id)
    assert f"MessageRejected: {not_verified(region, target)}" in out

    _, report = doctor(ses, delegate.user_arn, sender, target, region=region, extra=("--source-arn", resource))
    assert check(report, "sandbox")["passed"] and check(report, "authorization")["passed"]
    owner = check(report, "owner sandbox")
    assert not owner["passed"] and owner["detail"] == not_verified(region, target)
    assert owner["fix"].startswith(
        f"the identity owner, account {ACCOUNT_ID}, is in the sandbox in {region}: a delegate reaches unverified"
        f" recipients only when both accounts have production access, so the owner needs it too"
        f" (sesame admin production-access --account {ACCOUNT_ID} --region {region})"
    )
    assert f"fix: {owner['fix']}" in out
    ses.production(ACCOUNT_ID, region)
    code, report = doctor(ses, delegate.user_arn, sender, target, region=region, extra=("--source-arn", resource))
    assert code == 0 and check(report, "owner sandbox")["passed"], report


def test_deauthorization_by_editing_or_deleting_the_policy(ses, delegate):
    """Seed 003 step 7: after each edit of the owner's policy the delegate's real send
    fails, and doctor and explain name the edited policy (or its absence)."""
    domain = unique_domain("docrev")
    resource = ses.verify(domain)
    sender = f"news@{domain}"
    owner = ses.client("sesv2")
    attach(ses, domain, "delegate", grant(resource, delegate.account_id))
    args = ("--source-arn", resource)
    assert doctor(ses, delegate.user_arn, sender, SIMULATOR, extra=args)[0] == 0

    def refused() -> tuple[str, dict]:
        call = ses.client("ses", delegate.user).send_email
        _, message, request_id = failing(call, **simple(sender, [SIMULATOR], unique("rev"), SourceArn=resource))
        assert message == ses_denial(delegate.user_arn, "ses:SendEmail", resource)
        auth = check(doctor(ses, delegate.user_arn, sender, SIMULATOR, extra=args)[1], "authorization")
        assert not auth["passed"]
        out = explain(ses, request_id)
        assert f"fix: {auth['fix']}" in out
        return out, auth

    def update(policy: str) -> None:
        owner.update_email_identity_policy(EmailIdentity=domain, PolicyName="delegate", Policy=policy)

    update(grant(resource, "111122223333"))
    out, auth = refused()
    assert f"decision: implicit deny: no resource-based policy allows ses:SendEmail on {resource}" in out
    assert auth["fix"].startswith(
        f'the sending authorization policies of identity {domain} ("delegate") do not allow ses:SendEmail for {delegate.user_arn}'
    )

    update(doc({"Effect": "Allow", "Principal": {"AWS": delegate.account_id}, "Action": SEND_ACTIONS, "Resource": resource},
               {"Sid": "Revoke", "Effect": "Deny", "Principal": {"AWS": delegate.user_arn}, "Action": SEND_ACTIONS, "Resource": resource}))
    out, auth = refused()
    decided = 'resource-based policy: policy "delegate", statement 2 (Sid "Revoke")'
    assert f"decision: explicit deny by {decided}" in out
    assert auth["fix"] == f"{decided} on identity {domain} denies: the identity owner (account {ACCOUNT_ID}) must remove or narrow that statement"

    owner.delete_email_identity_policy(EmailIdentity=domain, PolicyName="delegate")
    out, auth = refused()
    assert f"decision: implicit deny: no resource-based policy allows ses:SendEmail on {resource}" in out
    assert auth["fix"].startswith(f"identity {domain} has no sending authorization policy")


def smtp_doctor(smtp, arn: str, sender: str, *extra: str, password: str | None = None) -> tuple[int, dict]:
    return doctor(smtp.ses, arn, sender, SIMULATOR, region=smtp.region, extra=("--smtp", *extra), stdin=password)


def test_smtp_554_access_denied(smtp):
    """Seed 001 over SMTP: 554 Access denied for a user allowed only ses:SendEmail;
    doctor --smtp names the missing action in its policy. (SMTP replies carry no
    request id, so there is nothing for explain to look up.)"""
    import smtplib

    ses = smtp.ses
    domain = unique_domain("docsmtp")
    resource = ses.verify(domain, region=smtp.region)
    sender = f"news@{domain}"
    name = unique("docsmtp")
    creds, arn = ses.make_user(name, ("send", doc({"Effect": "Allow", "Action": "ses:SendEmail", "Resource": "*"})))
    with pytest.raises(smtplib.SMTPDataError) as denied:
        smtp.send(creds, sender, [SIMULATOR], raw_mime(sender, SIMULATOR, unique("smtp")))
    assert denied.value.smtp_code == 554
    assert denied.value.smtp_error.decode() == "Access denied: " + ses_denial(arn, "ses:SendRawEmail", resource)

    _, report = smtp_doctor(smtp, arn, sender, "--smtp-username", creds.access_key_id,
                            password=smtp_password(creds.secret, smtp.region))
    assert check(report, "credentials")["passed"]
    auth = check(report, "authorization")
    assert not auth["passed"] and ses_denial(arn, "ses:SendRawEmail", resource) in auth["detail"]
    assert auth["fix"].startswith('add ses:SendRawEmail to policy "send"')
    ses.client("iam").put_user_policy(UserName=name, PolicyName="send", PolicyDocument=doc(allow_send(resource)))
    assert smtp_doctor(smtp, arn, sender)[0] == 0
    smtp.send(creds, sender, [SIMULATOR], raw_mime(sender, SIMULATOR, unique("smtp-ok")))


def test_smtp_credentials_of_another_region(smtp):
    """SMTP passwords are region-specific: a password derived for us-east-1 is refused
    by the eu-west-1 endpoint (535); doctor names the region it was made for. So are a
    secret key given as password and another user's access key."""
    import smtplib

    ses = smtp.ses
    domain = unique_domain("docpw")
    ses.verify(domain, region=smtp.region)
    sender = f"news@{domain}"
    creds, arn = ses.make_user(unique("docpw"), ("send", doc(allow_send("*"))))
    wrong = smtp_password(creds.secret, "us-east-1")
    client = smtplib.SMTP(smtp.host, smtp.port, timeout=30)
    try:
        client.ehlo("e2e.example.com")
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.login(creds.access_key_id, wrong)
        assert refused.value.smtp_code == 535
    finally:
        client.close()

    key = creds.access_key_id
    derive = f"derive the password for {smtp.region}: sesame smtp-password --access-key-id {key} --region {smtp.region}"
    code, report = smtp_doctor(smtp, arn, sender, "--smtp-username", key, password=wrong)
    cred = check(report, "credentials")
    assert code == 1 and not cred["passed"]
    assert cred["detail"] == (f"the SMTP password of access key {key} was derived for region us-east-1, but the SMTP"
                              f" endpoint of {smtp.region} accepts only passwords derived for {smtp.region}")
    assert cred["fix"] == derive
    assert wrong not in json.dumps(report)
    _, report = smtp_doctor(smtp, arn, sender, "--smtp-username", key, password=creds.secret)
    cred = check(report, "credentials")
    assert "is the secret access key of" in cred["detail"] and cred["fix"] == derive
    assert creds.secret not in json.dumps(report)
    other, other_arn = ses.make_user(unique("docpw-other"))
    _, report = smtp_doctor(smtp, arn, sender, "--smtp-username", other.access_key_id,
                            password=smtp_password(other.secret, smtp.region))
    assert check(report, "credentials")["detail"] == f"the SMTP username {other.access_key_id} is an access key of {other_arn}, not of {arn}"

    right = smtp_password(creds.secret, smtp.region)
    code, report = smtp_doctor(smtp, arn, sender, "--smtp-username", key, password=right)
    assert code == 0 and check(report, "credentials")["passed"], report
    smtp.send(creds, sender, [SIMULATOR], raw_mime(sender, SIMULATOR, unique("pw-ok")))


def doctor_api(ses, creds, body: dict) -> tuple[int, dict]:
    """`POST /v2/email/sesame/doctor`, SigV4-signed like any SES v2 call."""
    data = json.dumps(body).encode()
    server = ses.server
    headers = sign_v4("POST", f"{server.host}:{server.port}", "/v2/email/sesame/doctor", "",
                      {"Content-Type": "application/json"}, data, creds, "ses", REGION, None)
    status, _, out = server.raw("POST", "/v2/email/sesame/doctor", data, headers)
    return status, json.loads(out)


def test_doctor_over_the_api_for_an_account_administrator(ses):
    """The same checklist over the API, for a caller allowed what the IAM policy
    simulator needs (iam:SimulatePrincipalPolicy on the principal); others are refused."""
    domain = unique_domain("docapi")
    ses.verify(domain)
    ses.verify("to@" + domain)
    _, arn = ses.make_user(unique("docapi"), ("send", doc({"Effect": "Allow", "Action": "ses:SendEmail", "Resource": f"arn:aws:ses:{REGION}:{ACCOUNT_ID}:identity/other.example"})))
    request = {"Principal": arn, "From": f"news@{domain}", "To": ["to@" + domain]}

    status, report = doctor_api(ses, ROOT, request)
    assert status == 200, report
    _, cli_report = doctor(ses, arn, f"news@{domain}", "to@" + domain)
    assert report == cli_report, "the API gives the CLI's checklist"
    assert not report["passed"] and not check(report, "authorization")["passed"]

    outsider, _ = ses.make_user(unique("docapi-no"), ("send", doc({"Effect": "Allow", "Action": "ses:*", "Resource": "*"})))
    status, refused = doctor_api(ses, outsider, request)
    assert status == 403, refused
    assert "iam:SimulatePrincipalPolicy" in refused.get("message", refused.get("Message", ""))
