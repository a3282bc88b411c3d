"""`sesame export` / `sesame import`: a rich configuration built with boto3 on one
server (an organization with an SCP on a member account, users with a permissions
boundary and a versioned managed policy through a group, a role, a cross-account
delegate with a sending-authorization policy, DKIM, a configuration set with an event
destination, a template, a suppressed address) is exported, imported into a fresh data
directory, and a second server on it takes the same decisions (IAM
simulate-principal-policy, real sends, `sesame doctor`). A second import changes
nothing; `--dry-run` shows an edited document's diff without applying it; secrets
appear only with --include-secrets; import refuses a data dir a server holds."""

from __future__ import annotations

import json
import subprocess

from botocore.exceptions import ClientError

from e2e_support import ACCOUNT_ID, REGION, ROOT, unique
from ses_fixtures import (  # noqa: F401  (fixtures)
    SEND_ACTIONS,
    SIMULATOR,
    SesServer,
    delegate,
    doc,
    identity_arn,
    new_member,
    organization,
    ses,
    unique_domain,
)


def run(binary, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    p = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=120)
    if check:
        assert p.returncode == 0, f"sesame {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
    return p


def send(ses, creds, sender: str, to: str, **extra) -> str:
    """'sent' or the error code of an SES v1 SendEmail."""
    try:
        ses.client("ses", creds).send_email(
            Source=sender,
            Destination={"ToAddresses": [to]},
            Message={"Subject": {"Data": "export test"}, "Body": {"Text": {"Data": "hello"}}},
            **extra,
        )
        return "sent"
    except ClientError as e:
        return e.response["Error"]["Code"]


class Setup:
    """Everything the scenario built on the first server, and how to judge a server."""

    def __init__(self, ses, organization, delegate, new_member):
        iam = ses.client("iam")
        self.domain = unique_domain("export")
        self.identity = ses.verify(self.domain)
        self.sender = f"news@{self.domain}"
        sesv2 = ses.client("sesv2")
        # Sending authorization: the delegate account may send from the domain.
        sesv2.create_email_identity_policy(
            EmailIdentity=self.domain,
            PolicyName="delegate",
            Policy=doc({"Effect": "Allow", "Principal": {"AWS": delegate.account_id}, "Action": SEND_ACTIONS,
                        "Resource": self.identity}),
        )
        sesv2.put_email_identity_dkim_attributes(EmailIdentity=self.domain, SigningEnabled=True)
        run(ses.server.binary, "admin", "dkim-record", self.domain, "--account", ACCOUNT_ID, "--region", REGION,
            "--data-dir", str(ses.server.data_dir))
        self.config_set = unique("cs")
        sesv2.create_configuration_set(ConfigurationSetName=self.config_set)
        sesv2.create_configuration_set_event_destination(
            ConfigurationSetName=self.config_set, EventDestinationName="to-sns",
            EventDestination={"Enabled": True, "MatchingEventTypes": ["BOUNCE", "COMPLAINT"],
                              "SnsDestination": {"TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:mail"}},
        )
        sesv2.create_email_template(TemplateName=unique("tpl"), TemplateContent={"Subject": "Hi {{name}}",
                                                                               "Text": "Hello {{name}}"})
        self.suppressed = f"gone@{self.domain}"
        sesv2.put_suppressed_destination(EmailAddress=self.suppressed, Reason="BOUNCE")

        # A user whose inline policy allows all of SES, held to SendRawEmail by a boundary.
        boundary = iam.create_policy(PolicyName=unique("raw-only"), PolicyDocument=doc(
            {"Effect": "Allow", "Action": "ses:SendRawEmail", "Resource": "*"}))["Policy"]["Arn"]
        self.bounded, self.bounded_arn = ses.make_user(unique("bounded"), ("all", doc(
            {"Effect": "Allow", "Action": "ses:*", "Resource": "*"})))
        iam.put_user_permissions_boundary(UserName=self.bounded_arn.rsplit("/", 1)[1], PermissionsBoundary=boundary)
        # A group whose managed policy's second (default) version allows SendEmail.
        managed = iam.create_policy(PolicyName=unique("mailers"), PolicyDocument=doc(
            {"Effect": "Allow", "Action": "ses:GetSendQuota", "Resource": "*"}))["Policy"]["Arn"]
        iam.create_policy_version(PolicyArn=managed, SetAsDefault=True, PolicyDocument=doc(
            {"Effect": "Allow", "Action": ["ses:SendEmail", "ses:GetSendQuota"], "Resource": self.identity}))
        group = unique("mailers")
        iam.create_group(GroupName=group)
        iam.attach_group_policy(GroupName=group, PolicyArn=managed)
        self.member_of_group, self.member_of_group_arn = ses.make_user(unique("grouped"))
        iam.add_user_to_group(GroupName=group, UserName=self.member_of_group_arn.rsplit("/", 1)[1])
        iam.create_role(RoleName=unique("sender-role"), AssumeRolePolicyDocument=doc(
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "Action": "sts:AssumeRole"}))

        # A member account whose users an SCP denies SES.
        self.delegate = delegate
        self.blocked = new_member("blocked")
        ses.production(self.blocked.account_id, REGION)
        org = ses.client("organizations")
        try:
            org.enable_policy_type(RootId=organization.root_id(), PolicyType="SERVICE_CONTROL_POLICY")
        except ClientError as e:
            assert e.response["Error"]["Code"] == "PolicyTypeAlreadyEnabledException", e.response["Error"]
        scp = org.create_policy(Name=unique("deny-ses"), Description="no SES", Type="SERVICE_CONTROL_POLICY",
                                Content=doc({"Effect": "Deny", "Action": "ses:*", "Resource": "*"}))
        org.attach_policy(PolicyId=scp["Policy"]["PolicySummary"]["Id"], TargetId=self.blocked.account_id)

    def decisions(self, ses) -> dict:
        """What a server decides for the scenario's principals."""
        simulated = {}
        for arn in (self.bounded_arn, self.member_of_group_arn):
            results = ses.client("iam").simulate_principal_policy(
                PolicySourceArn=arn, ActionNames=["ses:SendEmail", "ses:SendRawEmail", "ses:GetSendQuota"],
                ResourceArns=[self.identity])["EvaluationResults"]
            simulated[arn] = sorted((r["EvalActionName"], r["EvalDecision"]) for r in results)
        sends = {
            "bounded": send(ses, self.bounded, self.sender, SIMULATOR),
            "grouped": send(ses, self.member_of_group, self.sender, SIMULATOR),
            "delegate": send(ses, self.delegate.user, self.sender, SIMULATOR, SourceArn=self.identity),
            "blocked": send(ses, self.blocked.user, self.sender, SIMULATOR, SourceArn=self.identity),
            "root-suppressed": send(ses, ROOT, self.sender, self.suppressed),
        }
        doctors = {}
        for name, principal in (("delegate", self.delegate.user_arn), ("blocked", self.blocked.user_arn)):
            p = run(ses.server.binary, "doctor", "--data-dir", str(ses.server.data_dir), "--principal", principal,
                    "--from", self.sender, "--to", SIMULATOR, "--source-arn", self.identity, "--format", "json",
                    check=False)
            assert p.returncode in (0, 1), p.stderr
            doctors[name] = [(c["check"], c["passed"], c["detail"]) for c in json.loads(p.stdout)["checks"]]
        return {"simulated": simulated, "sends": sends, "doctor": doctors}


