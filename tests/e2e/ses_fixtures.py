"""SES support for the end-to-end suite: operator commands (`sesame admin`), the
capture store, IAM users made for one test, the send calls the seeds walk through
(AWS CLI and boto3), and a second AWS account reached the AWS way (Organizations
CreateAccount, then sts:AssumeRole into OrganizationAccountAccessRole).

Test modules import the fixtures they use from here (`from ses_fixtures import ...`);
conftest.py stays untouched."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import socket
import subprocess
import time
from dataclasses import dataclass

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

import e2e_support
from e2e_support import (
    ACCOUNT_ID,
    REGION,
    ROOT,
    Creds,
    CliResult,
    ServerProcess,
    cli_error,
    client_error,
    unique,
)

# A recipient every sandbox accepts (the mailbox simulator).
SIMULATOR = "success@simulator.amazonses.com"

SEND_ACTIONS = ["ses:SendEmail", "ses:SendRawEmail"]


def ses_denial(principal_arn: str, action: str, resource: str) -> str:
    """SES's own AccessDenied wording (seed 001), backquote-and-apostrophe quoting."""
    return f"User `{principal_arn}' is not authorized to perform `{action}' on resource `{resource}'"


def not_verified(region: str, *addresses: str) -> str:
    """SES's sandbox / unverified-identity rejection (seed 002)."""
    return (
        "Email address is not verified. The following identities failed the check in region "
        f"{region.upper()}: {', '.join(addresses)}"
    )


def identity_arn(name: str, account: str = ACCOUNT_ID, region: str = REGION) -> str:
    return f"arn:aws:ses:{region}:{account}:identity/{name}"


def unique_domain(prefix: str) -> str:
    return f"{unique(prefix).lower()}.example.com"


def doc(*statements: dict, version: str = "2012-10-17") -> str:
    return json.dumps({"Version": version, "Statement": list(statements)})


def raw_mime(sender: str, to: str, subject: str = "Hello", extra_headers: dict | None = None) -> str:
    head = [f"From: {sender}", f"To: {to}", f"Subject: {subject}"]
    head += [f"{k}: {v}" for k, v in (extra_headers or {}).items()]
    head += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=UTF-8"]
    return "\r\n".join(head) + "\r\n\r\nThis is for those who cannot read HTML.\r\n"


# One botocore session (its loaded service models) for every client of the suite.
_SESSION = boto3.session.Session()
_CLIENTS: dict = {}


# ---------------------------------------------------------------------------
# The server, seen as SES
# ---------------------------------------------------------------------------


@dataclass
class SesServer:
    """A running server plus the SES-side operator and capture-store tools."""

    server: ServerProcess

    # -- operator commands (CONTRACT §2), run against the live data dir --------

    def admin(self, *args: str) -> str:
        cmd = [str(self.server.binary), "admin", *args, "--data-dir", str(self.server.data_dir)]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
        return p.stdout

    def verify(self, identity: str, account: str = ACCOUNT_ID, region: str = REGION) -> str:
        self.admin("verify-identity", identity, "--account", account, "--region", region)
        return identity_arn(identity, account, region)

    def production(self, account: str = ACCOUNT_ID, region: str = REGION) -> None:
        self.admin("production-access", "--account", account, "--region", region)

    # -- capture store ------------------------------------------------------------

    def messages(self) -> list[dict]:
        status, _, body = self.server.raw("GET", "/_sesame/messages")
        assert status == 200, body[:300]
        return json.loads(body)["messages"]

    def captured(self, message_id: str) -> dict:
        found = [m for m in self.messages() if m["messageId"] == message_id]
        assert len(found) == 1, f"message {message_id} is not (exactly once) in the capture store"
        return found[0]

    def assert_not_captured(self, marker: str) -> None:
        """No captured message carries `marker` (a unique subject) in its text."""
        hits = [m["messageId"] for m in self.messages() if marker in m["raw"]]
        assert not hits, f"a rejected send was captured anyway: {hits}"

    # -- clients ------------------------------------------------------------------

    def client(self, service: str, creds: Creds = ROOT, region: str = REGION, **config):
        """boto3 client (cached: building one costs more than most calls); `config`
        goes to botocore's Config (e.g. parameter_validation=False)."""
        key = (service, creds, region, tuple(sorted(config.items())))
        cached = _CLIENTS.get((self.server.endpoint, key))
        if cached is None:
            cached = _SESSION.client(
                service,
                endpoint_url=self.server.endpoint,
                region_name=region,
                aws_access_key_id=creds.access_key_id,
                aws_secret_access_key=creds.secret,
                aws_session_token=creds.token,
                config=botocore.config.Config(
                    retries={"total_max_attempts": 1}, connect_timeout=10, read_timeout=60, **config
                ),
            )
            _CLIENTS[(self.server.endpoint, key)] = cached
        return cached

    def aws(self, *args: str, creds: Creds = ROOT, region: str = REGION, check: bool = True) -> CliResult:
        return self.server.aws(*args, creds=creds, region=region, check=check)

    def cli_fails(self, operation: str, *args: str, creds: Creds, region: str = REGION) -> tuple[str, str]:
        """Runs a CLI command that must fail; returns AWS's (code, message)."""
        return cli_error(self.aws(*args, creds=creds, region=region, check=False), operation)

    def signed_ses_query(self, params: dict, creds: Creds = ROOT, region: str = REGION):
        """A hand-made, correctly signed SES v1 Query request (for input no SDK sends)."""
        return self.server.signed(params, creds=creds, service="ses", region=region)

    # -- IAM set-up ---------------------------------------------------------------

    def make_user(self, name: str, *policies: tuple[str, str], creds: Creds = ROOT) -> tuple[Creds, str]:
        """Creates an IAM user (in the account of `creds`) with inline policies
        (name, document) and an access key; returns (its credentials, its ARN)."""
        iam = self.client("iam", creds)
        arn = iam.create_user(UserName=name)["User"]["Arn"]
        for policy_name, document in policies:
            iam.put_user_policy(UserName=name, PolicyName=policy_name, PolicyDocument=document)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return Creds.from_access_key(key), arn

    def sent_last_24h(self, creds: Creds, region: str = REGION) -> float:
        return self.client("ses", creds, region).get_send_quota()["SentLast24Hours"]


