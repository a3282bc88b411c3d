"""Event routing end to end: a real `sesame serve --delivery relay` (to an aiosmtpd
receiver that can answer 550) with `--sns-endpoint TOPIC_ARN=URL` subscriptions to a
small HTTP receiver in this process. Configuration sets, event destinations and
identity notification topics are set up with boto3 (v1 and v2) as a customer would.

Covers: Send and Delivery at the configuration set's SNS endpoint with SES's tags and a
verifiable signature; disabled destinations and non-matching event types get nothing;
a hard bounce reaches the identity owner's bounce topic and, for a cross-account
delegate send, the delegate's configuration set destination; a template that does
not render at send time gives a Rendering Failure event; email feedback
forwarding lands in the capture store until topics are set and forwarding is turned
off, and (seed 003) even with forwarding off while nobody has another way to hear of
bounces; delivery notifications reach the identity's delivery topic; an endpoint that
fails at first gets the event after a retry."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from e2e_support import ACCOUNT_ID, REGION, unique, wait_until
from ses_fixtures import SesServer, doc, unique_domain
from ses_fixtures import delegate, organization  # noqa: F401  (fixtures)
from test_delivery import Receiver

SECRET = "sns-endpoint-s3cret"
TOPICS = ["events", "disabled", "bounces-only", "owner-bounces", "owner-complaints", "delegate-events", "flaky", "rendering", "owner-deliveries", "seed-bounces"]


def topic_arn(name: str) -> str:
    return f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{name}"


class Endpoints:
    """An HTTP server standing in for SNS subscribers: one path per topic; `fail_first`
    makes a path answer 503 that many times before accepting."""

    def __init__(self):
        self.posts: list[dict] = []
        self.attempts: dict[str, int] = {}
        self.fail_first: dict[str, int] = {}
        self.lock = threading.Lock()
        endpoints = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                path = self.path.strip("/")
                with endpoints.lock:
                    endpoints.attempts[path] = endpoints.attempts.get(path, 0) + 1
                    failing = endpoints.fail_first.get(path, 0) > 0
                    if failing:
                        endpoints.fail_first[path] -= 1
                    else:
                        endpoints.posts.append({"path": path, "headers": dict(self.headers), "body": body})
                self.send_response(503 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}/{name}"

    def messages(self, path: str, message_id: str) -> list[dict]:
        """The SNS `Message`s (parsed) posted to `path` about `message_id`."""
        with self.lock:
            posts = [p for p in self.posts if p["path"] == path]
        out = []
        for p in posts:
            message = json.loads(json.loads(p["body"])["Message"])
            if message["mail"]["messageId"] == message_id:
                out.append(message)
        return out

    def kinds(self, path: str, message_id: str) -> set[str]:
        return {m.get("eventType") or m.get("notificationType") for m in self.messages(path, message_id)}

    def all_posts(self) -> list[dict]:
        with self.lock:
            return list(self.posts)


@pytest.fixture(scope="module")
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def endpoints():
    e = Endpoints()
    yield e
    e.http.shutdown()


@pytest.fixture(scope="module")
def ses(start_server, receiver, endpoints, tmp_path_factory) -> SesServer:
    """This module's server: relays to `receiver`, every topic of TOPICS subscribed to
    its path at `endpoints`. Overrides ses_fixtures' `ses` (so `delegate` uses it)."""
    args = [
        "--delivery", "relay",
        "--relay", f"smtp://127.0.0.1:{receiver.port}",
        "--delivery-retry-delay", "1",
        "--delivery-max-retry-delay", "2",
    ]
    for name in TOPICS:
        args += ["--sns-endpoint", f"{topic_arn(name)}={endpoints.url(name)}"]
    data = tmp_path_factory.mktemp("events-data")
    server = start_server(data, extra_env={"SESAME_WEBHOOK_SECRET": SECRET}, extra_args=args)
    s = SesServer(server)
    s.production(ACCOUNT_ID, REGION)
    s.admin("set-quota", "--account", ACCOUNT_ID, "--region", REGION,
            "--max-24-hour-send", "100000", "--max-send-rate", "1000")
    yield s
    assert server.stop() == 0, server.log_tail()


def sns_destination(name: str, topic: str, types: list[str], enabled: bool = True) -> dict:
    return {
        "EventDestinationName": name,
        "EventDestination": {
            "Enabled": enabled,
            "MatchingEventTypes": types,
            "SnsDestination": {"TopicArn": topic_arn(topic)},
        },
    }


def make_set(ses: SesServer, *destinations: dict, creds=None) -> str:
    v2 = ses.client("sesv2") if creds is None else ses.client("sesv2", creds)
    name = unique("set")
    v2.create_configuration_set(ConfigurationSetName=name)
    for d in destinations:
        v2.create_configuration_set_event_destination(ConfigurationSetName=name, **d)
    return name