def export(ses, *flags: str) -> dict:
    out = run(ses.server.binary, "export", "--data-dir", str(ses.server.data_dir), *flags).stdout
    return json.loads(out)


def secrets_of(document) -> list[str]:
    found = []
    if isinstance(document, dict):
        if set(document) == {"plaintext_secret"}:
            return [document["plaintext_secret"]]
        for v in document.values():
            found += secrets_of(v)
    elif isinstance(document, list):
        for v in document:
            found += secrets_of(v)
    return found


def test_round_trip_reproduces_decisions_and_is_idempotent(ses, organization, delegate, new_member,
                                                           start_server, tmp_path):
    setup = Setup(ses, organization, delegate, new_member)
    before = setup.decisions(ses)
    # The scenario really exercises every layer (else the comparison proves little).
    assert before["sends"] == {"bounded": "AccessDenied", "grouped": "sent", "delegate": "sent",
                               "blocked": "AccessDenied", "root-suppressed": "sent"}
    assert ("ses:SendRawEmail", "allowed") in before["simulated"][setup.bounded_arn]
    assert ("ses:SendEmail", "implicitDeny") in before["simulated"][setup.bounded_arn]

    plain = export(ses)
    full = export(ses, "--include-secrets")
    secrets = secrets_of(full)
    # The root key, the users' keys and the DKIM private key are the secrets.
    assert ROOT.secret in secrets and setup.bounded.secret in secrets and setup.delegate.user.secret in secrets
    dkim = [k for k in full["ses_dkim_signing_keys"].values() if k["domain"] == setup.domain]
    assert len(dkim) == 1 and secrets_of(dkim[0])
    text = json.dumps(plain)
    assert not secrets_of(plain) and all(s not in text for s in secrets) and "ciphertext" not in text
    # Readable: policies are embedded objects, sections are named, keys sorted.
    identity = full["ses_identities"][f"{ACCOUNT_ID}/{REGION}/{setup.domain}"]
    assert identity["policies"]["delegate"]["Statement"][0]["Principal"] == {"AWS": setup.delegate.account_id}
    assert identity["verified"] is True and identity["dkim_enabled"] is True
    scps = [p for p in full["control_policies"].values() if setup.blocked.account_id in p["targets"]]
    assert any(p["content"]["Statement"][0]["Effect"] == "Deny" for p in scps)
    raw = run(ses.server.binary, "export", "--data-dir", str(ses.server.data_dir)).stdout
    assert raw == json.dumps(plain, indent=2, sort_keys=True) + "\n"

    exported = tmp_path / "config.json"
    run(ses.server.binary, "export", "--data-dir", str(ses.server.data_dir), "--include-secrets", "-o", str(exported))
    assert exported.stat().st_mode & 0o077 == 0, "an export with secrets must be private to its owner"
    fresh = tmp_path / "fresh"
    first = run(ses.server.binary, "import", str(exported), "--data-dir", str(fresh)).stdout
    assert "+ iam_users" in first and "+ ses_identities" in first and "! " not in first
    assert first.strip().splitlines()[-1].endswith("0 removed (0 skipped)")

    other = start_server(data_dir=fresh)
    after = setup.decisions(SesServer(other))
    assert after == before

    # While a server holds the data dir, import refuses (dry-run still reads).
    busy = run(ses.server.binary, "import", str(exported), "--data-dir", str(fresh), check=False)
    assert busy.returncode != 0 and "in use by a running `sesame serve`" in busy.stderr
    assert run(ses.server.binary, "import", str(exported), "--data-dir", str(fresh), "--dry-run").stdout \
        .strip().endswith("no changes (0 skipped)")
    assert other.stop() == 0

    again = run(ses.server.binary, "import", str(exported), "--data-dir", str(fresh)).stdout
    assert again.strip() == "no changes (0 skipped)"

    # An edited document: the dry run lists exactly the edits and applies none.
    edited = json.loads(exported.read_text())
    user_key = next(k for k, u in edited["iam_users"].items() if u["name"] == setup.bounded_arn.rsplit("/", 1)[1])
    edited["iam_users"][user_key]["permissions"]["inline"]["all"]["Statement"][0]["Action"] = "ses:Get*"
    template_key = next(iter(edited["ses_templates"]))
    del edited["ses_templates"][template_key]
    edited["ses_suppression_list"][f"{ACCOUNT_ID}/{REGION}/added@example.com"] = {
        "email_address": "added@example.com", "reason": "Complaint", "last_update_ms": 0,
        "message_id": None, "feedback_id": None}
    edited_path = tmp_path / "edited.json"
    edited_path.write_text(json.dumps(edited))
    diff = run(ses.server.binary, "import", str(edited_path), "--data-dir", str(fresh), "--dry-run").stdout
    lines = diff.strip().splitlines()
    assert f"~ iam_users {user_key}: permissions.inline.all.Statement" in lines
    assert f"- ses_templates {template_key}" in lines
    assert f"+ ses_suppression_list {ACCOUNT_ID}/{REGION}/added@example.com" in lines
    assert lines[-1] == "would change 3 objects: 1 added, 1 changed, 1 removed (0 skipped)"
    assert run(ses.server.binary, "import", str(exported), "--data-dir", str(fresh), "--dry-run").stdout \
        .strip() == "no changes (0 skipped)", "the dry run changed the store"