def expect_client_error(call, *args, **kwargs) -> tuple[str, str, int]:
    try:
        result = call(*args, **kwargs)
    except ClientError as e:
        return client_error(e)
    raise AssertionError(f"expected an error, the call succeeded: {result}")


def query_error_of(response) -> tuple[int, dict]:
    status, _, body = response
    return status, e2e_support.query_error(body)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# ---------------------------------------------------------------------------
# The seeds' scenarios, shared by test_ses_seeds.py and test_doctor.py
# ---------------------------------------------------------------------------

TEXT = "This is for those who cannot read HTML."


def simple(sender: str, to: list[str], subject: str, **extra) -> dict:
    """boto3 SES v1 SendEmail arguments."""
    return dict(
        Source=sender,
        Destination={"ToAddresses": to},
        Message={"Subject": {"Data": subject}, "Body": {"Text": {"Data": TEXT}}},
        **extra,
    )


def grant(resource: str, principal: str, version: str = "2012-10-17", sid: str = "stmt1532578375047") -> str:
    return doc(
        {"Sid": sid, "Effect": "Allow", "Principal": {"AWS": principal}, "Action": SEND_ACTIONS, "Resource": resource},
        version=version,
    )


def attach(ses, identity: str, name: str, policy: str, region: str = REGION) -> None:
    """The owner (management account root) attaches a sending authorization policy
    (SES v2 CreateEmailIdentityPolicy; the v1 calls have a test of their own)."""
    ses.client("sesv2", region=region).create_email_identity_policy(
        EmailIdentity=identity, PolicyName=name, Policy=policy
    )


# (condition, how to send: From, recipients, extra CLI args, extra boto3 args)
DENY_CASES = [
    pytest.param(
        {"ForAnyValue:StringLike": {"ses:Recipients": ["*@blocked.example"]}},
        "news@{d}", ["someone@blocked.example"], (), {},
        id="ses:Recipients",
    ),
    pytest.param(
        {"StringEquals": {"ses:FromAddress": "noreply@{d}"}},
        "noreply@{d}", [SIMULATOR], (), {},
        id="ses:FromAddress",
    ),
    pytest.param(
        {"StringEquals": {"ses:FromDisplayName": "Marketing Team"}},
        "Marketing Team <news@{d}>", [SIMULATOR], (), {},
        id="ses:FromDisplayName",
    ),
    pytest.param(
        {"StringEquals": {"ses:FeedbackAddress": "bounces@{d}"}},
        "news@{d}", [SIMULATOR], ("--return-path", "bounces@{d}"), {"ReturnPath": "bounces@{d}"},
        id="ses:FeedbackAddress",
    ),
    pytest.param(
        {"DateGreaterThan": {"aws:CurrentTime": "2001-01-01T00:00:00Z"}},
        "news@{d}", [SIMULATOR], (), {},
        id="aws:CurrentTime",
    ),
    pytest.param(
        {"NumericGreaterThan": {"aws:EpochTime": "978307200"}},
        "news@{d}", [SIMULATOR], (), {},
        id="aws:EpochTime",
    ),
    pytest.param(
        # The endpoint is plain HTTP, so aws:SecureTransport is false.
        {"Bool": {"aws:SecureTransport": "false"}},
        "news@{d}", [SIMULATOR], (), {},
        id="aws:SecureTransport",
    ),
    pytest.param(
        {"IpAddress": {"aws:SourceIp": "127.0.0.1/32"}},
        "news@{d}", [SIMULATOR], (), {},
        id="aws:SourceIp",
    ),
    pytest.param(
        # Both the CLI ("... botocore/x") and boto3 ("... Botocore/x") say who they are.
        {"StringLike": {"aws:UserAgent": "*otocore*"}},
        "news@{d}", [SIMULATOR], (), {},
        id="aws:UserAgent",
    ),
]