def settle() -> None:
    """Time for events that should not come to arrive anyway (routing is asynchronous)."""
    time.sleep(1.5)


def test_config_set_events_reach_the_subscribed_endpoint(ses, endpoints):
    domain = unique_domain("events")
    ses.verify(domain)
    config_set = make_set(
        ses,
        sns_destination("all", "events", ["SEND", "DELIVERY"]),
        sns_destination("off", "disabled", ["SEND", "DELIVERY"], enabled=False),
        sns_destination("bounces", "bounces-only", ["BOUNCE"]),
    )
    message_id = ses.client("sesv2").send_email(
        FromEmailAddress=f"News <news@{domain}>",
        Destination={"ToAddresses": ["reader@dest.example"]},
        Content={"Simple": {"Subject": {"Data": "tagged"}, "Body": {"Text": {"Data": "hi"}}}},
        ConfigurationSetName=config_set,
        EmailTags=[{"Name": "campaign", "Value": "spring-2026"}],
    )["MessageId"]

    wait_until(lambda: endpoints.kinds("events", message_id) == {"Send", "Delivery"}, 30, what="Send and Delivery")
    for event in endpoints.messages("events", message_id):
        tags = event["mail"]["tags"]
        assert tags["ses:configuration-set"] == [config_set]
        assert tags["ses:from-domain"] == [domain]
        assert tags["ses:caller-identity"] == ["root"]
        assert tags["ses:source-ip"] == ["127.0.0.1"]
        assert tags["campaign"] == ["spring-2026"]
        assert event["mail"]["sendingAccountId"] == ACCOUNT_ID
    delivery = next(m for m in endpoints.messages("events", message_id) if m["eventType"] == "Delivery")
    assert delivery["delivery"]["recipients"] == ["reader@dest.example"]

    for post in [p for p in endpoints.all_posts() if p["path"] == "events"]:
        envelope = json.loads(post["body"])
        assert envelope["Type"] == "Notification"
        assert envelope["TopicArn"] == topic_arn("events")
        assert envelope["MessageId"] and envelope["Timestamp"].endswith("Z")
        assert post["headers"]["x-amz-sns-message-type"] == "Notification"
        expected = "sha256=" + hmac.new(SECRET.encode(), post["body"], hashlib.sha256).hexdigest()
        assert post["headers"]["X-Sesame-Signature"] == expected

    settle()
    assert endpoints.messages("disabled", message_id) == [], "a disabled destination got events"
    assert endpoints.messages("bounces-only", message_id) == [], "a BOUNCE-only destination got Send/Delivery"
    assert SECRET not in ses.server.log_path.read_text(errors="replace")


def test_raw_mail_names_its_set_and_tags_in_x_ses_headers(ses, endpoints, receiver):
    """SendRawEmail (the SMTP interface's path too): X-SES-CONFIGURATION-SET and
    X-SES-MESSAGE-TAGS choose the set and the tags, and do not leave Sesame."""
    domain = unique_domain("rawtags")
    ses.verify(domain)
    config_set = make_set(ses, sns_destination("all", "events", ["SEND"]))
    marker = unique("raw")
    raw = (
        f"From: a@{domain}\r\nTo: reader@dest.example\r\nSubject: {marker}\r\n"
        f"X-SES-CONFIGURATION-SET: {config_set}\r\n"
        "X-SES-MESSAGE-TAGS: campaign=autumn, team=growth\r\n\r\nbody\r\n"
    )
    message_id = ses.client("ses").send_raw_email(RawMessage={"Data": raw.encode()})["MessageId"]
    wait_until(lambda: endpoints.messages("events", message_id), 30, what="Send event")
    [event] = endpoints.messages("events", message_id)
    tags = event["mail"]["tags"]
    assert tags["campaign"] == ["autumn"] and tags["team"] == ["growth"]
    assert tags["ses:configuration-set"] == [config_set]
    wait_until(lambda: receiver.received(marker), 30, what="delivery")
    assert b"X-SES-" not in receiver.received(marker)[0]["data"]


