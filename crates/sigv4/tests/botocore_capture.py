"""Signs real requests with botocore and prints them as received on the wire.

Used by tests/botocore.rs. A throwaway HTTP server on 127.0.0.1 records each
request exactly as it arrives (method, raw request target, headers in order,
body) and answers with an error, which the client calls below swallow. The
output is one JSON document on stdout:

  {"requests": [{"name", "method", "target", "headers": [[name, value]...],
                 "body_hex", "secret", "service", "region", "token", "presigned"}...],
   "smtp": [{"secret", "region", "password"}...]}

The SMTP passwords are derived here with Python's hmac module, independently
of the Rust implementation, following AWS's documented algorithm.
"""

import base64
import hashlib
import hmac
import http.client
import http.server
import json
import sys
import threading
import urllib.parse

try:
    import botocore.session
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.config import Config
    from botocore.credentials import Credentials
except ImportError as error:  # reported by the Rust test
    print(f"botocore is not importable: {error}", file=sys.stderr)
    sys.exit(3)

ACCESS_KEY = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
OTHER_SECRET = "Qx+/9z0==abcDEF/ghi+JKL012345678901234567"
SESSION_TOKEN = "FwoGZXIvYXdzEBYaDH/+session/token=="

captured = []


class Recorder(http.server.BaseHTTPRequestHandler):
    def _record(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        captured.append(
            {
                "method": self.command,
                "target": self.path,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body_hex": body.hex(),
            }
        )
        payload = b"<ErrorResponse><Error><Code>Captured</Code></Error></ErrorResponse>"
        self.send_response(400)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _record

    def log_message(self, *args):
        pass


def start_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def client(endpoint, service, region="us-east-1", secret=SECRET, token=None):
    session = botocore.session.get_session()
    return session.create_client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(retries={"max_attempts": 1}),
    )


def capture(name, secret, call, service, region="us-east-1", token=None, presigned=False):
    """Runs a botocore call against the recorder and labels what arrived,
    with the secret to verify it and what its credentials must parse to."""
    before = len(captured)
    try:
        call()
    except Exception:  # the recorder always answers with an error
        pass
    if len(captured) != before + 1:
        raise SystemExit(f"{name}: expected one captured request, got {len(captured) - before}")
    captured[-1].update(
        {
            "name": name,
            "secret": secret,
            "service": service,
            "region": region,
            "token": token,
            "presigned": presigned,
        }
    )


def send_raw(endpoint, method, target, headers, body):
    """Sends a request exactly as given (for presigned URLs and raw signing)."""
    parts = urllib.parse.urlsplit(endpoint)
    connection = http.client.HTTPConnection(parts.hostname, parts.port)
    connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
    if not any(key.lower() == "host" for key in headers):
        # As urllib3 does; botocore signs this same value, taken from the URL.
        connection.putheader("Host", parts.netloc)
    for key, value in headers.items():
        connection.putheader(key, value)
    if body:
        connection.putheader("Content-Length", str(len(body)))
    connection.endheaders(body if body else None)
    connection.getresponse().read()
    connection.close()


def raw_signed(endpoint, method, path_and_query, body, headers, service, region="us-east-1"):
    """Signs a hand-built request with botocore's SigV4Auth and sends it."""
    url = endpoint + path_and_query
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    SigV4Auth(Credentials(ACCESS_KEY, SECRET), service, region).add_auth(request)
    prepared = request.prepare()
    send_raw(endpoint, method, path_and_query, dict(prepared.headers), body)


def presigned(endpoint, url):
    """GETs a presigned URL; botocore signs it for the HttpMethod it was
    given (the model's POST by default for Query APIs, so callers pass GET,
    as `aws eks get-token` does)."""
    parts = urllib.parse.urlsplit(url)
    target = parts.path + "?" + parts.query
    send_raw(endpoint, "GET", target, {}, b"")


def smtp_password(secret, region):
    def sign(key, message):
        return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()

    signature = sign(("AWS4" + secret).encode("utf-8"), "11111111")
    for part in (region, "ses", "aws4_request", "SendRawEmail"):
        signature = sign(signature, part)
    return base64.b64encode(bytes([0x04]) + signature).decode("utf-8")


