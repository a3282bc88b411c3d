//! Verification behaviour beyond the published vectors: clock skew, presigned
//! expiry, structural rules, payload hashes, and AWS's error codes/messages.

use sigv4::{
    parse_auth, presign, sign, verify, HttpRequest, MismatchReason, ParsedAuth, SigV4Error,
    SigningParams,
};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/// 2015-08-30T12:36:00Z.
const T0: i64 = 1_440_938_160;
const BODY: &[u8] = b"Action=ListUsers&Version=2010-05-08";

fn params(unix_seconds: i64) -> SigningParams<'static> {
    SigningParams {
        access_key_id: "AKIDEXAMPLE",
        secret_access_key: SECRET,
        session_token: None,
        region: "us-east-1",
        service: "iam",
        unix_seconds,
    }
}

/// Owned headers of a request as it arrives at the server.
struct Received {
    headers: Vec<(String, String)>,
    query: String,
}

impl Received {
    fn header_refs(&self) -> Vec<(&str, &str)> {
        self.headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }
}

fn base_headers() -> Vec<(&'static str, &'static str)> {
    vec![
        ("Host", "iam.amazonaws.com"),
        (
            "Content-Type",
            "application/x-www-form-urlencoded; charset=utf-8",
        ),
    ]
}

fn request<'a>(headers: &'a [(&'a str, &'a str)], query: &'a str) -> HttpRequest<'a> {
    HttpRequest {
        method: "POST",
        path: "/",
        query,
        headers,
        body: BODY,
    }
}

/// A request signed with an Authorization header at `time`.
fn signed_at(time: i64) -> Received {
    let base = base_headers();
    let added = sign(&request(&base, ""), &params(time)).unwrap().to_vec();
    let mut headers: Vec<(String, String)> = base
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    headers.extend(added.into_iter().map(|(n, v)| (n.to_owned(), v)));
    Received {
        headers,
        query: String::new(),
    }
}

/// A request presigned at `time` for `expires` seconds.
fn presigned_at(time: i64, expires: u64) -> Received {
    let base = base_headers();
    let query = presign(&request(&base, "Extra=1"), &params(time), expires).unwrap();
    Received {
        headers: base
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        query,
    }
}

fn check(received: &Received, now: i64) -> Result<ParsedAuth, SigV4Error> {
    let headers = received.header_refs();
    let req = request(&headers, &received.query);
    let auth = parse_auth(&req)?;
    verify(&req, &auth, SECRET, now)?;
    Ok(auth)
}

fn parse_error(headers: &[(&str, &str)], query: &str) -> SigV4Error {
    parse_auth(&request(headers, query)).unwrap_err()
}

fn with_authorization(value: &str) -> SigV4Error {
    let mut headers = base_headers();
    headers.push(("X-Amz-Date", "20150830T123600Z"));
    headers.push(("Authorization", value));
    parse_error(&headers, "")
}

#[test]
fn accepts_within_fifteen_minutes_either_way() {
    let received = signed_at(T0);
    for now in [T0, T0 + 900, T0 - 900, T0 + 1, T0 - 1] {
        check(&received, now).unwrap_or_else(|e| panic!("now={now}: {e}"));
    }
}

#[test]
fn too_old_request_is_signature_expired() {
    let error = check(&signed_at(T0), T0 + 901 + 25 * 60 - 1).unwrap_err();
    assert_eq!(error.code(), "SignatureDoesNotMatch");
    assert_eq!(error.http_status(), 403);
    // now = 12:36:00 + 40 min = 13:16:00, so the earliest allowed is 13:01:00.
    assert_eq!(
        error.to_string(),
        "Signature expired: 20150830T123600Z is now earlier than 20150830T130100Z \
         (20150830T131600Z - 15 min.)"
    );
    assert!(matches!(
        check(&signed_at(T0), T0 + 901),
        Err(SigV4Error::SignatureExpired { .. })
    ));
}