def test_invalid_message_tags_are_refused(ses):
    domain = unique_domain("badtags")
    ses.verify(domain)
    with pytest.raises(Exception) as raised:
        ses.client("ses").send_email(
            Source=f"a@{domain}",
            Destination={"ToAddresses": ["reader@dest.example"]},
            Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}},
            Tags=[{"Name": "bad name", "Value": "x"}],
        )
    assert raised.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_hard_bounce_notifies_the_owner_and_the_delegate(ses, endpoints, receiver, delegate):  # noqa: F811
    domain = unique_domain("owner")
    identity = ses.verify(domain)
    v1 = ses.client("ses")
    v1.set_identity_notification_topic(Identity=domain, NotificationType="Bounce", SnsTopic=topic_arn("owner-bounces"))
    v1.set_identity_headers_in_notifications_enabled(Identity=domain, NotificationType="Bounce", Enabled=True)
    policy = doc({
        "Effect": "Allow",
        "Principal": {"AWS": delegate.account_id},
        "Action": ["ses:SendEmail", "ses:SendRawEmail"],
        "Resource": identity,
    })
    ses.client("sesv2").create_email_identity_policy(EmailIdentity=domain, PolicyName="delegate", Policy=policy)
    delegate_set = make_set(ses, sns_destination("mine", "delegate-events", ["BOUNCE"]), creds=delegate.admin)

    gone = f"{unique('gone')}@dest.example"
    receiver.script[gone] = ["550 5.1.1 No such user"]
    message_id = ses.client("ses", delegate.user).send_email(
        Source=f"billing@{domain}",
        SourceArn=identity,
        Destination={"ToAddresses": [gone]},
        Message={"Subject": {"Data": "invoice"}, "Body": {"Text": {"Data": "due"}}},
        ConfigurationSetName=delegate_set,
    )["MessageId"]

    wait_until(lambda: endpoints.messages("owner-bounces", message_id), 30, what="owner's bounce notification")
    wait_until(lambda: endpoints.messages("delegate-events", message_id), 30, what="delegate's bounce event")
    [owner] = endpoints.messages("owner-bounces", message_id)
    assert owner["notificationType"] == "Bounce"
    assert owner["bounce"]["bounceType"] == "Permanent"
    assert owner["bounce"]["bouncedRecipients"][0]["emailAddress"] == gone
    assert owner["mail"]["sendingAccountId"] == delegate.account_id
    assert owner["mail"]["sourceArn"] == identity
    assert owner["mail"]["callerIdentity"] == delegate.user_arn.rsplit("/", 1)[1]
    assert owner["mail"]["sourceIp"] == "127.0.0.1"
    assert owner["mail"]["commonHeaders"]["subject"] == "invoice", "headers were enabled"
    assert "tags" not in owner["mail"]
    [event] = endpoints.messages("delegate-events", message_id)
    assert event["eventType"] == "Bounce"
    assert event["mail"]["tags"]["ses:configuration-set"] == [delegate_set]
    assert event["mail"]["sendingAccountId"] == delegate.account_id


def captured_feedback(ses: SesServer, message_id: str) -> list[dict]:
    return [m for m in ses.messages() if message_id in m["raw"] and "multipart/report" in m["raw"]]


def test_feedback_is_emailed_until_topics_take_over(ses, endpoints, receiver):
    domain = unique_domain("fwd")
    ses.verify(domain)
    return_path = f"bounces@{domain}"

    def bounce_one() -> str:
        gone = f"{unique('gone')}@dest.example"
        receiver.script[gone] = ["550 5.1.1 No such user"]
        return ses.client("ses").send_email(
            Source=f"shop@{domain}",
            ReturnPath=return_path,
            Destination={"ToAddresses": [gone]},
            Message={"Subject": {"Data": "order"}, "Body": {"Text": {"Data": "thanks"}}},
        )["MessageId"]

    first = bounce_one()
    wait_until(lambda: captured_feedback(ses, first), 30, what="feedback email in the capture store")
    [dsn] = captured_feedback(ses, first)
    assert dsn["destination"] == [return_path]
    assert "report-type=delivery-status" in dsn["raw"]
    assert "Status: 5.1.1" in dsn["raw"]
    # The forwarded feedback is delivered like any mail, with the null sender.
    wait_until(lambda: [m for m in receiver.received(first) if return_path in m["to"]], 30, what="DSN delivered")
    assert [m["from"] for m in receiver.received(first) if return_path in m["to"]] == ["<>"]

    v1 = ses.client("ses")
    v1.set_identity_notification_topic(Identity=domain, NotificationType="Bounce", SnsTopic=topic_arn("owner-bounces"))
    v1.set_identity_notification_topic(
        Identity=domain, NotificationType="Complaint", SnsTopic=topic_arn("owner-complaints")
    )
    v1.set_identity_feedback_forwarding_enabled(Identity=domain, ForwardingEnabled=False)
    second = bounce_one()
    wait_until(lambda: endpoints.messages("owner-bounces", second), 30, what="bounce notification")
    [note] = endpoints.messages("owner-bounces", second)
    assert "headers" not in note["mail"], "headers were not enabled for this identity"
    settle()
    assert captured_feedback(ses, second) == [], "feedback emailed although forwarding is off"


