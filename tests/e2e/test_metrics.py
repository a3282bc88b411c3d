"""Prometheus `/metrics` on the HTTP listener of a relaying server (aiosmtpd receiver
on loopback): after allowed, denied, unverified and throttled sends, a delivery, an
SMTP bounce, a simulator bounce and a deferred (queued) delivery, the counters moved by
exactly what happened, the per-account figures equal GetSendStatistics, and the whole
output parses as the Prometheus text format (a strict parser of our own below). The
scrape shows no address, message text or secret."""

from __future__ import annotations

import math
import re

import pytest

from e2e_support import ACCOUNT_ID, REGION, ROOT, Creds, wait_until

pytest.importorskip("aiosmtpd.controller")
from test_delivery import DOMAIN, SENDER, Receiver, admin, prepare_sender, start_relaying  # noqa: E402

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE = re.compile(rf"^({NAME})(?:\{{(.*)\}})? (\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def parse(text: str) -> dict:
    """The text exposition format, strictly: every sample belongs to a family declared
    by # HELP and # TYPE just before it; histograms have cumulative buckets ending in
    +Inf equal to _count. Returns {(name, frozenset(labels)): value}."""
    assert text.endswith("\n")
    samples: dict = {}
    types: dict = {}
    current = None
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("# HELP "):
            current = line.split(" ")[2]
            assert re.fullmatch(NAME, current), line
            assert current not in types, f"family {current} declared twice"
            assert lines[i + 1].startswith(f"# TYPE {current} "), line
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name == current and kind in ("counter", "gauge", "histogram"), line
            types[name] = kind
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        name, labels_text, value = m.groups()
        family = re.sub(r"_(bucket|sum|count)$", "", name) if types.get(current) == "histogram" else name
        assert family == current, f"{name} outside its family ({current})"
        labels = {}
        if labels_text:
            pos = 0
            while pos < len(labels_text):
                lm = LABEL.match(labels_text, pos)
                assert lm, f"bad labels in {line!r}"
                labels[lm.group(1)] = lm.group(2)
                pos = lm.end()
        number = float(value.replace("+Inf", "inf"))
        assert not math.isnan(number), line
        if types[current] == "counter":
            assert number >= 0 and name.endswith("_total"), line
        key = (name, frozenset(labels.items()))
        assert key not in samples, f"duplicate sample {line!r}"
        samples[key] = number
    for name, kind in types.items():
        if kind != "histogram":
            continue
        series = {dict(k[1]).get("api") for k in samples if k[0] == f"{name}_count"}
        for api in series:
            buckets = sorted(
                (float(dict(k[1])["le"].replace("+Inf", "inf")), v)
                for k, v in samples.items() if k[0] == f"{name}_bucket" and dict(k[1])["api"] == api
            )
            counts = [v for _, v in buckets]
            assert counts == sorted(counts), f"{name}{{api={api}}} buckets are not cumulative"
            assert buckets[-1][0] == math.inf and buckets[-1][1] == samples[(f"{name}_count", frozenset({("api", api)}))]
    return samples


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def scrape(server) -> tuple[str, dict]:
    status, headers, body = server.raw("GET", "/metrics")
    assert status == 200, body[:300]
    text = body.decode()
    return text, parse(text)


def send(server, creds: Creds, source: str, to: str, subject: str) -> str:
    """'sent' or the error code."""
    from botocore.exceptions import ClientError

    try:
        server.client("ses", creds).send_email(
            Source=source, Destination={"ToAddresses": [to]},
            Message={"Subject": {"Data": subject}, "Body": {"Text": {"Data": "metrics body text"}}})
        return "sent"
    except ClientError as e:
        return e.response["Error"]["Code"]


def test_counters_follow_sends_deliveries_and_statistics(start_server, tmp_path):
    receiver = Receiver().start()
    receiver.script["hard@dest.example"] = ["550 5.1.1 no such user"]
    receiver.script["later@slow.example"] = ["451 4.3.0 try again later"] * 100
    try:
        server = start_relaying(start_server, receiver.port, tmp_path / "events.jsonl")
        prepare_sender(server)
        iam = server.client("iam")
        iam.create_user(UserName="nopolicy")
        key = iam.create_access_key(UserName="nopolicy")["AccessKey"]
        nobody = Creds(key["AccessKeyId"], key["SecretAccessKey"])
        _, before = scrape(server)

        assert send(server, ROOT, SENDER, "ok@dest.example", "m-ok") == "sent"
        assert send(server, ROOT, SENDER, "hard@dest.example", "m-hard") == "sent"
        assert send(server, ROOT, SENDER, "bounce@simulator.amazonses.com", "m-sim") == "sent"
        assert send(server, ROOT, SENDER, "later@slow.example", "m-later") == "sent"
        assert send(server, nobody, SENDER, "ok@dest.example", "m-denied") == "AccessDenied"
        assert send(server, ROOT, "someone@unverified.example", "ok@dest.example", "m-unverified") == "MessageRejected"
        admin(server, "set-quota", "--account", ACCOUNT_ID, "--region", REGION,
              "--max-24-hour-send", "1000", "--max-send-rate", "1")
        outcomes = [send(server, ROOT, SENDER, "ok@dest.example", f"m-burst{i}") for i in range(4)]
        throttled = outcomes.count("Throttling")
        burst_sent = outcomes.count("sent")
        assert throttled >= 1 and throttled + burst_sent == 4, outcomes

        wait_until(lambda: receiver.received("m-ok"), 30, what="the allowed message arrives")

        def attempted(result: str) -> bool:
            return value(scrape(server)[1], "sesame_delivery_recipients_total", result=result) > value(
                before, "sesame_delivery_recipients_total", result=result)

        def moved_now(name, **labels):
            return value(scrape(server)[1], name, **labels) - value(before, name, **labels)

        # The SMTP bounce and the simulator's (which no connection makes); only the
        # former counts in the statistics, once the feedback is recorded.
        wait_until(lambda: moved_now("sesame_delivery_recipients_total", result="bounced") >= 2, 30,
                   what="the SMTP and the simulator's bounces")
        wait_until(lambda: moved_now("sesame_statistics_bounces_total") >= 1, 30, what="the hard bounce counted")
        wait_until(lambda: attempted("deferred"), 30, what="the deferred delivery")
        text, after = scrape(server)

        def moved(name, **labels):
            return value(after, name, **labels) - value(before, name, **labels)

        accepted = 4 + burst_sent
        assert moved("sesame_messages_accepted_total") == accepted
        assert moved("sesame_recipients_accepted_total") == accepted
        assert moved("sesame_send_rejections_total", reason="access_denied") == 1
        assert moved("sesame_send_rejections_total", reason="not_verified") == 1
        assert moved("sesame_send_rejections_total", reason="throttled") == throttled
        assert moved("sesame_authorization_decisions_total", outcome="implicit_deny", layer="identity") >= 1
        assert moved("sesame_authorization_decisions_total", outcome="allowed", layer="none") >= accepted
        assert moved("sesame_delivery_recipients_total", result="delivered") >= 1
        assert moved("sesame_delivery_recipients_total", result="bounced") == 2
        assert moved("sesame_delivery_recipients_total", result="deferred") >= 1
        assert moved("sesame_statistics_delivery_attempts_total") == accepted
        # The SMTP hard bounce; the simulator's touches no reputation metric.
        assert moved("sesame_statistics_bounces_total") == 1
        assert moved("sesame_request_duration_seconds_count", api="ses") >= 10
        assert moved("sesame_request_duration_seconds_count", api="iam") == 0

        # The deferred message waits in the queue.
        assert value(after, "sesame_delivery_queue_deliveries") >= 1
        assert value(after, "sesame_delivery_queue_pending_recipients") >= 1
        assert value(after, "sesame_delivery_queue_oldest_age_seconds") > 0

        # Per-account figures are GetSendStatistics' data points, summed.
        points = server.client("ses").get_send_statistics()["SendDataPoints"]
        scope = {"account": ACCOUNT_ID, "region": REGION}
        attempts = sum(p["DeliveryAttempts"] for p in points)
        bounces = sum(p["Bounces"] for p in points)
        complaints = sum(p["Complaints"] for p in points)
        assert attempts == accepted and bounces == 1
        assert value(after, "sesame_account_delivery_attempts", **scope) == attempts
        assert value(after, "sesame_account_bounces", **scope) == bounces
        assert value(after, "sesame_account_complaints", **scope) == complaints
        assert value(after, "sesame_account_bounce_rate", **scope) == pytest.approx(bounces / attempts)
        assert value(after, "sesame_account_complaint_rate", **scope) == 0

        # Nothing personal or secret.
        for leak in ("ok@dest.example", "hard@dest", "m-ok", "metrics body", DOMAIN, ROOT.secret, nobody.secret):
            assert leak not in text, f"/metrics shows {leak!r}"
    finally:
        receiver.stop()


def test_metrics_answers_get_only(start_server):
    server = start_server()
    status, _, body = server.raw("POST", "/metrics")
    assert status == 404, body