def test_import_without_secrets_skips_keys_and_rejects_bad_documents(ses, start_server, tmp_path):
    document = export(ses)
    path = tmp_path / "plain.json"
    path.write_text(json.dumps(document))
    fresh = tmp_path / "fresh"
    out = run(ses.server.binary, "import", str(path), "--data-dir", str(fresh)).stdout
    assert f"! iam_access_keys {ROOT.access_key_id}: skipped, its secret is not in the document" in out

    # A data dir that a server bootstrapped keeps its root key: the document's
    # redacted copy of that key stands for the target's own secret.
    booted = start_server()
    assert SesServer(booted).client("iam").list_users()["Users"] == []
    assert booted.stop() == 0
    out = run(ses.server.binary, "import", str(path), "--data-dir", str(booted.data_dir)).stdout
    assert f"~ iam_access_keys {ROOT.access_key_id}: created_ms\n" in out and "+ iam_users" in out
    again = start_server(data_dir=booted.data_dir)
    names = {u["UserName"] for u in SesServer(again).client("iam").list_users()["Users"]}
    assert names == {u["name"] for u in document["iam_users"].values() if u["account"] == ACCOUNT_ID}
    assert again.stop() == 0
    renamed = json.loads(json.dumps(document))
    user_key, user = next(iter(renamed["iam_users"].items()))
    user["name"] = "renamed-by-hand"
    path.write_text(json.dumps(renamed))
    bad = run(ses.server.binary, "import", str(path), "--data-dir", str(fresh), check=False)
    assert bad.returncode != 0 and f'iam_users.{user_key}: its key must be "{user["account"]}/renamed-by-hand"' in bad.stderr
    document["iam_users"]["x"] = {"name": 1}
    path.write_text(json.dumps(document))
    bad = run(ses.server.binary, "import", str(path), "--data-dir", str(fresh), check=False)
    assert bad.returncode != 0 and "iam_users.x" in bad.stderr
    document["iam_userz"] = document.pop("iam_users")
    path.write_text(json.dumps(document))
    bad = run(ses.server.binary, "import", str(path), "--data-dir", str(fresh), check=False)
    assert bad.returncode != 0 and 'unknown section "iam_userz"' in bad.stderr