#[test]
fn request_from_the_future_is_not_yet_current() {
    let error = check(&signed_at(T0 + 901), T0).unwrap_err();
    assert_eq!(error.code(), "SignatureDoesNotMatch");
    assert_eq!(
        error.to_string(),
        "Signature not yet current: 20150830T125101Z is still later than 20150830T125100Z \
         (20150830T123600Z + 15 min.)"
    );
}

#[test]
fn extreme_clocks_do_not_panic() {
    let received = signed_at(T0);
    for now in [i64::MIN, i64::MAX, 0, -1] {
        assert!(check(&received, now).is_err());
    }
}

#[test]
fn presigned_request_verifies_until_it_expires() {
    let received = presigned_at(T0, 300);
    let auth = check(&received, T0 + 300).unwrap();
    assert!(auth.is_presigned());
    assert_eq!(auth.presigned_expires_seconds, Some(300));
    assert_eq!(auth.signed_headers, ["content-type", "host"]);

    let error = check(&received, T0 + 301).unwrap_err();
    assert_eq!(error.code(), "RequestExpired");
    assert_eq!(error.to_string(), "Request has expired.");
    assert_eq!(error.http_status(), 400);
}

#[test]
fn presigned_request_is_also_held_to_the_fifteen_minute_window() {
    let received = presigned_at(T0, 3600);
    check(&received, T0 + 900).unwrap();
    let error = check(&received, T0 + 901).unwrap_err();
    assert!(
        matches!(error, SigV4Error::SignatureExpired { .. }),
        "{error:?}"
    );
    let error = check(&presigned_at(T0 + 901, 3600), T0).unwrap_err();
    assert!(matches!(error, SigV4Error::SignatureNotYetCurrent { .. }));
}

#[test]
fn presigned_tampering_is_detected() {
    let received = presigned_at(T0, 300);
    let mut tampered = Received {
        headers: received.headers.clone(),
        query: received.query.replace("Extra=1", "Extra=2"),
    };
    let error = check(&tampered, T0).unwrap_err();
    assert_eq!(error.code(), "SignatureDoesNotMatch");

    tampered.query = received
        .query
        .replace("X-Amz-Expires=300", "X-Amz-Expires=600");
    assert_eq!(
        check(&tampered, T0).unwrap_err().code(),
        "SignatureDoesNotMatch"
    );
}

