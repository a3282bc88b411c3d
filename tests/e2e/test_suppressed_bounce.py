"""A send to recipients on the account's suppression list, against a real `sesame
serve --delivery relay`: SES accepts it, sends nothing to them, and reports a Bounce
(`Permanent` / `OnAccountSuppressionList`) after the Send event — at the
configuration set's SNS event destination and in the events file — without counting
a bounce or touching the suppression entry."""

from __future__ import annotations

import json
import time

import pytest

from e2e_support import ACCOUNT_ID, REGION, unique, wait_until
from ses_fixtures import unique_domain
from test_delivery import Receiver, admin, events_of
from test_event_destinations import Endpoints, sns_destination, topic_arn

TOPIC = "suppressed-events"


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def endpoints():
    e = Endpoints()
    yield e
    e.http.shutdown()


def test_all_recipients_suppressed_gives_a_routed_bounce(start_server, receiver, endpoints, tmp_path):
    events = tmp_path / "events.jsonl"
    server = start_server(tmp_path / "data", extra_args=[
        "--delivery", "relay",
        "--relay", f"smtp://127.0.0.1:{receiver.port}",
        "--events-file", str(events),
        "--sns-endpoint", f"{topic_arn(TOPIC)}={endpoints.url(TOPIC)}",
    ])
    admin(server, "production-access", "--account", ACCOUNT_ID, "--region", REGION)
    domain = unique_domain("supp")
    admin(server, "verify-identity", domain, "--account", ACCOUNT_ID, "--region", REGION)
    sesv2 = server.client("sesv2")
    config_set = unique("set")
    sesv2.create_configuration_set(ConfigurationSetName=config_set)
    sesv2.create_configuration_set_event_destination(
        ConfigurationSetName=config_set, **sns_destination("all", TOPIC, ["SEND", "BOUNCE", "DELIVERY"]))
    listed = ["listed-1@dest.example", "listed-2@dest.example"]
    for address in listed:
        sesv2.put_suppressed_destination(EmailAddress=address, Reason="BOUNCE")

    message_id = sesv2.send_email(
        FromEmailAddress=f"news@{domain}",
        Destination={"ToAddresses": listed},
        Content={"Simple": {"Subject": {"Data": "to the list"}, "Body": {"Text": {"Data": "hi"}}}},
        ConfigurationSetName=config_set,
    )["MessageId"]

    wait_until(lambda: endpoints.kinds(TOPIC, message_id) == {"Send", "Bounce"}, 30, what="Send and Bounce")
    [bounce] = [m for m in endpoints.messages(TOPIC, message_id) if m["eventType"] == "Bounce"]
    b = bounce["bounce"]
    assert (b["bounceType"], b["bounceSubType"]) == ("Permanent", "OnAccountSuppressionList")
    assert sorted(r["emailAddress"] for r in b["bouncedRecipients"]) == listed
    for r in b["bouncedRecipients"]:
        assert r["action"] == "failed" and r["status"] == "5.1.1"
        assert "suppression list" in r["diagnosticCode"]
    assert b["feedbackId"] and b["timestamp"].endswith("Z") and b["reportingMTA"]
    mail = bounce["mail"]
    assert mail["messageId"] == message_id
    assert sorted(mail["destination"]) == listed
    assert mail["tags"]["ses:configuration-set"] == [config_set]
    assert mail["sourceArn"] == f"arn:aws:ses:{REGION}:{ACCOUNT_ID}:identity/{domain}"

    # The events file has the same Bounce, once.
    wait_until(lambda: events_of(events, message_id, "Bounce"), 10, what="Bounce in the events file")
    [in_file] = events_of(events, message_id, "Bounce")
    assert in_file["bounce"]["bounceSubType"] == "OnAccountSuppressionList"

    # Nothing went to the listed addresses (the sender may get its feedback as for
    # any bounce); no bounce counted; the entries keep their own history.
    time.sleep(1.5)
    assert not [m for m in receiver.messages if set(m["to"]) & set(listed)]
    assert len(endpoints.messages(TOPIC, message_id)) == 2
    points = server.client("ses").get_send_statistics()["SendDataPoints"]
    assert sum(p["Bounces"] for p in points) == 0
    entry = sesv2.get_suppressed_destination(EmailAddress=listed[0])["SuppressedDestination"]
    assert "MessageId" not in entry.get("Attributes", {})
    assert server.stop() == 0, server.log_tail()


def test_a_partly_suppressed_send_delivers_the_rest(start_server, receiver, tmp_path):
    events = tmp_path / "events.jsonl"
    server = start_server(tmp_path / "data", extra_args=[
        "--delivery", "relay",
        "--relay", f"smtp://127.0.0.1:{receiver.port}",
        "--events-file", str(events),
    ])
    admin(server, "production-access", "--account", ACCOUNT_ID, "--region", REGION)
    domain = unique_domain("part")
    admin(server, "verify-identity", domain, "--account", ACCOUNT_ID, "--region", REGION)
    ses = server.client("sesv2")
    ses.put_suppressed_destination(EmailAddress="listed@dest.example", Reason="COMPLAINT")
    message_id = ses.send_email(
        FromEmailAddress=f"news@{domain}",
        Destination={"ToAddresses": ["reader@dest.example", "listed@dest.example"]},
        Content={"Simple": {"Subject": {"Data": "part-marker"}, "Body": {"Text": {"Data": "hi"}}}},
    )["MessageId"]
    wait_until(lambda: events_of(events, message_id, "Delivery") and events_of(events, message_id, "Bounce"),
               30, what="Delivery and Bounce")
    [bounce] = events_of(events, message_id, "Bounce")
    assert [r["emailAddress"] for r in bounce["bounce"]["bouncedRecipients"]] == ["listed@dest.example"]
    assert bounce["bounce"]["bounceSubType"] == "OnAccountSuppressionList"
    [delivery] = events_of(events, message_id, "Delivery")
    assert delivery["delivery"]["recipients"] == ["reader@dest.example"]
    assert len(events_of(events, message_id, "Send")) == 1
    [got] = receiver.received("part-marker")
    assert got["to"] == ["reader@dest.example"]
    assert json.dumps(bounce["mail"]["destination"]) == json.dumps(["reader@dest.example", "listed@dest.example"])
    assert server.stop() == 0, server.log_tail()