def fill_domain(value, domain: str):
    """A DENY_CASES value with `{d}` replaced by the test's domain."""
    if isinstance(value, str):
        return value.replace("{d}", domain)
    if isinstance(value, list):
        return [fill_domain(v, domain) for v in value]
    if isinstance(value, tuple):
        return tuple(fill_domain(v, domain) for v in value)
    return {k: fill_domain(v, domain) for k, v in value.items()}


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ses(own_server) -> SesServer:
    """A server of the module's own. The management account has production access in
    us-east-1 (tests there send several messages a second); every other region, and
    every account created later, starts in the sandbox as on AWS."""
    s = SesServer(own_server)
    s.production(ACCOUNT_ID, REGION)
    # The suite sends faster than production's 14 messages/s; raise the quota as an
    # operator would (throttling itself is tested in accounts that keep theirs).
    s.admin("set-quota", "--account", ACCOUNT_ID, "--region", REGION,
            "--max-24-hour-send", "1000000", "--max-send-rate", "10000")
    return s


@dataclass
class MemberAccount:
    account_id: str
    admin: Creds  # an OrganizationAccountAccessRole session in the account
    user: Creds  # an IAM user allowed to send (and to assume `role`)
    user_arn: str
    role_arn: str
    role: Creds  # a session of `role`
    role_session_arn: str


class Organization:
    """The management account's organization; member accounts on demand."""

    def __init__(self, ses: SesServer):
        self.ses = ses
        self.org = ses.client("organizations")
        operator = unique("org-operator")
        self.operator, _ = ses.make_user(
            operator, ("admin", doc({"Effect": "Allow", "Action": "*", "Resource": "*"}))
        )

    def root_id(self) -> str:
        return self.org.list_roots()["Roots"][0]["Id"]

    def create_account(self, label: str) -> str:
        name = unique(label)
        status = self.org.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
        deadline = time.monotonic() + 30
        while status["State"] == "IN_PROGRESS":
            assert time.monotonic() < deadline, f"CreateAccount still IN_PROGRESS: {status}"
            time.sleep(0.2)
            status = self.org.describe_create_account_status(CreateAccountRequestId=status["Id"])[
                "CreateAccountStatus"
            ]
        assert status["State"] == "SUCCEEDED", status
        return status["AccountId"]

    def member(self, label: str) -> MemberAccount:
        """A new member account with a sending IAM user and a sending role in it."""
        account = self.create_account(label)
        sts = self.ses.client("sts", self.operator)
        admin = Creds.from_sts(
            sts.assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
                RoleSessionName="e2e-ses",
            )["Credentials"]
        )
        send_all = doc(
            {"Effect": "Allow", "Action": SEND_ACTIONS + ["ses:GetSendQuota", "ses:GetAccount"], "Resource": "*"}
        )
        user_name = unique("delegate-user")
        role_name = unique("delegate-role")
        role_arn = f"arn:aws:iam::{account}:role/{role_name}"
        user, user_arn = self.ses.make_user(
            user_name,
            ("send", send_all),
            ("assume", doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn})),
            creds=admin,
        )
        iam = self.ses.client("iam", admin)
        iam.create_role(
            RoleName=role_name,
            AssumeRolePolicyDocument=doc(
                {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}
            ),
        )
        iam.put_role_policy(RoleName=role_name, PolicyName="send", PolicyDocument=send_all)
        session = self.ses.client("sts", user).assume_role(RoleArn=role_arn, RoleSessionName="mailer")
        return MemberAccount(
            account_id=account,
            admin=admin,
            user=user,
            user_arn=user_arn,
            role_arn=role_arn,
            role=Creds.from_sts(session["Credentials"]),
            role_session_arn=session["AssumedRoleUser"]["Arn"],
        )