def test_a_failing_endpoint_gets_the_event_after_a_retry(ses, endpoints):
    domain = unique_domain("flaky")
    ses.verify(domain)
    endpoints.fail_first["flaky"] = 2
    # This set and its destination through the v1 API with the AWS CLI.
    config_set = unique("set")
    ses.aws("ses", "create-configuration-set", "--configuration-set", json.dumps({"Name": config_set}))
    destination = {
        "Name": "flaky",
        "Enabled": True,
        "MatchingEventTypes": ["send"],
        "SNSDestination": {"TopicARN": topic_arn("flaky")},
    }
    ses.aws("ses", "create-configuration-set-event-destination", "--configuration-set-name", config_set,
            "--event-destination", json.dumps(destination))
    message_id = ses.client("ses").send_email(
        Source=f"a@{domain}",
        Destination={"ToAddresses": ["reader@dest.example"]},
        Message={"Subject": {"Data": "retry"}, "Body": {"Text": {"Data": "b"}}},
        ConfigurationSetName=config_set,
    )["MessageId"]
    wait_until(lambda: endpoints.messages("flaky", message_id), 30, what="the event after retries")
    assert endpoints.attempts["flaky"] == 3
    assert len(endpoints.messages("flaky", message_id)) == 1


def test_a_template_that_does_not_render_gives_a_rendering_failure(ses, endpoints):
    domain = unique_domain("render")
    ses.verify(domain)
    template = unique("tpl")
    v1 = ses.client("ses")
    v1.create_template(Template={
        "TemplateName": template,
        "SubjectPart": "Hello {{name}}",
        "TextPart": "Your code is {{code}}",
    })
    config_set = make_set(ses, sns_destination("render", "rendering", ["RENDERING_FAILURE", "SEND"]))
    message_id = v1.send_templated_email(
        Source=f"a@{domain}",
        Destination={"ToAddresses": ["reader@dest.example"]},
        Template=template,
        TemplateData=json.dumps({"name": "Ann"}),
        ConfigurationSetName=config_set,
    )["MessageId"]
    wait_until(lambda: endpoints.messages("rendering", message_id), 30, what="Rendering Failure event")
    [event] = endpoints.messages("rendering", message_id)
    assert event["eventType"] == "Rendering Failure"
    assert event["failure"] == {
        "templateName": template,
        "errorMessage": "Attribute 'code' is not present in the rendering data.",
    }
    assert event["mail"]["tags"]["ses:configuration-set"] == [config_set]
    assert event["mail"]["destination"] == ["reader@dest.example"]
    settle()
    assert endpoints.kinds("rendering", message_id) == {"Rendering Failure"}, "a failed message was sent"
    assert not [m for m in ses.messages() if m["messageId"] == message_id]


def test_delivery_notifications_go_to_the_identity_delivery_topic(ses, endpoints):
    domain = unique_domain("deliv")
    ses.verify(domain)
    ses.client("ses").set_identity_notification_topic(
        Identity=domain, NotificationType="Delivery", SnsTopic=topic_arn("owner-deliveries")
    )
    message_id = ses.client("ses").send_email(
        Source=f"a@{domain}",
        Destination={"ToAddresses": ["reader@dest.example"]},
        Message={"Subject": {"Data": "delivered"}, "Body": {"Text": {"Data": "b"}}},
    )["MessageId"]
    wait_until(lambda: endpoints.messages("owner-deliveries", message_id), 30, what="delivery notification")
    [note] = endpoints.messages("owner-deliveries", message_id)
    assert note["notificationType"] == "Delivery"
    assert note["delivery"]["recipients"] == ["reader@dest.example"]
    assert note["delivery"]["smtpResponse"].startswith("250")


def test_with_no_way_to_hear_of_bounces_they_are_emailed_anyway(ses, endpoints, receiver):
    """Seed 003: forwarding off (v2 allows it without topics) and no topic: feedback is
    still emailed, unless the sender's configuration set publishes bounces."""
    domain = unique_domain("seed003")
    ses.verify(domain)
    ses.client("sesv2").put_email_identity_feedback_attributes(EmailIdentity=domain, EmailForwardingEnabled=False)
    config_set = make_set(ses, sns_destination("bounces", "seed-bounces", ["BOUNCE"]))

    def bounce_one(**extra) -> str:
        gone = f"{unique('gone')}@dest.example"
        receiver.script[gone] = ["550 5.1.1 No such user"]
        return ses.client("ses").send_email(
            Source=f"shop@{domain}",
            Destination={"ToAddresses": [gone]},
            Message={"Subject": {"Data": "order"}, "Body": {"Text": {"Data": "thanks"}}},
            **extra,
        )["MessageId"]

    unheard = bounce_one()
    wait_until(lambda: captured_feedback(ses, unheard), 30, what="feedback email without any other way")
    heard = bounce_one(ConfigurationSetName=config_set)
    wait_until(lambda: endpoints.messages("seed-bounces", heard), 30, what="bounce event")
    settle()
    assert captured_feedback(ses, heard) == [], "emailed although the sender publishes bounces"
