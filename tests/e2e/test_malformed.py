"""Malformed requests get AWS's error codes in the right protocol shape, and the
server never falls over: after each one it still answers a signed call."""

from __future__ import annotations

import json
import socket
import time

import pytest

from e2e_support import (
    IAM_VERSION,
    JSON_CT,
    STS_VERSION,
    query_error,
    unique,
)

ORG_TARGET = "AWSOrganizationsV20161128.ListRoots"
TRAIL_TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"


def check_query_error(status, body, expected_status, code):
    err = query_error(body)
    assert (status, err["Code"], err["Type"]) == (expected_status, code, "Sender"), (status, err)
    return err


@pytest.fixture(autouse=True)
def server_survives(server):
    yield
    server.alive()


@pytest.mark.parametrize("service, version", [("iam", IAM_VERSION), ("sts", STS_VERSION)])
def test_missing_action(server, service, version):
    status, _, body = server.signed({"Version": version}, service=service)
    check_query_error(status, body, 400, "MissingAction")


@pytest.mark.parametrize("service, version", [("iam", IAM_VERSION), ("sts", STS_VERSION)])
def test_unknown_action(server, service, version):
    status, _, body = server.signed({"Action": "FrobnicateUsers", "Version": version}, service=service)
    err = check_query_error(status, body, 400, "InvalidAction")
    assert "FrobnicateUsers" in err["Message"]


@pytest.mark.parametrize("service, version", [("iam", IAM_VERSION), ("sts", STS_VERSION)])
def test_unknown_action_wording(server, service, version):
    status, _, body = server.signed({"Action": "FrobnicateUsers", "Version": version}, service=service)
    err = check_query_error(status, body, 400, "InvalidAction")
    assert err["Message"] == f"Could not find operation FrobnicateUsers for version {version}"


def test_missing_parameter(server):
    """botocore refuses to send this, so it goes raw. IAM reports the missing
    UserName (MissingParameter or a ValidationError naming userName)."""
    status, _, body = server.signed({"Action": "CreateUser", "Version": IAM_VERSION})
    err = query_error(body)
    assert status == 400 and err["Type"] == "Sender", err
    assert err["Code"] in ("MissingParameter", "ValidationError"), err
    assert "UserName" in err["Message"] or "userName" in err["Message"], err

    status, _, body = server.signed({"Action": "AssumeRole", "Version": STS_VERSION, "RoleSessionName": "x"}, service="sts")
    err = query_error(body)
    assert status == 400 and err["Code"] in ("MissingParameter", "ValidationError"), err
    assert "RoleArn" in err["Message"] or "roleArn" in err["Message"], err


def test_invalid_parameter_values(server):
    status, _, body = server.signed({"Action": "CreateUser", "Version": IAM_VERSION, "UserName": "bad name!"})
    err = check_query_error(status, body, 400, "ValidationError")
    assert "userName" in err["Message"], err
    status, _, body = server.signed(
        {"Action": "AssumeRole", "Version": STS_VERSION, "RoleArn": "not-an-arn", "RoleSessionName": "x1"}, service="sts"
    )
    check_query_error(status, body, 400, "ValidationError")
    status, _, body = server.signed({"Action": "GetSessionToken", "Version": STS_VERSION, "DurationSeconds": "soon"}, service="sts")
    check_query_error(status, body, 400, "ValidationError")


def test_malformed_policy_json_raw(server):
    name = unique("rawbad")
    server.client("iam").create_user(UserName=name)
    status, _, body = server.signed(
        {"Action": "PutUserPolicy", "Version": IAM_VERSION, "UserName": name, "PolicyName": "p", "PolicyDocument": "{{{"}
    )
    check_query_error(status, body, 400, "MalformedPolicyDocument")


@pytest.mark.parametrize(
    "target", [ORG_TARGET, TRAIL_TARGET], ids=["organizations", "cloudtrail"]
)
@pytest.mark.parametrize("payload", [b"{not json", b'{"a": 1', b"\xff\xfe", b"[1, 2"], ids=["brace", "truncated", "binary", "array"])
def test_json_protocol_invalid_json(server, target, payload):
    service = "organizations" if target == ORG_TARGET else "cloudtrail"
    status, headers, body = server.signed(body=payload, target=target, service=service, content_type=JSON_CT)
    assert status == 400, body
    assert headers.get("Content-Type", headers.get("content-type", "")).startswith("application/x-amz-json-1.1")
    doc = json.loads(body)
    assert doc["__type"].rsplit("#", 1)[-1] == "SerializationException", doc


def test_json_protocol_unknown_target(server):
    status, _, body = server.signed(body=b"{}", target="AWSOrganizationsV20161128.Frobnicate", service="organizations")
    assert status == 400, body
    assert json.loads(body)["__type"].rsplit("#", 1)[-1] == "UnknownOperationException"


def test_oversized_body(server):
    """More than 40 MB: refused with an error response, and the server stays up."""
    size = 41 * 1024 * 1024
    chunk = b"A" * (1024 * 1024)
    with socket.create_connection((server.host, server.port), timeout=60) as s:
        s.sendall(
            (
                "POST / HTTP/1.1\r\n"
                f"Host: {server.host}:{server.port}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {size}\r\n\r\n"
            ).encode()
        )
        sent = 0
        try:
            while sent < size:
                s.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading it all
        response = b""
        try:
            while True:
                part = s.recv(65536)
                if not part:
                    break
                response += part
                if b"</ErrorResponse>" in response:
                    break
        except (ConnectionResetError, socket.timeout):
            pass
    assert response.startswith(b"HTTP/1.1 413"), response[:200]
    body = response.split(b"\r\n\r\n", 1)[1]
    err = query_error(body)
    assert err["Code"] == "RequestEntityTooLarge", err


@pytest.mark.parametrize(
    "payload",
    [
        b"\x00\x01\x02\xff\xfe garbage \r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",  # truncated body, then close
        b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\n\r\n",  # huge request line
        b"GET / HTTP/1.1\r\n" + b"X-Junk: " + b"b" * 200_000 + b"\r\n\r\n",  # huge header
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(32),  # a TLS ClientHello on the plain port
        b"",  # connect and close
    ],
    ids=["binary", "bad-content-length", "truncated-body", "long-request-line", "huge-header", "tls-hello", "empty"],
)
def test_garbage_on_the_socket(server, payload):
    with socket.create_connection((server.host, server.port), timeout=10) as s:
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass
        except (ConnectionResetError, BrokenPipeError, socket.timeout):
            pass


def test_many_idle_connections_do_not_block_service(server):
    socks = []
    try:
        for _ in range(200):
            socks.append(socket.create_connection((server.host, server.port), timeout=5))
        started = time.monotonic()
        server.alive()
        assert time.monotonic() - started < 5
    finally:
        for s in socks:
            s.close()


def test_unsupported_methods_and_paths(server):
    for method, path in [("PUT", "/"), ("DELETE", "/"), ("GET", "/no/such/path"), ("OPTIONS", "/")]:
        status, _, body = server.raw(method, path)
        assert 400 <= status < 500, (method, path, status, body[:200])
