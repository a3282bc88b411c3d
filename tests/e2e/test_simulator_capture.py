"""The SES mailbox simulator with `sesame serve` in its default `capture` mode: mail
to `success@`, `bounce@`, `suppressionlist@`, `complaint@` and `ooto@` gets the
outcomes SES gives it (Delivery, Bounce, Complaint events in the events file and at
a configuration set's SNS destination; the out-of-the-office answer in the capture
store), none of it counts or suppresses; a recipient on the account's suppression
list gets its Bounce too; ordinary mail stays captured without events."""

from __future__ import annotations

import time

import pytest

from e2e_support import ACCOUNT_ID, REGION, unique, wait_until
from ses_fixtures import SesServer, unique_domain
from test_delivery import events_of
from test_event_destinations import Endpoints, sns_destination, topic_arn

SIM = "simulator.amazonses.com"
TOPIC = "capture-events"


@pytest.fixture
def endpoints():
    e = Endpoints()
    yield e
    e.http.shutdown()


def test_simulator_outcomes_in_capture_mode(start_server, endpoints, tmp_path):
    events = tmp_path / "events.jsonl"
    server = start_server(tmp_path / "data", extra_args=[
        "--events-file", str(events),
        "--sns-endpoint", f"{topic_arn(TOPIC)}={endpoints.url(TOPIC)}",
    ])
    ses = SesServer(server)
    domain = unique_domain("capsim")
    ses.verify(domain)  # the sandbox stays: the simulator is reachable from it
    sender = f"news@{domain}"
    sesv2 = server.client("sesv2")
    config_set = unique("set")
    sesv2.create_configuration_set(ConfigurationSetName=config_set)
    sesv2.create_configuration_set_event_destination(
        ConfigurationSetName=config_set, **sns_destination("all", TOPIC, ["SEND", "DELIVERY", "BOUNCE", "COMPLAINT"]))

    def send(to: str, marker: str) -> str:
        message_id = sesv2.send_email(
            FromEmailAddress=sender,
            Destination={"ToAddresses": [to]},
            Content={"Simple": {"Subject": {"Data": f"hello {marker}"}, "Body": {"Text": {"Data": "hi"}}}},
            ConfigurationSetName=config_set,
        )["MessageId"]
        time.sleep(1.1)  # the sandbox's rate: one message per second
        return message_id

    def event(message_id: str, kind: str) -> dict:
        wait_until(lambda: events_of(events, message_id, kind), 30, what=f"{kind} of {message_id}")
        [found] = events_of(events, message_id, kind)
        return found

    ids = {name: send(f"{name}@{SIM}", f"cap-{name}") for name in
           ("success", "bounce", "suppressionlist", "complaint", "ooto")}

    assert event(ids["success"], "Delivery")["delivery"]["recipients"] == [f"success@{SIM}"]
    bounce = event(ids["bounce"], "Bounce")["bounce"]
    assert (bounce["bounceType"], bounce["bounceSubType"]) == ("Permanent", "General")
    assert bounce["bouncedRecipients"][0]["diagnosticCode"] == "smtp; 550 5.1.1 user unknown"
    listed = event(ids["suppressionlist"], "Bounce")["bounce"]
    assert (listed["bounceType"], listed["bounceSubType"]) == ("Permanent", "Suppressed")
    assert event(ids["complaint"], "Delivery")["delivery"]["recipients"] == [f"complaint@{SIM}"]
    complaint = event(ids["complaint"], "Complaint")["complaint"]
    assert complaint["complainedRecipients"] == [{"emailAddress": f"complaint@{SIM}"}]
    assert complaint["complaintFeedbackType"] == "abuse"
    assert event(ids["ooto"], "Delivery")["delivery"]["recipients"] == [f"ooto@{SIM}"]

    # The configuration set's destination hears the same, routed as in relay mode.
    wait_until(lambda: endpoints.kinds(TOPIC, ids["complaint"]) == {"Send", "Delivery", "Complaint"}, 30,
               what="Send, Delivery and Complaint at the SNS destination")
    assert endpoints.kinds(TOPIC, ids["bounce"]) == {"Send", "Bounce"}

    # The out-of-the-office answer goes back to the sender, into the capture store.
    wait_until(lambda: [m for m in ses.messages() if "Out of the office: hello cap-ooto" in m["raw"]], 30,
               what="the automatic answer")
    [answer] = [m for m in ses.messages() if "Out of the office: hello cap-ooto" in m["raw"]]
    assert answer["destination"] == [sender]
    assert "Auto-Submitted: auto-replied" in answer["raw"]
    assert f"In-Reply-To: <{ids['ooto']}@email.amazonses.com>" in answer["raw"]

    # None of it touches the account: no suppression, no bounce or complaint counted.
    for name in ("bounce", "suppressionlist", "complaint"):
        r = ses.aws("sesv2", "get-suppressed-destination", "--email-address", f"{name}@{SIM}", check=False)
        assert r.returncode != 0 and "NotFoundException" in r.stderr
    points = server.client("ses").get_send_statistics()["SendDataPoints"]
    assert sum(p["Bounces"] + p["Complaints"] for p in points) == 0
    assert server.stop() == 0, server.log_tail()


def test_capture_mode_reports_suppressed_recipients_only(start_server, tmp_path):
    events = tmp_path / "events.jsonl"
    server = start_server(tmp_path / "data", extra_args=["--events-file", str(events)])
    ses = SesServer(server)
    ses.production(ACCOUNT_ID, REGION)
    domain = unique_domain("capsupp")
    ses.verify(domain)
    sesv2 = server.client("sesv2")
    sesv2.put_suppressed_destination(EmailAddress="listed@dest.example", Reason="BOUNCE")

    def send(to: str) -> str:
        return sesv2.send_email(
            FromEmailAddress=f"news@{domain}",
            Destination={"ToAddresses": [to]},
            Content={"Simple": {"Subject": {"Data": "capture"}, "Body": {"Text": {"Data": "hi"}}}},
        )["MessageId"]

    held = send("listed@dest.example")
    plain = send("reader@dest.example")
    wait_until(lambda: events_of(events, held, "Bounce"), 30, what="the suppressed recipient's Bounce")
    [bounce] = events_of(events, held, "Bounce")
    assert bounce["bounce"]["bounceSubType"] == "OnAccountSuppressionList"
    assert len(events_of(events, held, "Send")) == 1
    # Ordinary mail is only captured: kept, no events.
    time.sleep(2)
    assert ses.captured(plain)["destination"] == ["reader@dest.example"]
    assert [e for e in events_of(events, plain, "Send") + events_of(events, plain, "Delivery")] == []
    assert server.stop() == 0, server.log_tail()