def _skip_unless(ok: bool, reason: str) -> None:
    if not ok:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def organization(ses) -> Organization:
    """The organization, created with the real CLI; skipped (with the reason) while
    the server has no Organizations API."""
    result = ses.aws("organizations", "create-organization", "--feature-set", "ALL", check=False)
    if result.returncode != 0:
        code, message = cli_error(result, "CreateOrganization")
        _skip_unless(
            code not in ("UnknownOperationException", "InvalidAction"),
            f"Organizations is not available on this server yet ({code}: {message}); "
            "cross-account and SCP scenarios need CreateAccount and OrganizationAccountAccessRole",
        )
        assert code == "AlreadyInOrganizationException", (code, message)
    org = Organization(ses)
    try:
        org.root_id()
    except ClientError as e:
        code, message, _ = client_error(e)
        pytest.skip(f"Organizations ListRoots is not available on this server yet ({code}: {message})")
    return org


@pytest.fixture(scope="module")
def delegate(organization, ses) -> MemberAccount:
    """A delegate sender account with production access in us-east-1 (tests send
    several messages from it); `new_member` gives accounts still in the sandbox."""
    try:
        member = organization.member("delegate")
    except ClientError as e:
        code, message, _ = client_error(e)
        if code in ("UnknownOperationException", "InvalidAction"):
            pytest.skip(f"Organizations CreateAccount is not available on this server yet ({code}: {message})")
        raise
    ses.production(member.account_id, REGION)
    return member


@pytest.fixture
def new_member(organization):
    """Factory: a fresh member account (sandbox everywhere)."""

    def make(label: str = "member") -> MemberAccount:
        try:
            return organization.member(label)
        except ClientError as e:
            code, message, _ = client_error(e)
            if code in ("UnknownOperationException", "InvalidAction"):
                pytest.skip(f"Organizations CreateAccount is not available on this server yet ({code}: {message})")
            raise

    return make


def smtp_password(secret: str, region: str) -> str:
    """The SES SMTP password of a secret access key, by AWS's published algorithm
    (HMAC chain over "11111111", the region, "ses", "aws4_request", "SendRawEmail";
    version byte 0x04; base64)."""

    def sign(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    sig = sign(("AWS4" + secret).encode(), "11111111")
    for part in (region, "ses", "aws4_request", "SendRawEmail"):
        sig = sign(sig, part)
    return base64.b64encode(bytes([0x04]) + sig).decode()


@dataclass
class SmtpEndpoint:
    ses: SesServer
    host: str
    port: int
    region: str

    def connect(self, creds: Creds) -> smtplib.SMTP:
        client = smtplib.SMTP(self.host, self.port, timeout=30)
        client.ehlo("e2e.example.com")
        client.login(creds.access_key_id, smtp_password(creds.secret, self.region))
        return client

    def send(self, creds: Creds, sender: str, recipients: list[str], message: str) -> None:
        client = self.connect(creds)
        try:
            client.sendmail(sender, recipients, message.encode())
        finally:
            try:
                client.quit()
            except smtplib.SMTPException:
                client.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def smtp(start_server) -> SmtpEndpoint:
    """A server of the module's own with the SMTP interface on loopback (AUTH without
    TLS allowed, as for local development), accepting SMTP credentials of eu-west-1
    (the region of seed 001's error text). The management account has production
    access there."""
    region = "eu-west-1"
    port = _free_port()
    server = start_server(
        extra_args=["--smtp", f"127.0.0.1:{port}", "--smtp-insecure-auth", "--smtp-region", region]
    )
    deadline = time.monotonic() + 20
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert time.monotonic() < deadline, f"SMTP listener not up on {port}\n{server.log_tail()}"
        time.sleep(0.1)
    ses = SesServer(server)
    ses.production(ACCOUNT_ID, region)
    yield SmtpEndpoint(ses, "127.0.0.1", port, region)
    code = server.stop()
    assert code == 0, f"sesame serve exited {code} on SIGTERM\n{server.log_tail()}"


__all__ = [
    "TEXT",
    "DENY_CASES",
    "simple",
    "grant",
    "attach",
    "fill_domain",
    "SIMULATOR",
    "SEND_ACTIONS",
    "SesServer",
    "MemberAccount",
    "Organization",
    "ses",
    "organization",
    "delegate",
    "new_member",
    "smtp",
    "smtp_password",
    "SmtpEndpoint",
    "ses_denial",
    "not_verified",
    "identity_arn",
    "unique_domain",
    "doc",
    "raw_mime",
    "expect_client_error",
    "query_error_of",
    "b64",
]