#[test]
fn tampering_with_body_path_header_method_or_secret_fails() {
    let received = signed_at(T0);
    let headers = received.header_refs();
    let req = request(&headers, "");
    let auth = parse_auth(&req).unwrap();
    verify(&req, &auth, SECRET, T0).unwrap();

    let variants = [
        HttpRequest {
            body: b"Action=ListUsers&Version=2010-05-09",
            ..req
        },
        HttpRequest { path: "/x", ..req },
        HttpRequest {
            method: "PUT",
            ..req
        },
        HttpRequest {
            query: "a=b",
            ..req
        },
    ];
    for variant in variants {
        let error = verify(&variant, &auth, SECRET, T0).unwrap_err();
        assert_eq!(error.code(), "SignatureDoesNotMatch", "{variant:?}");
    }

    let mut changed = headers.clone();
    changed[0] = ("Host", "iam.amazonaws.co");
    let error = verify(&request(&changed, ""), &auth, SECRET, T0).unwrap_err();
    assert_eq!(error.code(), "SignatureDoesNotMatch");

    let error = verify(&req, &auth, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ", T0).unwrap_err();
    assert_eq!(error.code(), "SignatureDoesNotMatch");
    assert_eq!(
        error.to_string(),
        "The request signature we calculated does not match the signature you provided. \
         Check your AWS Secret Access Key and signing method. \
         Consult the service documentation for details."
    );
}

#[test]
fn unsigned_headers_may_change() {
    let received = signed_at(T0);
    let mut headers = received.header_refs();
    headers.push(("User-Agent", "anything"));
    headers.push(("Content-Length", "35"));
    let req = request(&headers, "");
    let auth = parse_auth(&req).unwrap();
    verify(&req, &auth, SECRET, T0).unwrap();
}

#[test]
fn secrets_never_appear_in_errors() {
    let received = signed_at(T0);
    let headers = received.header_refs();
    let req = request(&headers, "");
    let auth = parse_auth(&req).unwrap();
    let secret = "SECRET-THAT-MUST-NOT-LEAK";
    let error = verify(&req, &auth, secret, T0).unwrap_err();
    let printed = format!("{error} {error:?}");
    assert!(!printed.contains(secret));
    assert!(!printed.contains("AWS4SECRET"));
    let SigV4Error::SignatureDoesNotMatch(details) = &error else {
        panic!("expected a mismatch");
    };
    assert!(format!("{error:?}").contains(&details.canonical_request));
    assert!(!error.to_string().contains("host:"));

    let p = params(T0);
    assert!(!format!("{p:?}").contains(SECRET));
}

#[test]
fn session_token_is_redacted_in_debug() {
    let mut p = params(T0);
    p.session_token = Some("TOKEN-VALUE");
    let base = base_headers();
    let added = sign(&request(&base, ""), &p).unwrap().to_vec();
    let mut headers = base.clone();
    headers.extend(added.iter().map(|(n, v)| (*n, v.as_str())));
    let req = request(&headers, "");
    let auth = parse_auth(&req).unwrap();
    assert_eq!(auth.session_token.as_deref(), Some("TOKEN-VALUE"));
    assert!(!format!("{auth:?}").contains("TOKEN-VALUE"));
    assert!(!format!("{p:?}").contains("TOKEN-VALUE"));
    verify(&req, &auth, SECRET, T0).unwrap();
}

#[test]
fn content_sha256_header_must_match_the_body() {
    let good = sigv4_hash(BODY);
    for (claimed, ok) in [
        (good.as_str(), true),
        (&good.to_uppercase(), true),
        ("UNSIGNED-PAYLOAD", false),
        ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", false),
        ("00", false),
    ] {
        let mut base = base_headers();
        base.push(("X-Amz-Content-SHA256", claimed));
        let added = sign(&request(&base, ""), &params(T0)).unwrap().to_vec();
        let mut headers = base.clone();
        headers.extend(added.iter().map(|(n, v)| (*n, v.as_str())));
        let req = request(&headers, "");
        let auth = parse_auth(&req).unwrap();
        let result = verify(&req, &auth, SECRET, T0);
        match (ok, result) {
            (true, Ok(())) => {}
            (false, Err(SigV4Error::SignatureDoesNotMatch(details))) => {
                assert_eq!(
                    details.reason,
                    MismatchReason::PayloadHashDiffers,
                    "{claimed}"
                );
            }
            (_, other) => panic!("{claimed}: {other:?}"),
        }
    }
}

#[test]
fn unsigned_payload_is_accepted_for_presigned_requests_only() {
    let mut base = base_headers();
    base.push(("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD"));
    let query = presign(&request(&base, ""), &params(T0), 60).unwrap();
    let presigned = HttpRequest {
        body: b"any body at all",
        ..request(&base, &query)
    };
    let auth = parse_auth(&presigned).unwrap();
    assert!(auth
        .signed_headers
        .contains(&"x-amz-content-sha256".to_owned()));
    verify(&presigned, &auth, SECRET, T0).unwrap();
}

fn sigv4_hash(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(data)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[test]
fn host_must_be_signed() {
    let authz = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
                 SignedHeaders=content-type;x-amz-date, Signature=abc";
    let error = with_authorization(authz);
    assert_eq!(error.code(), "IncompleteSignature");
    assert_eq!(
        error.to_string(),
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
    );

    // verify re-checks a hand-built ParsedAuth.
    let received = signed_at(T0);
    let headers = received.header_refs();
    let req = request(&headers, "");
    let mut auth = parse_auth(&req).unwrap();
    auth.signed_headers.retain(|h| h != "host");
    assert_eq!(
        verify(&req, &auth, SECRET, T0).unwrap_err().code(),
        "IncompleteSignature"
    );
}

#[test]
fn missing_authentication() {
    let error = parse_error(&base_headers(), "Action=ListUsers");
    assert_eq!(error.code(), "MissingAuthenticationToken");
    assert_eq!(error.to_string(), "Request is missing Authentication Token");
    assert_eq!(error.http_status(), 403);
    let mut headers = base_headers();
    headers.push(("Authorization", "   "));
    assert_eq!(
        parse_error(&headers, "").code(),
        "MissingAuthenticationToken"
    );
}

#[test]
fn missing_header_parameters_are_all_listed() {
    let error = with_authorization("AWS4-HMAC-SHA256 Foo=bar");
    assert_eq!(error.code(), "IncompleteSignature");
    assert_eq!(
        error.to_string(),
        "Authorization header requires 'Credential' parameter. \
         Authorization header requires 'Signature' parameter. \
         Authorization header requires 'SignedHeaders' parameter. \
         Authorization=AWS4-HMAC-SHA256 Foo=bar"
    );

    let authz = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
                 SignedHeaders=host, Signature=abc";
    let headers = [("Host", "iam.amazonaws.com"), ("Authorization", authz)];
    let error = parse_error(&headers, "");
    assert_eq!(
        error.to_string(),
        format!(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. \
             Authorization={authz}"
        )
    );
}

#[test]
fn date_header_is_used_without_x_amz_date() {
    let received = signed_at(T0);
    let mut headers: Vec<(&str, &str)> = received
        .header_refs()
        .into_iter()
        .filter(|(n, _)| *n != "x-amz-date")
        .collect();
    headers.push(("Date", "Sun, 30 Aug 2015 12:36:00 GMT"));
    let req = request(&headers, "");
    let auth = parse_auth(&req).unwrap();
    assert_eq!(auth.request_time.to_string(), "20150830T123600Z");
    // x-amz-date is a signed header but absent now, so the signature differs;
    // the point is that the Date header supplied the request time.
    assert_eq!(
        verify(&req, &auth, SECRET, T0).unwrap_err().code(),
        "SignatureDoesNotMatch"
    );
}

#[test]
fn credential_scope_errors() {
    let cases = [
        (
            "AKIDEXAMPLE/20150830/us-east-1/iam",
            "IncompleteSignature",
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'AKIDEXAMPLE/20150830/us-east-1/iam'",
        ),
        (
            "AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request/x",
            "IncompleteSignature",
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request/x'",
        ),
        (
            "AKIDEXAMPLE/20150830/us-east-1/iam/aws5_request",
            "SignatureDoesNotMatch",
            "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. ",
        ),
        (
            "AKIDEXAMPLE/20150830/US East/iam/aws4_request",
            "SignatureDoesNotMatch",
            "Credential should be scoped to a valid region, not 'US East'. ",
        ),
        (
            "AKIDEXAMPLE/20150831/us-east-1/iam/aws4_request",
            "SignatureDoesNotMatch",
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20150831' != '20150830', from '20150830T123600Z'.",
        ),
    ];
    for (credential, code, message) in cases {
        let authz = format!(
            "AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host;x-amz-date, Signature=abc"
        );
        let error = with_authorization(&authz);
        assert_eq!(error.code(), code, "{credential}");
        assert_eq!(error.to_string(), message, "{credential}");
    }
}

#[test]
fn region_and_service_checks_for_the_server() {
    let received = signed_at(T0);
    let auth = check(&received, T0).unwrap();
    auth.ensure_region(&["us-east-1", "eu-west-1"]).unwrap();
    auth.ensure_service(&["iam"]).unwrap();
    let error = auth.ensure_region(&["eu-west-1"]).unwrap_err();
    assert_eq!(error.code(), "SignatureDoesNotMatch");
    assert_eq!(
        error.to_string(),
        "Credential should be scoped to a valid region, not 'us-east-1'. "
    );
    let error = auth.ensure_service(&["ses", "email"]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "Credential should be scoped to correct service: 'ses'. "
    );
    assert!(auth.ensure_service(&[]).is_err());
}

#[test]
fn server_side_error_variants() {
    let unknown = SigV4Error::InvalidClientTokenId;
    assert_eq!(unknown.code(), "InvalidClientTokenId");
    assert_eq!(
        unknown.to_string(),
        "The security token included in the request is invalid."
    );
    assert_eq!(unknown.http_status(), 403);
    let expired = SigV4Error::ExpiredToken;
    assert_eq!(expired.code(), "ExpiredToken");
    assert_eq!(
        expired.to_string(),
        "The security token included in the request is expired"
    );
}

#[test]
fn malformed_authorization_headers_are_incomplete_signatures() {
    let credential = "Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request";
    let cases = [
        "AWS4-HMAC-SHA256".to_owned(),
        "AWS4-HMAC-SHA256 ".to_owned(),
        "AWS4-HMAC-SHA256 ,,,,".to_owned(),
        "AWS4-HMAC-SHA256 ===".to_owned(),
        "AWS4-HMAC-SHA512 Credential=a/b/c/d/e, SignedHeaders=host, Signature=x".to_owned(),
        "aws4-hmac-sha256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=x".to_owned(),
        "AWS AKIDEXAMPLE:signature".to_owned(),
        "Bearer token".to_owned(),
        "AWS4-HMAC-SHA256Credential=x".to_owned(),
        format!("AWS4-HMAC-SHA256 {credential}"),
        format!("AWS4-HMAC-SHA256 {credential}, SignedHeaders=host"),
        format!("AWS4-HMAC-SHA256 {credential}, Signature=abc"),
        format!("AWS4-HMAC-SHA256 {credential}, SignedHeaders=, Signature=abc"),
        format!("AWS4-HMAC-SHA256 {credential}, {credential}, SignedHeaders=host, Signature=abc"),
        "AWS4-HMAC-SHA256 Credential=, SignedHeaders=host, Signature=abc".to_owned(),
        "AWS4-HMAC-SHA256 Credential=a//b, SignedHeaders=host, Signature=abc".to_owned(),
        "AWS4-HMAC-SHA256 Credential=AKID, SignedHeaders=host, Signature=abc".to_owned(),
        format!("AWS4-HMAC-SHA256 {credential}, SignedHeaders=;;, Signature=abc"),
        format!("AWS4-HMAC-SHA256 {credential}, SignedHeaders=host;bad:name, Signature=abc"),
        format!("AWS4-HMAC-SHA256 {credential}, SignedHeaders=host;, Signature=abc"),
    ];
    for authz in cases {
        let error = with_authorization(&authz);
        assert_eq!(error.code(), "IncompleteSignature", "{authz:?}: {error}");
    }
}

#[test]
fn well_formed_variants_of_the_authorization_header_parse() {
    let received = signed_at(T0);
    let headers = received.header_refs();
    let authz = headers
        .iter()
        .find(|(n, _)| *n == "authorization")
        .unwrap()
        .1;
    let variants = [
        authz.replace(", ", ","),
        authz.replace(", ", " ,  "),
        format!("  {authz}  "),
        authz.replacen(' ', "\t", 1),
        format!("{authz}, Unknown=ignored"),
    ];
    for variant in variants {
        let mut changed: Vec<(&str, &str)> = headers
            .iter()
            .copied()
            .filter(|(n, _)| *n != "authorization")
            .collect();
        changed.push(("Authorization", &variant));
        let req = request(&changed, "");
        let auth = parse_auth(&req).unwrap_or_else(|e| panic!("{variant:?}: {e}"));
        verify(&req, &auth, SECRET, T0).unwrap_or_else(|e| panic!("{variant:?}: {e}"));
    }
}

#[test]
fn bad_dates_are_rejected() {
    let authz = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
                 SignedHeaders=host;x-amz-date, Signature=abc";
    for (name, value) in [
        ("X-Amz-Date", "2015-08-30T12:36:00Z"),
        ("X-Amz-Date", ""),
        ("X-Amz-Date", "20150830T123600"),
        ("Date", "yesterday"),
    ] {
        let headers = [
            ("Host", "iam.amazonaws.com"),
            (name, value),
            ("Authorization", authz),
        ];
        let error = parse_error(&headers, "");
        assert_eq!(error.code(), "IncompleteSignature", "{name}: {value}");
    }
    let headers = [
        ("Host", "iam.amazonaws.com"),
        ("X-Amz-Date", "20150830T123600Z"),
        ("X-Amz-Date", "20150830T123600Z"),
        ("Authorization", authz),
    ];
    assert_eq!(parse_error(&headers, "").code(), "IncompleteSignature");
}

#[test]
fn malformed_presigned_parameters() {
    let good = presigned_at(T0, 300).query;
    let headers = base_headers();
    let mut cases: Vec<String> = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
    ]
    .iter()
    .map(|name| {
        good.split('&')
            .filter(|pair| !pair.starts_with(&format!("{name}=")))
            .collect::<Vec<_>>()
            .join("&")
    })
    .collect();
    cases.push(good.replace("X-Amz-Expires=300", "X-Amz-Expires=604801"));
    cases.push(good.replace("X-Amz-Expires=300", "X-Amz-Expires=-1"));
    cases.push(good.replace("X-Amz-Expires=300", "X-Amz-Expires=99999999999999999999999"));
    cases.push(good.replace("X-Amz-Expires=300", "X-Amz-Expires="));
    cases.push(good.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1"));
    cases.push(format!("{good}&X-Amz-Signature=00"));
    cases.push(format!("{good}&X-Amz-Date=20150830T123600Z"));
    cases.push(good.replace("X-Amz-Date=20150830T123600Z", "X-Amz-Date=%FF"));
    cases.push(good.replace(
        "X-Amz-SignedHeaders=content-type%3Bhost",
        "X-Amz-SignedHeaders=content-type",
    ));
    cases.push("X-Amz-Signature=abc".to_owned());
    for query in &cases {
        let error = parse_error(&headers, query);
        assert_eq!(error.code(), "IncompleteSignature", "{query}: {error}");
    }

    let mut with_header = base_headers();
    with_header.push(("Authorization", "AWS4-HMAC-SHA256 Credential=x"));
    let error = parse_error(&with_header, &good);
    assert_eq!(error.code(), "IncompleteSignature");
    assert!(error
        .to_string()
        .starts_with("Only one auth mechanism allowed"));
}

#[test]
fn presign_rejects_too_long_expiry_and_requires_host() {
    let base = base_headers();
    assert!(presign(&request(&base, ""), &params(T0), 604_801).is_err());
    presign(&request(&base, ""), &params(T0), 604_800).unwrap();
    let no_host = [("Content-Type", "text/plain")];
    assert!(presign(&request(&no_host, ""), &params(T0), 60).is_err());
    assert!(sign(&request(&no_host, ""), &params(T0)).is_err());
}

#[test]
fn signature_with_wrong_case_or_length_does_not_match() {
    let received = signed_at(T0);
    let headers = received.header_refs();
    let req = request(&headers, "");
    let auth = parse_auth(&req).unwrap();
    for signature in [
        auth.signature.to_uppercase(),
        auth.signature[..63].to_owned(),
        format!("{}0", auth.signature),
        String::new(),
    ] {
        let wrong = ParsedAuth {
            signature,
            ..auth.clone()
        };
        assert_eq!(
            verify(&req, &wrong, SECRET, T0).unwrap_err().code(),
            "SignatureDoesNotMatch"
        );
    }
}
