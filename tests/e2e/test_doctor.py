"""`sesame doctor` on the seeds' scenarios: for each failure it names the check, the
deciding policy and statement, and the fix; after the fix is applied, the same check
passes. The scenarios are set up with the real AWS CLI / boto3 against the server."""

from __future__ import annotations

import json
import subprocess

from e2e_support import ACCOUNT_ID, REGION, unique
from ses_fixtures import SEND_ACTIONS, doc, identity_arn, ses, unique_domain  # noqa: F401  (fixture)


def doctor(ses, principal: str, sender: str, *recipients: str, extra: tuple[str, ...] = (), region: str = REGION) -> tuple[int, dict]:
    cmd = [str(ses.server.binary), "doctor", "--data-dir", str(ses.server.data_dir), "--principal", principal,
           "--from", sender, "--region", region, "--format", "json", *extra]
    for r in recipients:
        cmd += ["--to", r]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert p.returncode in (0, 1), f"doctor crashed ({p.returncode}): {p.stderr}"
    return p.returncode, json.loads(p.stdout)


def check(report: dict, name: str) -> dict:
    found = [c for c in report["checks"] if c["check"] == name]
    assert found, f"no {name} check in {report}"
    return found[0]


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