def main():
    server = start_server()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"

    iam = client(endpoint, "iam")
    capture(
        "iam ListUsers (Query POST)",
        SECRET,
        lambda: iam.list_users(PathPrefix="/a b+c/"),
        "iam",
    )

    sts = client(endpoint, "sts", token=SESSION_TOKEN)
    capture(
        "sts GetCallerIdentity with session token",
        SECRET,
        sts.get_caller_identity,
        "sts",
        token=SESSION_TOKEN,
    )

    ses = client(endpoint, "ses", region="eu-west-1", secret=OTHER_SECRET)
    capture(
        "ses SendEmail (Query POST, eu-west-1, special characters)",
        OTHER_SECRET,
        lambda: ses.send_email(
            Source="Sender Name <sender+tag@example.com>",
            Destination={"ToAddresses": ["to@example.com", "second@example.com"]},
            Message={
                "Subject": {"Data": "Héllo & welcome = 100% ~ *"},
                "Body": {"Text": {"Data": "Line 1\nLine 2 + more\t tab"}},
            },
        ),
        "ses",
        region="eu-west-1",
    )

    cloudtrail = client(endpoint, "cloudtrail")
    capture(
        "cloudtrail DescribeTrails (JSON 1.1 with X-Amz-Target)",
        SECRET,
        lambda: cloudtrail.describe_trails(trailNameList=["a trail"]),
        "cloudtrail",
    )

    organizations = client(endpoint, "organizations")
    capture(
        "organizations ListAccounts (JSON 1.1)",
        SECRET,
        lambda: organizations.list_accounts(MaxResults=5),
        "organizations",
    )

    sesv2 = client(endpoint, "sesv2")
    capture(
        "sesv2 GetEmailIdentity (REST GET, encoded path)",
        SECRET,
        lambda: sesv2.get_email_identity(EmailIdentity="user name+tag@exämple.com/x"),
        "ses",
    )
    capture(
        "sesv2 ListEmailIdentities (REST GET, encoded query)",
        SECRET,
        lambda: sesv2.list_email_identities(PageSize=5, NextToken="a b+c/=&d~é"),
        "ses",
    )
    capture(
        "sesv2 SendEmail (REST POST, JSON body)",
        SECRET,
        lambda: sesv2.send_email(
            FromEmailAddress="a@example.com",
            Destination={"ToAddresses": ["b@example.com"]},
            Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}},
        ),
        "ses",
    )

    capture(
        "raw REST GET, spaces and specials in path, repeated query keys",
        SECRET,
        lambda: raw_signed(
            endpoint,
            "GET",
            "/v2/email/a%20b/%C3%A9%2Bx/c%3Ad?tag=b&tag=a&Tag=c&empty=&x=%2B%20%2F",
            b"",
            {"X-Custom": "  spaced   value  "},
            "ses",
        ),
        "ses",
    )

    capture(
        "sts GetCallerIdentity presigned URL",
        SECRET,
        lambda: presigned(
            endpoint,
            client(endpoint, "sts").generate_presigned_url(
                "get_caller_identity", ExpiresIn=300, HttpMethod="GET"
            ),
        ),
        "sts",
        presigned=True,
    )
    capture(
        "ses ListIdentities presigned URL with session token",
        SECRET,
        lambda: presigned(
            endpoint,
            client(endpoint, "ses", token=SESSION_TOKEN).generate_presigned_url(
                "list_identities",
                Params={"IdentityType": "EmailAddress"},
                ExpiresIn=600,
                HttpMethod="GET",
            ),
        ),
        "ses",
        token=SESSION_TOKEN,
        presigned=True,
    )
    server.shutdown()

    smtp = [
        {"secret": secret, "region": region, "password": smtp_password(secret, region)}
        for secret, region in [
            (SECRET, "us-east-1"),
            (SECRET, "eu-west-1"),
            (OTHER_SECRET, "ap-southeast-2"),
        ]
    ]
    json.dump({"requests": captured, "smtp": smtp}, sys.stdout)


if __name__ == "__main__":
    main()
